from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from notify.domain import UNASSIGNED, CallbackFigures, weekly_figures
from tests.unit.notify.station_time import SH, sh


def test_in_time_late_and_overdue_per_officer_and_unit(make_callback):
    in_time = make_callback(party_id="p1")
    in_time.complete(now=sh(2026, 11, 23, 0, 0), channel="phone", reached=True, completed_by="P1001")  # Monday 00:00
    late = make_callback(party_id="p2")
    late.check_deadlines(sh(2026, 11, 28, 0, 0))  # Saturday: overdue
    late.complete(now=sh(2026, 11, 29, 23, 59, 59), channel="visit", reached=True, completed_by="P1001")  # Sunday
    overdue = make_callback(party_id="p3", officer_id="P1002", unit_id="G2")
    overdue.check_deadlines(sh(2026, 11, 28, 12, 0))
    outside = make_callback(party_id="p4", officer_id="P1002", unit_id="G2")
    outside.complete(now=sh(2026, 11, 22, 23, 59, 59), channel="sms", reached=True, completed_by="P1002")  # W47
    after = make_callback(party_id="p5", officer_id="P1002")
    after.complete(now=sh(2026, 11, 30, 0, 0), channel="sms", reached=True, completed_by="P1002")  # W49, late
    nobody = make_callback(party_id="p6", officer_id=None, unit_id=None)
    nobody.check_deadlines(sh(2026, 11, 28, 0, 0))
    open_one = make_callback(party_id="p7")
    callbacks = [in_time, late, overdue, outside, after, nobody, open_one]

    assert weekly_figures(callbacks, "2026-W48", by="officer", zone=SH) == [
        CallbackFigures("(unassigned)", 0, 0, 1),
        CallbackFigures("P1001", done_in_time=1, done_late=1, overdue=1),
        CallbackFigures("P1002", 0, 0, 1),
    ]
    assert weekly_figures(callbacks, "2026-W48", by="unit", zone=SH) == [
        CallbackFigures(UNASSIGNED, 0, 0, 1),
        CallbackFigures("G1", 1, 1, 1),
        CallbackFigures("G2", 0, 0, 1),
    ]
    assert weekly_figures(callbacks, "2026-W47", by="unit", zone=SH) == [CallbackFigures("G2", 1, 0, 0)]
    assert weekly_figures(callbacks, "2026-W49", by="officer", zone=SH) == [CallbackFigures("P1002", 0, 1, 0)]


def test_week_53_of_2026(make_callback):
    start = sh(2026, 12, 28, 0, 0)  # Monday of 2026-W53
    early = make_callback(start_at=start, party_id="p1")
    early.complete(now=start, channel="phone", reached=True, completed_by="P1001")
    last = make_callback(start_at=start, party_id="p2")
    last.complete(now=sh(2027, 1, 3, 23, 59, 59), channel="phone", reached=True, completed_by="P1001")
    assert weekly_figures([early, last], "2026-W53", by="officer", zone=SH) == [CallbackFigures("P1001", 2, 0, 0)]
    assert weekly_figures([early, last], "2027-W01", by="officer", zone=SH) == []


def test_the_week_is_the_station_local_week(make_callback):
    callback = make_callback()
    # Sunday 2026-11-22 16:30 UTC is Monday 00:30 in Shanghai: week 48 there, week 47 in UTC
    callback.complete(now=sh(2026, 11, 23, 0, 30), channel="phone", reached=True, completed_by="P1001")
    assert weekly_figures([callback], "2026-W48", by="unit", zone=SH) == [CallbackFigures("G1", 1, 0, 0)]
    assert weekly_figures([callback], "2026-W47", by="unit", zone=ZoneInfo("UTC")) == [CallbackFigures("G1", 1, 0, 0)]


def test_empty_input_and_bad_arguments(make_callback):
    assert weekly_figures([], "2026-W48", by="unit") == []
    with pytest.raises(ValueError, match="by unit or officer"):
        weekly_figures([], "2026-W48", by="station")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2026-W48"):
        weekly_figures([], "2026-48", by="unit")


def test_a_superseded_callback_counts_only_its_miss(make_callback):
    missed = make_callback(party_id="p1")
    missed.check_deadlines(sh(2026, 11, 28, 0, 0))
    missed.supersede(now=sh(2026, 11, 28, 9, 0), superseded_by="cb-x")
    clean = make_callback(party_id="p2")
    clean.supersede(now=sh(2026, 11, 24, 9, 0), superseded_by="cb-y")
    assert weekly_figures([missed, clean], "2026-W48", by="unit", zone=SH) == [CallbackFigures("G1", 0, 0, 1)]
