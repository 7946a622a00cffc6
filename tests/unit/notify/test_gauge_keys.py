"""The keys the callback gauges count: written by the store's codec from the callback's state, held only while
the callback belongs in the count, and recomputed for callbacks stored before them."""

from __future__ import annotations

from datetime import datetime, timedelta

from common import gauges
from common.timefmt import epoch_ms
from notify.adapters.store import (
    MANUAL_SINCE_MS,
    OPEN_DUE_MS,
    OPEN_OBJECTION_MS,
    CallbackCodec,
    gauge_keys,
    overdue,
)
from tests.unit.common.test_gauges import _matches
from tests.unit.notify.station_time import SH

DUE = datetime(2026, 11, 28, 0, 0, tzinfo=SH)
CODEC = CallbackCodec()
SECOND = timedelta(seconds=1)


def test_a_manual_callback_holds_when_it_became_manual_until_it_moves_on(make_callback) -> None:
    no_phone = make_callback(phone=None, due_at=DUE)  # manual at once: nobody to text
    assert no_phone.state == "manual"
    assert CODEC.to_document(no_phone)[MANUAL_SINCE_MS] == epoch_ms(no_phone.manual_at)
    assert _matches(CODEC.to_document(no_phone), gauges.holding(MANUAL_SINCE_MS))

    texted = make_callback(due_at=DUE)
    assert texted.state == "scheduled" and MANUAL_SINCE_MS not in CODEC.to_document(texted)

    no_phone.check_deadlines(DUE - SECOND)  # a second before the deadline: still manual
    assert no_phone.state == "manual" and MANUAL_SINCE_MS in CODEC.to_document(no_phone)
    no_phone.check_deadlines(DUE)  # at the deadline: overdue, no longer counted manual
    assert no_phone.state == "overdue" and MANUAL_SINCE_MS not in CODEC.to_document(no_phone)


def test_a_manual_callback_done_leaves_the_manual_and_open_keys(make_callback) -> None:
    callback = make_callback(phone=None, due_at=DUE)
    callback.complete(now=DUE - timedelta(hours=2), channel="phone", reached=True, completed_by="P1001",
                      level="satisfied", objection_within=timedelta(days=3))
    doc = CODEC.to_document(callback)
    assert callback.state == "done" and not {MANUAL_SINCE_MS, OPEN_DUE_MS, OPEN_OBJECTION_MS} & doc.keys()


def test_overdue_counts_open_callbacks_from_their_deadline_flagged_or_not(make_callback) -> None:
    callback = make_callback(phone=None, due_at=DUE)
    doc = CODEC.to_document(callback)  # manual, not yet flagged by the sweep
    assert [_matches(doc, overdue(now)) for now in (DUE - SECOND, DUE, DUE + SECOND)] == [False, True, True]
    callback.check_deadlines(DUE)
    assert _matches(CODEC.to_document(callback), overdue(DUE))
    callback.complete(now=DUE + SECOND, channel="visit", reached=True, completed_by="P1001", level="satisfied",
                      objection_within=timedelta(days=3))  # done late: no longer open, no longer counted
    assert not _matches(CODEC.to_document(callback), overdue(DUE + SECOND))


def test_a_callback_stored_before_the_keys_gets_those_its_next_save_would_write(make_callback) -> None:
    callback = make_callback(phone=None, due_at=DUE)
    stored = {k: v for k, v in CODEC.to_document(callback).items() if k not in (MANUAL_SINCE_MS, OPEN_DUE_MS)}
    stored.update(_id=callback.callback_id, version=3, outbox={})
    assert gauge_keys(stored) == {OPEN_DUE_MS: epoch_ms(DUE), MANUAL_SINCE_MS: epoch_ms(callback.manual_at)}
    callback.complete(now=DUE - SECOND, channel="phone", reached=True, completed_by="P1001", level="satisfied",
                      objection_within=timedelta(days=3))
    assert gauge_keys({**CODEC.to_document(callback), "_id": callback.callback_id, "version": 4}) == {}
