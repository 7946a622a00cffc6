"""The aggregate base: history entries, the "allowed when" refusal, its fields after a subclass's own."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import ClassVar

import pytest

from common.domain import Aggregate, DomainEvent, HistoryEntry, Refusal

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


class LampRefused(Refusal):
    pass


@dataclass(frozen=True)
class LampLit(DomainEvent):
    lamp_id: str
    at: datetime


@dataclass(eq=False)
class Lamp(Aggregate):
    refusal: ClassVar[type[Refusal]] = LampRefused
    all_states: ClassVar[tuple[str, ...]] = ("off", "on", "broken")

    lamp_id: str
    state: str = "off"

    @property
    def ident(self) -> str:
        return self.lamp_id

    def light(self, *, now: datetime, actor: str) -> None:
        self._allow("light", now, {"off"})
        self.state = "on"
        self._record(now=now, actor=actor, action="light", from_state="off", note="by hand")
        self.events.append(LampLit(self.lamp_id, now))


@dataclass(eq=False)
class Gate(Lamp):
    level: str = "low"

    def _level(self) -> str:
        return self.level


def test_a_command_records_history_and_events() -> None:
    lamp = Lamp("L1")
    lamp.light(now=NOW, actor="P1")
    assert lamp.history == [HistoryEntry(NOW, "P1", "light", "off", "on", "by hand")]
    assert lamp.events == [LampLit("L1", NOW)]
    assert lamp.version == 0


def test_the_refusal_names_the_aggregate_its_state_and_the_allowed_states_in_order() -> None:
    lamp = Lamp("L1", state="broken")
    with pytest.raises(LampRefused) as refused:
        lamp.light(now=NOW, actor="P1")
    assert refused.value.reason == "cannot light lamp L1: it is broken (allowed when off)"
    assert (lamp.history, lamp.events) == ([], [])


def test_a_naive_time_is_refused_before_anything_changes() -> None:
    lamp = Lamp("L1")
    with pytest.raises(ValueError, match="timezone-aware"):
        lamp.light(now=NOW.replace(tzinfo=None), actor="P1")
    assert lamp.state == "off"


def test_an_aggregate_that_climbs_gates_notes_its_level() -> None:
    gate = Gate("G1", level="high")
    gate.light(now=NOW, actor="P1")
    assert gate.history[0].level == "high"


def test_the_base_fields_are_keyword_only_and_leave_the_subclass_order_alone() -> None:
    names = [f.name for f in fields(Gate)]
    assert names == ["history", "version", "events", "lamp_id", "state", "level"]
    gate = Gate("G1", "on", "mid", version=4)
    assert (gate.lamp_id, gate.state, gate.level, gate.version) == ("G1", "on", "mid", 4)
    with pytest.raises(TypeError):
        Gate("G1", "on", "mid", [], 4)  # type: ignore[misc]
