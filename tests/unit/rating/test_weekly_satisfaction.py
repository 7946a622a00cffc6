"""Rating tells the station's weekly satisfaction (ratings.weekly_satisfaction) when it changed: the
figure dispatch's 两降一升 panel shows, without reading rating's store."""

from __future__ import annotations

from datetime import timedelta

from common.clock import FakeClock
from common.contracts.ratings import WeeklySatisfaction
from common.fakes import FakePublisher
from rating import handlers
from rating.handlers import Evaluation, RatingEntry
from rating.satisfaction import SatisfactionTeller


async def _rate(m: Evaluation, subject_id: str, level: str, **at) -> None:
    entry = RatingEntry(channel="phone", level=level, subject_type="alert", subject_id=subject_id,
                        officer_id="P1001", unit_id="G1", entered_by="P9", **at)
    await handlers.record_rating(m, entry)


async def test_the_week_is_told_when_it_changed_and_only_then(m: Evaluation, publisher: FakePublisher,
                                                              clock: FakeClock) -> None:
    teller = SatisfactionTeller(m)
    assert await teller.tick() == 0  # nothing rated: nothing told
    await _rate(m, "110-1", "satisfied")
    await _rate(m, "110-2", "basically")
    await _rate(m, "110-3", "dissatisfied")
    assert await teller.tick() == 1
    (told,) = publisher.on("ratings.weekly_satisfaction")
    assert WeeklySatisfaction.model_validate(told).model_dump(mode="json") == {
        "schema_version": 1, "week": "2026-W48", "station_id": "FT", "satisfied": 1, "basically": 1,
        "dissatisfied": 1, "rated": 3, "excluded": 0, "satisfaction_rate": 2 / 3, "strict_rate": 1 / 3,
        "as_of": "2026-11-23T00:00:00Z",
    }
    assert publisher.msg_ids[-1] == "2026-W48/satisfaction/1-1-1-0"
    assert await teller.tick() == 0  # unchanged: not told again
    await _rate(m, "110-4", "satisfied")
    assert await teller.tick() == 1
    assert publisher.on("ratings.weekly_satisfaction")[-1]["satisfied"] == 2


async def test_this_week_and_the_two_before_are_told_not_older(m: Evaluation, publisher: FakePublisher,
                                                                clock: FakeClock) -> None:
    for weeks_ago in range(4):
        await _rate(m, f"110-{weeks_ago}", "satisfied", at=clock.now() - timedelta(weeks=weeks_ago))
    assert await SatisfactionTeller(m).tick() == 3
    assert [e["week"] for e in publisher.on("ratings.weekly_satisfaction")] == ["2026-W48", "2026-W47", "2026-W46"]


async def test_a_restarted_replica_tells_again_with_the_same_msg_id(m: Evaluation, publisher: FakePublisher) -> None:
    await _rate(m, "110-1", "satisfied")
    assert await SatisfactionTeller(m).tick() == 1
    assert await SatisfactionTeller(m).tick() == 1  # a new replica knows nothing told: it tells the same msg id
    assert [e.msg_id for e in publisher.published if e.subject == "ratings.weekly_satisfaction"] == [
        "2026-W48/satisfaction/1-0-0-0"]  # which the broker (here its fake) drops
