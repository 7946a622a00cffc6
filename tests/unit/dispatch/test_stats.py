from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dispatch.domain.alerts import DUTY_DESK, Alert
from dispatch.domain.assignment import Candidate
from dispatch.domain.geo import haversine_m
from dispatch.domain.stats import alert_clusters, last_holder, weekly_unit_stats

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACK = timedelta(seconds=60)


def alert(alert_id: str, received_at: datetime) -> Alert:
    return Alert.receive(alert_id=alert_id, received_at=received_at, category="dispute", priority=2, lon=118.96,
                         lat=25.22, address=None, caller_phone=None, summary="", source="110")


def handled(alert_id, received_at, unit_id, assign_s, ack_s=None, close_s=None):
    """An alert given to unit_id after assign_s seconds, acknowledged ack_s later, closed close_s after receipt."""
    a = alert(alert_id, received_at)
    given = received_at + timedelta(seconds=assign_s)
    a.assign(Candidate(unit_id, "zone", 100.0), given, ACK)
    if ack_s is not None:
        a.acknowledge(unit_id, given + timedelta(seconds=ack_s))
    if close_s is not None:
        a.close(unit_id, "P1001", "no_action", "", {}, received_at + timedelta(seconds=close_s))
    return a


def test_alerts_are_counted_in_the_week_of_the_station_zone():
    sunday_late = datetime(2026, 11, 29, 15, 30, tzinfo=UTC)  # Sunday 23:30 in Shanghai
    monday_early = datetime(2026, 11, 29, 16, 30, tzinfo=UTC)  # Monday 00:30 in Shanghai, still Sunday in UTC

    rows = weekly_unit_stats([handled("a1", sunday_late, "G1", 10), handled("a2", monday_early, "G1", 10)], SHANGHAI)

    assert [(r["week"], r["unit_id"], r["count"]) for r in rows] == [("2026-W48", "G1", 1), ("2026-W49", "G1", 1)]


def test_weekly_medians_per_unit():
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
    alerts = [
        handled("a1", monday, "G1", assign_s=2, ack_s=20, close_s=600),
        handled("a2", monday + timedelta(days=2), "G1", assign_s=4, ack_s=40, close_s=1200),
        handled("a3", monday + timedelta(days=3), "G1", assign_s=9),  # not yet acknowledged
        handled("a4", datetime(2026, 11, 29, 15, 30, tzinfo=UTC), "G2", assign_s=1, ack_s=10),  # Sunday 23:30 local
        handled("a5", datetime(2026, 11, 29, 16, 30, tzinfo=UTC), "G2", assign_s=3),  # Monday 00:30 local
    ]

    rows = weekly_unit_stats(alerts, SHANGHAI)

    assert rows == [
        {"unit_id": "G1", "week": "2026-W48", "count": 3,
         "median_to_assign_s": 4.0, "median_to_ack_s": 30.0, "median_to_close_s": 900.0},
        {"unit_id": "G2", "week": "2026-W48", "count": 1,
         "median_to_assign_s": 1.0, "median_to_ack_s": 10.0, "median_to_close_s": None},
        {"unit_id": "G2", "week": "2026-W49", "count": 1,
         "median_to_assign_s": 3.0, "median_to_ack_s": None, "median_to_close_s": None},
    ]


def test_an_alert_counts_once_for_the_unit_that_handled_it():
    t = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
    reassigned = handled("r", t, "G1", assign_s=2)
    reassigned.release(t + timedelta(seconds=62), "ack_timeout")
    reassigned.assign(Candidate("G3", "nearest", 2600.0), t + timedelta(seconds=63), ACK)
    reassigned.acknowledge("G3", t + timedelta(seconds=73))
    overflow = alert("o", t)
    overflow.send_to_duty_desk(t + timedelta(seconds=1))
    overflow.close(DUTY_DESK, "P0001", "no_action", "", {}, t + timedelta(seconds=300))
    waiting = alert("w", t)

    assert [last_holder(a) for a in (reassigned, overflow, waiting)] == ["G3", DUTY_DESK, None]
    rows = {row["unit_id"]: row for row in weekly_unit_stats([reassigned, overflow, waiting], SHANGHAI)}
    assert list(rows) == ["G3", DUTY_DESK, None]
    # Time to assign is to the first unit; time to acknowledge is that of the acknowledged attempt.
    assert (rows["G3"]["median_to_assign_s"], rows["G3"]["median_to_ack_s"]) == (2.0, 10.0)
    assert rows[DUTY_DESK]["median_to_assign_s"] is None and rows[DUTY_DESK]["median_to_close_s"] == 300.0
    assert rows[None]["count"] == 1


def test_no_alerts_no_rows():
    assert weekly_unit_stats([], SHANGHAI) == []


def test_clusters_show_where_alerts_concentrate():
    market = (118.9651, 25.2284)
    harbour = (118.9900, 25.2050)
    points = [market] * 12 + [harbour] * 5 + [(118.94 + k * 0.002, 25.25) for k in range(3)]

    clusters = alert_clusters(points, cell_m=500, top=2)

    assert [c["count"] for c in clusters] == [12, 5]
    assert haversine_m(clusters[0]["lon"], clusters[0]["lat"], *market) < 500 / 2 * 1.5
    assert haversine_m(clusters[1]["lon"], clusters[1]["lat"], *harbour) < 500 / 2 * 1.5


def test_clusters_cell_size_and_top():
    centre = alert_clusters([(118.96, 25.22)], cell_m=1000)[0]
    a = (centre["lon"], centre["lat"])
    b = (centre["lon"], centre["lat"] + 300 / 111195.08)  # 300 m north: the same 1 km cell, another 100 m one

    assert [c["count"] for c in alert_clusters([a, b], cell_m=1000)] == [2]
    assert [c["count"] for c in alert_clusters([a, b], cell_m=100)] == [1, 1]
    assert alert_clusters([a] * 3 + [b], cell_m=100, top=1)[0]["count"] == 3
    assert alert_clusters([]) == []
