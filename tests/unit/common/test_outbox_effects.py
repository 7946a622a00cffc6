"""Local side effects in the outbox: staged with the save that causes them, applied after it, once, in order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import AutoReconnect

from common.fakes import FakePublisher
from common.outbox import Effect
from common.repository import RELAY_GRACE, InMemoryRepository, all_staged
from common.unit_of_work import UnitOfWork
from tests.unit.common.test_unit_of_work import Ticker, TickerCodec, TooMany, public

LATER = timedelta(seconds=1) + RELAY_GRACE


class Tally:
    """A local store the effects add to, at most once per msg id; can be made away."""

    def __init__(self) -> None:
        self.total, self.seen, self.away = 0, set[str](), False

    async def add(self, msg_id: str, data: str) -> None:
        if self.away:
            raise AutoReconnect("the tally's store is away")
        if msg_id not in self.seen:
            self.seen.add(msg_id)
            self.total += json.loads(data)["n"]


def events_and_tally(t: Ticker) -> list:
    tally = [(Effect("tally", json.dumps({"n": n})), f"{t.ticker_id}/tally/{n}") for n in t.events]
    return [*public(t), *tally]


@pytest.fixture
def parts():
    repo = InMemoryRepository(TickerCodec(), "tickers")
    publisher, tally = FakePublisher(), Tally()
    uow = UnitOfWork(repo, publisher, events_and_tally, kind="ticker", refusal=TooMany, effects={"tally": tally.add})
    return repo, publisher, tally, uow


async def test_an_effect_is_applied_after_its_save_and_never_reaches_the_broker(parts) -> None:
    repo, publisher, tally, uow = parts
    await uow.add(Ticker("t1"))
    await uow.act("t1", Ticker.tick)
    await uow.act("t1", Ticker.tick)
    assert tally.total == 3 and publisher.msg_ids == ["t1/ticked/1", "t1/ticked/2"]
    assert repo.staged_now("t1") == {} and "outbox_ms" not in repo.documents["t1"]


async def test_an_effect_whose_store_is_away_waits_staged_for_the_next_load_or_the_relay(parts) -> None:
    repo, publisher, tally, uow = parts
    await uow.add(Ticker("t1"))
    tally.away = True
    await uow.act("t1", Ticker.tick)  # saved and published; its effect stays staged
    assert [e["subject"] for e in repo.staged_now("t1").values()] == ["local:tally"]
    assert (tally.total, publisher.msg_ids) == (0, ["t1/ticked/1"])
    tally.away = False
    assert await uow.relay(now=datetime.now(UTC) + LATER) == 1
    assert tally.total == 1 and repo.staged_now("t1") == {}
    await uow.get("t1")
    assert await uow.relay(now=datetime.now(UTC) + LATER) == 0
    assert tally.total == 1


async def test_an_effect_staged_twice_by_a_crash_and_a_relay_counts_once(parts) -> None:
    repo, publisher, tally, uow = parts
    await uow.add(Ticker("t1"))
    await uow.act("t1", Ticker.tick)
    await tally.add("t1/tally/1", json.dumps({"n": 1}))  # a replica's relay applying it again
    assert tally.total == 1


async def test_an_effect_nobody_handles_is_a_mistake_said_at_once() -> None:
    repo = InMemoryRepository(TickerCodec(), "tickers")
    uow = UnitOfWork(repo, FakePublisher(), events_and_tally, kind="ticker", refusal=TooMany)
    await uow.add(Ticker("t1"))
    with pytest.raises(LookupError, match="no handler for the staged effect 'local:tally'"):
        await uow.act("t1", Ticker.tick)


async def test_an_insert_stages_only_its_effects_which_publish_applies_after_the_telling(parts) -> None:
    repo, publisher, tally, uow = parts
    ticker = Ticker("t1")
    stored = await uow.insert(ticker, [(Effect("tally", json.dumps({"n": 5})), "t1/tally/inserted")])
    assert [e["subject"] for e in repo.staged_now("t1").values()] == ["local:tally"]
    assert stored.aggregate.version == 1 and tally.total == 0 and publisher.msg_ids == []
    await uow.publish("t1", stored)
    assert tally.total == 5 and repo.staged_now("t1") == {} and "outbox_ms" not in repo.documents["t1"]
    assert await repo.outboxes(10) == []


async def test_outboxes_are_those_holding_something_now(parts) -> None:
    repo, publisher, tally, uow = parts
    await uow.insert(Ticker("t1"), [(Effect("tally", json.dumps({"n": 1})), "t1/tally/a")])
    await uow.insert(Ticker("t2"))
    [outbox] = await repo.outboxes(10)
    assert [e["msg_id"] for e in outbox.values()] == ["t1/tally/a"]


async def test_all_staged_reads_up_to_its_limit_and_says_none_beyond(parts) -> None:
    repo, publisher, tally, uow = parts
    other = InMemoryRepository(TickerCodec(), "others")
    for i in range(3):
        await uow.insert(Ticker(f"t{i}"), [(Effect("tally", json.dumps({"n": 1})), f"t{i}/tally")])
    await other.add(Ticker("o1"), [(Effect("tally", json.dumps({"n": 1})), "o1/tally")])
    assert len(await all_staged([repo, other], limit=4)) == 4  # the last one fits
    assert await all_staged([repo, other], limit=3) is None  # one more than the limit: an outage, wait
    assert await all_staged([], limit=0) == []


async def test_deferred_effects_are_applied_together_by_the_job_and_unstaged(parts) -> None:
    repo, publisher, tally, uow = parts
    for i in range(5):
        stored = await uow.insert(Ticker(f"t{i}"), [(Effect("tally", json.dumps({"n": i + 1})), f"t{i}/tally")])
        uow.defer(f"t{i}", stored)
    assert tally.total == 0 and len(await repo.outboxes(10)) == 5  # staged until the job runs
    assert await uow.publish_deferred() == 5
    assert tally.total == 15 and publisher.msg_ids == []
    assert await repo.outboxes(10) == [] and all("outbox_ms" not in d for d in repo.documents.values())
    assert await uow.publish_deferred() == 0  # nothing held any more


async def test_a_deferred_effect_applied_meanwhile_by_a_load_or_the_relay_counts_once(parts) -> None:
    repo, publisher, tally, uow = parts
    for ident in ("t1", "t2"):
        uow.defer(ident, await uow.insert(Ticker(ident), [(Effect("tally", json.dumps({"n": 1})), f"{ident}/tally")]))
    await uow.get("t1")  # a load on the way applies it
    assert await uow.relay(now=datetime.now(UTC) + LATER) == 1  # a crash lost the hold: the relay applies t2's
    assert tally.total == 2
    assert await uow.publish_deferred() == 2  # then the job, with what it held: nothing twice
    assert tally.total == 2 and await repo.outboxes(10) == []


async def test_a_deferred_effect_whose_store_is_away_stays_staged_for_the_relay(parts) -> None:
    repo, publisher, tally, uow = parts
    uow.defer("t1", await uow.insert(Ticker("t1"), [(Effect("tally", json.dumps({"n": 4})), "t1/tally")]))
    tally.away = True
    assert await uow.publish_deferred() == 1
    assert [e["subject"] for e in repo.staged_now("t1").values()] == ["local:tally"] and tally.total == 0
    assert await uow.publish_deferred() == 0  # no longer held: the relay's now
    tally.away = False
    assert await uow.relay(now=datetime.now(UTC) + LATER) == 1
    assert tally.total == 4 and repo.staged_now("t1") == {}


async def test_a_mistake_of_a_deferred_effects_handler_is_said_at_once(parts) -> None:
    repo, publisher, tally, uow = parts
    uow.defer("t1", await uow.insert(Ticker("t1"), [(Effect("tally", "not json"), "t1/tally")]))
    with pytest.raises(json.JSONDecodeError):
        await uow.publish_deferred()
    assert [e["subject"] for e in repo.staged_now("t1").values()] == ["local:tally"]


async def test_a_deferred_unstaging_the_store_refused_is_left_to_the_relay_not_raised(parts) -> None:
    repo, publisher, tally, uow = parts
    uow.defer("t1", await uow.insert(Ticker("t1"), [(Effect("tally", json.dumps({"n": 4})), "t1/tally")]))
    unstage = repo.unstage

    async def away(*args, **kwargs):
        raise AutoReconnect("the store is away")

    repo.unstage = away
    assert await uow.publish_deferred() == 1  # applied, its unstaging refused: logged, still staged
    assert tally.total == 4 and [e["subject"] for e in repo.staged_now("t1").values()] == ["local:tally"]
    repo.unstage = unstage
    assert await uow.relay(now=datetime.now(UTC) + LATER) == 1
    assert tally.total == 4 and repo.staged_now("t1") == {}
