"""The key the follow-up gauge counts: written by the store's codec while the follow-up is not done (open or
overdue), and recomputed for follow-ups stored before it."""

from __future__ import annotations

from datetime import timedelta

from common import gauges
from common.timefmt import epoch_ms
from rating.adapters.store import FOLLOWUPS, UNDONE_SINCE_MS, followup_gauge_key
from tests.unit.common.test_gauges import _matches
from tests.unit.rating.test_records import CLOSED, H, followup

SECOND = timedelta(seconds=1)


def _counted(f) -> bool:
    return _matches(FOLLOWUPS.to_document(f), gauges.holding(UNDONE_SINCE_MS))


def test_a_followup_is_counted_from_its_opening_while_open_and_overdue_and_not_once_done() -> None:
    f = followup()
    assert FOLLOWUPS.to_document(f)[UNDONE_SINCE_MS] == epoch_ms(CLOSED) and _counted(f)
    f.check_deadline(CLOSED + 72 * H + SECOND)
    assert f.state == "overdue" and _counted(f)
    f.complete(now=CLOSED + 80 * H, actor="leader", findings="民警态度生硬", actions="批评教育，向群众道歉")
    assert f.state == "done" and not _counted(f) and UNDONE_SINCE_MS not in FOLLOWUPS.to_document(f)


def test_a_followup_done_in_time_leaves_the_count() -> None:
    f = followup()
    f.complete(now=CLOSED + 72 * H, actor="leader", findings="已核实", actions="已回访")
    assert not _counted(f)


def test_a_followup_stored_before_the_key_gets_the_one_its_next_save_would_write() -> None:
    f = followup()
    f.check_deadline(CLOSED + 73 * H)
    stored = {k: v for k, v in FOLLOWUPS.to_document(f).items() if k != UNDONE_SINCE_MS}
    assert followup_gauge_key({**stored, "_id": f.followup_id, "version": 2}) == {UNDONE_SINCE_MS: epoch_ms(CLOSED)}
    f.complete(now=CLOSED + 74 * H, actor="leader", findings="已核实", actions="已回访")
    assert followup_gauge_key({**FOLLOWUPS.to_document(f), "_id": f.followup_id, "version": 3}) == {}
