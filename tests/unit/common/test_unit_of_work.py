"""The unit of work on the in-memory repository: nothing staged is lost, events keep their order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from common.bus import BrokerUnavailable
from common.contracts.base import Event
from common.errors import Conflict, NotFound, Refused
from common.fakes import FakePublisher
from common.repository import RELAY_GRACE, InMemoryRepository, VersionConflict
from common.unit_of_work import UnitOfWork


class Ticked(Event):
    subject = "tests.ticked"
    key = "ticker_id"
    ticker_id: str
    count: int


class TooMany(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Ticker:
    ticker_id: str
    count: int = 0
    note: str = ""
    version: int = 0
    events: list[int] = field(default_factory=list)

    def tick(self) -> None:
        if self.count >= 3:
            raise TooMany(f"ticker {self.ticker_id} is full")
        self.count += 1
        self.events.append(self.count)


class TickerCodec:
    def ident(self, t: Ticker) -> str:
        return t.ticker_id

    def to_document(self, t: Ticker) -> dict:
        return {"ticker_id": t.ticker_id, "count": t.count, "note": t.note}

    def from_document(self, doc: dict) -> Ticker:
        return Ticker(doc["ticker_id"], doc["count"], doc["note"], doc["version"])


def public(t: Ticker) -> list[tuple[Event, str]]:
    return [(Ticked(ticker_id=t.ticker_id, count=n), f"{t.ticker_id}/ticked/{n}") for n in t.events]


@pytest.fixture
def parts():
    repo = InMemoryRepository(TickerCodec(), "tickers")
    publisher = FakePublisher()
    return repo, publisher, UnitOfWork(repo, publisher, public, kind="ticker", refusal=TooMany)


async def test_two_commands_while_the_broker_is_away_publish_both_once_in_order(parts) -> None:
    repo, publisher, uow = parts
    assert await uow.add(Ticker("t1"))
    publisher.away = True
    await uow.act("t1", Ticker.tick)  # command A: saved, its event deferred
    await uow.act("t1", Ticker.tick)  # command B: saved, A's event must still be staged
    assert [e["msg_id"] for e in repo.staged_now("t1").values()] == ["t1/ticked/1", "t1/ticked/2"]
    publisher.away = False
    await uow.act("t1", Ticker.tick)  # the next load publishes the leftovers first, then C's own
    assert publisher.msg_ids == ["t1/ticked/1", "t1/ticked/2", "t1/ticked/3"]
    assert [b["count"] for b in publisher.on("tests.ticked")] == [1, 2, 3]
    assert repo.staged_now("t1") == {}
    assert "outbox_ms" not in repo.documents["t1"]


async def test_the_relay_publishes_what_waits_in_order_once_the_grace_is_over(parts) -> None:
    repo, publisher, uow = parts
    await uow.add(Ticker("t1"))
    await uow.add(Ticker("t2"))
    publisher.away = True
    for ident in ("t1", "t2", "t1"):
        await uow.act(ident, Ticker.tick)
    publisher.away = False
    assert await uow.relay() == 0  # within the grace the saves' own publish has the first go
    assert await uow.relay(now=datetime.now(UTC) + RELAY_GRACE + timedelta(seconds=1)) == 3
    assert publisher.msg_ids == ["t1/ticked/1", "t1/ticked/2", "t2/ticked/1"]
    assert await uow.relay(now=datetime.now(UTC) + RELAY_GRACE + timedelta(seconds=1)) == 0


async def test_a_publish_that_fails_midway_keeps_the_rest_and_sends_nothing_out_of_order(parts) -> None:
    repo, publisher, uow = parts
    await uow.add(Ticker("t1"))
    publisher.away = True
    await uow.act("t1", Ticker.tick)
    await uow.act("t1", Ticker.tick)
    calls = 0
    real = publisher.publish_raw

    async def first_only(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ConnectionError("broker went away again")
        await real(*args, **kwargs)

    publisher.away = False
    publisher.publish_raw = first_only
    await uow.get("t1")
    assert publisher.msg_ids == ["t1/ticked/1"]
    assert [e["msg_id"] for e in repo.staged_now("t1").values()] == ["t1/ticked/2"]
    assert "outbox_ms" in repo.documents["t1"]  # the relay still looks at it
    publisher.publish_raw = real
    await uow.get("t1")
    assert publisher.msg_ids == ["t1/ticked/1", "t1/ticked/2"]
    assert repo.staged_now("t1") == {}


async def test_refusals_missing_aggregates_and_no_change(parts) -> None:
    repo, publisher, uow = parts
    with pytest.raises(NotFound, match="ticker 'nope' not found"):
        await uow.act("nope", Ticker.tick)
    await uow.add(Ticker("t1", count=3))
    with pytest.raises(Refused, match="ticker t1 is full"):
        await uow.act("t1", Ticker.tick)
    assert repo.documents["t1"]["version"] == 1
    await uow.act("t1", lambda t: None)  # nothing changed: nothing saved
    assert repo.documents["t1"]["version"] == 1
    await uow.act("t1", lambda t: setattr(t, "note", "seen"))  # a change without an event is saved too
    assert repo.documents["t1"]["version"] == 2 and publisher.published == []
    assert not await uow.add(Ticker("t1"))  # the same id again: nothing done


async def test_a_version_conflict_is_decided_again_and_gives_up_after_three_tries(parts) -> None:
    repo, publisher, uow = parts
    await uow.add(Ticker("t1"))
    real_save = repo.save
    conflicts = 0

    async def racing_save(stored, events):
        nonlocal conflicts
        if conflicts < 2:
            conflicts += 1
            raise VersionConflict("t1")
        return await real_save(stored, events)

    repo.save = racing_save
    ticker = await uow.act("t1", Ticker.tick)
    assert ticker.count == 1 and repo.documents["t1"]["count"] == 1 and conflicts == 2

    async def always(stored, events):
        raise VersionConflict("t1")

    repo.save = always
    with pytest.raises(Conflict, match="being changed by someone else"):
        await uow.act("t1", Ticker.tick)


async def test_insert_stages_nothing_and_tell_publishes_what_was_recorded_once(parts) -> None:
    # the named exception: a new aggregate told from its state, its message's redelivery being its outbox
    repo, publisher, uow = parts
    ticker = Ticker("t9")
    ticker.tick()
    await uow.insert(ticker)
    assert repo.staged_now("t9") == {} and publisher.msg_ids == []
    await uow.tell(ticker)
    assert publisher.msg_ids == ["t9/ticked/1"] and ticker.events == []
    await uow.tell(ticker)  # told: nothing recorded is left to tell
    assert publisher.msg_ids == ["t9/ticked/1"]
    with pytest.raises(VersionConflict):
        await uow.insert(Ticker("t9"))  # a duplicate, or the redelivery: the stored one stands
    publisher.away = True
    ticker.tick()
    with pytest.raises(BrokerUnavailable):  # to the caller: its message is redelivered
        await uow.tell(ticker)
    assert ticker.events == [2]  # still recorded: a later tell sends it


async def test_a_timer_outside_any_trace_resumes_the_trace_its_aggregate_kept_and_a_traced_call_keeps_its_own(
    parts,
) -> None:
    from common import tracing

    tracing.configure("unit")
    repo, publisher, uow = parts
    kept_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert await uow.add(Ticker("t9", note=f"00-{kept_trace}-00f067aa0ba902b7-01"))  # the note stands for it
    publisher.away = True  # the entries stay staged, each with the trace context it was staged in
    assert not tracing.in_trace()
    await uow.act("t9", Ticker.tick, resume=lambda t: t.note)  # a timer: the kept trace goes on
    with tracing.consuming({}, "tests.other", "c", "m1") as span:  # a message of its own: its trace
        await uow.act("t9", Ticker.tick, resume=lambda t: t.note)
    staged = {e["msg_id"]: e["traceparent"].split("-")[1] for e in repo.staged_now("t9").values()}
    own = format(span.get_span_context().trace_id, "032x")
    assert staged == {"t9/ticked/1": kept_trace, "t9/ticked/2": own} and own != kept_trace
