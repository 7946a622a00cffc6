"""The console's pure shaping of API answers: queue order, map window, dispute board and deadlines, charts."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from console import views

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 2, 18, 0, tzinfo=ZONE)


def _alert(alert_id: str, state: str, priority: int, minutes_ago: float) -> dict:
    return {"alert_id": alert_id, "state": state, "priority": priority,
            "received_at": (NOW - timedelta(minutes=minutes_ago)).isoformat()}


def test_the_queue_is_the_waiting_alerts_urgent_first_then_the_oldest() -> None:
    alerts = [_alert("a", "assigned", 2, 10), _alert("b", "unassigned", 1, 1), _alert("c", "received", 2, 30),
              _alert("d", "acknowledged", 1, 50), _alert("e", "closed", 1, 60), _alert("f", "unassigned", 1, 5)]
    assert [a["alert_id"] for a in views.queue_order(alerts)] == ["f", "b", "c", "a"]


def test_an_alert_listed_twice_is_queued_once_as_last_read() -> None:
    first, again = _alert("a", "received", 2, 3), _alert("a", "assigned", 2, 3)
    assert views.queue_order([first, again]) == [again]


def test_the_map_holds_alerts_received_within_the_window_edge_included() -> None:
    alerts = [_alert("in", "closed", 2, 12 * 60), _alert("out", "closed", 2, 12 * 60 + 0.02),
              {"alert_id": "no-time", "state": "received"}]
    assert [a["alert_id"] for a in views.recent(alerts, NOW, 12)] == ["in"]


def test_tonight_is_the_end_of_the_station_day() -> None:
    late = datetime(2026, 12, 2, 15, 59, 59, tzinfo=ZoneInfo("UTC"))  # 23:59:59 in the station
    assert views.end_of_day(late, ZONE) == datetime(2026, 12, 3, tzinfo=ZONE)
    assert views.end_of_day(late + timedelta(seconds=1), ZONE) == datetime(2026, 12, 4, tzinfo=ZONE)


def _dispute(dispute_id: str, level: str, state: str = "reported", **more) -> dict:
    return {"dispute_id": dispute_id, "level": level, "state": state, **more}


def test_the_board_has_every_level_and_puts_overdue_first() -> None:
    columns = views.board([
        _dispute("x", "village", next_due_at="2026-12-02T10:00:00+08:00"),
        _dispute("y", "village", overdue=True, next_due_at="2026-12-03T10:00:00+08:00"),
        _dispute("z", "town", "resolved"),
        _dispute("w", "nowhere")])
    assert list(columns) == list(views.LEVELS)
    assert [d["dispute_id"] for d in columns["village"]] == ["y", "x"] and columns["town"] == []


def test_the_board_of_one_state_shows_only_it() -> None:
    columns = views.board([_dispute("x", "town", "resolved"), _dispute("y", "town")], ("resolved",))
    assert [d["dispute_id"] for d in columns["town"]] == ["x"]


def test_deadlines_before_tonight_late_first_and_none_after() -> None:
    disputes = [
        _dispute("soon", "community", first_contact_due_at="2026-12-02T22:00:00+08:00", first_contact_at=None),
        _dispute("late", "community", first_contact_due_at="2026-12-02T17:00:00+08:00", first_contact_at=None),
        _dispute("tomorrow", "community", first_contact_due_at="2026-12-03T00:00:00+08:00", first_contact_at=None),
        _dispute("contacted", "community", first_contact_due_at="2026-12-02T17:00:00+08:00",
                 first_contact_at="2026-12-02T16:00:00+08:00"),
        _dispute("visit", "village", "resolved", followup_due_at="2026-12-02T18:00:00+08:00", followup_done_at=None),
        _dispute("visited", "village", "resolved", followup_due_at="2026-12-02T09:00:00+08:00",
                 followup_done_at="2026-12-02T09:00:00+08:00"),
    ]
    items = views.dispute_deadlines(disputes, NOW, ZONE)
    assert [(i["dispute"]["dispute_id"], i["kind"], i["late"]) for i in items] == [
        ("late", "contact", True), ("visit", "followup", True), ("soon", "contact", False)]


def test_next_level_follows_the_gates_and_ends_out() -> None:
    assert views.next_level("scene") == "community" and views.next_level("town") == "escalated_out"
    assert views.next_level("escalated_out") is None and views.next_level("unknown") is None


def test_callbacks_per_officer_those_without_one_named() -> None:
    groups = views.per_officer([{"callback_id": "2", "officer_id": "P2", "due_at": "b"},
                                {"callback_id": "1", "officer_id": None, "due_at": "a"},
                                {"callback_id": "3", "officer_id": "P2", "due_at": "a"}])
    assert list(groups) == ["P2", "未指派"] and [c["callback_id"] for c in groups["P2"]] == ["3", "2"]


def test_chart_data_rates_in_percent_with_last_week_and_keys_of_both_weeks() -> None:
    row = {"key": "P1", "channel": "all", "satisfied": 3, "basically": 1, "dissatisfied": 1,
           "satisfaction_rate": 0.8, "strict_rate": 0.6}
    by_phone = {**row, "channel": "phone", "satisfied": 99}
    data = views.chart_data({"rows": [row, by_phone]}, {"rows": [{**row, "key": "P0", "satisfaction_rate": 0.5}]})
    assert data == {"keys": ["P0", "P1"], "rate": [None, 80.0], "strict": [None, 60.0], "last_rate": [50.0, None],
                    "satisfied": [0, 3], "basically": [0, 1], "dissatisfied": [0, 1]}
    assert views.chart_data(None, None)["keys"] == []


def test_the_week_before_crosses_years() -> None:
    assert views.previous_week("2026-W49") == "2026-W48"
    assert views.previous_week("2027-W01") == "2026-W53"
    assert views.previous_week("2026-W01") == "2025-W52"


def test_an_alert_without_a_priority_waits_as_a_normal_one() -> None:
    alerts = [_alert("low", "received", 3, 30), _alert("plain", "received", 2, 1), _alert("urgent", "received", 1, 0)]
    del alerts[1]["priority"]
    assert [a["alert_id"] for a in views.queue_order(alerts)] == ["urgent", "plain", "low"]


def test_a_contact_due_this_very_second_is_late_and_a_resolved_dispute_without_a_visit_date_is_not_listed() -> None:
    disputes = [_dispute("now", "community", first_contact_due_at=NOW.isoformat(), first_contact_at=None),
                _dispute("no-date", "village", "resolved", followup_due_at=None, followup_done_at=None)]
    items = views.dispute_deadlines(disputes, NOW, ZONE)
    assert [(i["dispute"]["dispute_id"], i["late"]) for i in items] == [("now", True)]


def test_a_card_without_a_deadline_comes_last_in_its_column() -> None:
    columns = views.board([_dispute("none", "town"), _dispute("due", "town", next_due_at="2026-12-09T10:00:00+08:00")])
    assert [d["dispute_id"] for d in columns["town"]] == ["due", "none"]


def test_a_callback_without_a_deadline_comes_first_and_a_report_without_rows_has_none() -> None:
    groups = views.per_officer([{"callback_id": "2", "officer_id": "P", "due_at": "2026-12-02"},
                                {"callback_id": "1", "officer_id": "P"}])
    assert [c["callback_id"] for c in groups["P"]] == ["1", "2"]
    assert views.totals({"week": "2026-W49"}) == [] and views.totals(None) == []


def test_rates_are_percent_to_one_decimal() -> None:
    row = {"key": "P1", "channel": "all", "satisfaction_rate": 0.81234, "strict_rate": 0.5}
    assert views.chart_data({"rows": [row]}, None)["rate"] == [81.2]


def test_a_station_day_runs_midnight_to_midnight() -> None:
    start, end = views.day_bounds(NOW.date(), ZONE)
    assert (start, end) == (datetime(2026, 12, 2, tzinfo=ZONE), datetime(2026, 12, 3, tzinfo=ZONE))


def test_a_visit_due_at_midnight_is_tomorrows_and_a_contact_flagged_overdue_is_late_whatever_its_time() -> None:
    disputes = [_dispute("midnight", "village", "resolved", followup_due_at="2026-12-03T00:00:00+08:00",
                         followup_done_at=None),
                _dispute("flagged", "community", first_contact_due_at="2026-12-02T23:00:00+08:00",
                         first_contact_at=None, overdue=True)]
    items = views.dispute_deadlines(disputes, NOW, ZONE)
    assert [(i["dispute"]["dispute_id"], i["late"]) for i in items] == [("flagged", True)]


def test_ties_go_by_id() -> None:
    same = "2026-12-02T10:00:00+08:00"
    alerts = [{"alert_id": "b", "state": "received", "priority": 2, "received_at": same},
              {"alert_id": "a", "state": "received", "priority": 2, "received_at": same}]
    assert [a["alert_id"] for a in views.queue_order(alerts)] == ["a", "b"]
    groups = views.per_officer([{"callback_id": "2", "officer_id": "P", "due_at": same},
                                {"callback_id": "1", "officer_id": "P", "due_at": same}])
    assert [c["callback_id"] for c in groups["P"]] == ["1", "2"]


def test_todays_callbacks_are_those_due_at_tonights_midnight_not_this_mornings() -> None:
    since, until = views.callbacks_due_on(NOW.date(), ZONE)
    tonight, this_morning = datetime(2026, 12, 3, tzinfo=ZONE), datetime(2026, 12, 2, tzinfo=ZONE)
    assert since <= tonight < until
    assert not since <= this_morning < until
