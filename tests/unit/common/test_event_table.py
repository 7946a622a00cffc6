"""The one function that reads a service's events table: rows, several rows, INSIDE, msg ids, a missing row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import pytest

from common.contracts.base import Event
from common.domain import Aggregate, DomainEvent
from common.event_table import INSIDE, EventTable, Row, by_key, once, public_events

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


class Rung(Event):
    subject: ClassVar[str] = "tests.bell.rung"
    bell_id: str
    times: int


class Heard(Event):
    subject: ClassVar[str] = "tests.bell.heard"
    key: ClassVar[str] = "heard_id"
    heard_id: str
    by: str


@dataclass(frozen=True)
class BellRung(DomainEvent):
    bell_id: str
    times: int


@dataclass(frozen=True)
class BellOiled(DomainEvent):
    bell_id: str


@dataclass(frozen=True)
class BellCracked(DomainEvent):
    bell_id: str


@dataclass(eq=False)
class Bell(Aggregate):
    bell_id: str
    state: str = "hanging"

    @property
    def ident(self) -> str:
        return self.bell_id


def _heard(listener: str, bell: Bell, event: BellRung) -> Event:
    return Heard(heard_id=f"{bell.bell_id}-{event.times}", by=listener)


TABLE: EventTable[str] = {
    BellRung: (Row(Rung), Row(Heard, _heard, by_key)),
    BellOiled: INSIDE,
}


def bell_with(*events: DomainEvent, history: int = 2) -> Bell:
    bell = Bell("B1")
    bell.history.extend([None] * history)  # type: ignore[list-item]  # only its length counts here
    bell.events.extend(events)
    return bell


def test_each_event_becomes_its_rows_in_order_with_deterministic_msg_ids() -> None:
    staged = public_events(TABLE, "P1", bell_with(BellRung("B1", 3), BellOiled("B1"), BellRung("B1", 4)))
    assert staged == [
        (Rung(bell_id="B1", times=3), "B1/bell.rung/2"),  # per command: id, subject after its first part, history
        (Heard(heard_id="B1-3", by="P1"), "B1-3"),  # by key: the contract's own id
        (Rung(bell_id="B1", times=4), "B1/bell.rung/2"),
        (Heard(heard_id="B1-4", by="P1"), "B1-4"),
    ]


def test_an_event_recorded_once_in_a_life_has_a_msg_id_without_a_step() -> None:
    table: EventTable[None] = {BellRung: Row(Rung, msg_id=once("rung")), BellOiled: Row(Rung, msg_id=once())}
    assert [m for _, m in public_events(table, None, bell_with(BellRung("B1", 1)))] == ["B1/rung"]
    oiled = Row(Rung, lambda _c, b, e: Rung(bell_id=b.bell_id, times=0), once())
    assert oiled.stage(None, bell_with(), BellOiled("B1"))[1] == "B1/bell.rung"


def test_an_event_without_a_row_is_a_mistake_said_at_once() -> None:
    with pytest.raises(LookupError, match="BellCracked has no row in the service's events table"):
        public_events(TABLE, "P1", bell_with(BellCracked("B1")))


def test_a_row_that_builds_another_contract_is_refused() -> None:
    wrong: EventTable[str] = {BellRung: Row(Heard, lambda _c, b, e: Rung(bell_id=b.bell_id, times=e.times))}
    with pytest.raises(TypeError, match="built a Rung, not a Heard"):
        public_events(wrong, "P1", bell_with(BellRung("B1", 1)))


def test_nothing_recorded_nothing_staged() -> None:
    assert public_events(TABLE, "P1", bell_with()) == []
