"""The headline figures' pure rules: periods and their 环比 / 同比, what an alert adds, changes in %,
the preventable share and the 两降一升 panel; edges pinned (first and last second of a period)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from dispatch.domain.trends import (
    Classes,
    Counts,
    Period,
    Satisfaction,
    alert_increments,
    change_pct,
    field_key,
    from_field_key,
    rebuild,
    trends,
)

ZONE = ZoneInfo("Asia/Shanghai")
CLASSES = Classes(preventable=["theft", "fraud"], criminal=["theft", "fraud", "violence"], public_order=["dispute"])


@pytest.mark.parametrize(("kind", "day", "label"), [
    ("week", date(2026, 11, 23), "2026-W48"),  # a Monday
    ("week", date(2026, 11, 29), "2026-W48"),  # its Sunday
    ("week", date(2027, 1, 1), "2026-W53"),  # 2026 has 53 ISO weeks
    ("week", date(2025, 12, 29), "2026-W01"),  # a week of the next ISO year
    ("month", date(2026, 11, 1), "2026-11"),
    ("month", date(2026, 11, 30), "2026-11"),
    ("year", date(2026, 12, 31), "2026"),
    ("year", date(2026, 1, 1), "2026"),
])
def test_the_period_of_a_day(kind, day, label) -> None:
    assert Period.of(kind, day) == Period(kind, label)
    assert Period.of(kind, day).doc_id == f"{kind}:{label}"


def test_an_unknown_period_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown period"):
        Period.of("day", date(2026, 11, 23))  # type: ignore[arg-type]


@pytest.mark.parametrize(("period", "previous", "year_before"), [
    (Period("week", "2026-W48"), "2026-W47", "2025-W48"),
    (Period("week", "2026-W01"), "2025-W52", "2025-W01"),
    (Period("week", "2026-W53"), "2026-W52", "2025-W52"),  # 2025 has no week 53
    (Period("week", "2027-W01"), "2026-W53", "2026-W01"),
    (Period("month", "2026-01"), "2025-12", "2025-01"),
    (Period("month", "2026-03"), "2026-02", "2025-03"),
    (Period("year", "2026"), "2025", "2025"),
])
def test_the_period_before_and_the_year_before(period, previous, year_before) -> None:
    assert period.previous().label == previous
    assert period.year_before().label == year_before


def test_the_bounds_of_a_period_are_local_midnights() -> None:
    assert Period("week", "2026-W48").bounds(ZONE) == (datetime(2026, 11, 23, tzinfo=ZONE),
                                                     datetime(2026, 11, 30, tzinfo=ZONE))
    assert Period("month", "2026-12").bounds(ZONE) == (datetime(2026, 12, 1, tzinfo=ZONE),
                                                     datetime(2027, 1, 1, tzinfo=ZONE))
    assert Period("month", "2026-02").end_day == date(2026, 3, 1)
    assert Period("year", "2026").bounds(ZONE)[1] == datetime(2027, 1, 1, tzinfo=ZONE)


def test_the_weeks_of_a_period_are_those_whose_thursday_falls_in_it() -> None:
    assert Period("week", "2026-W48").weeks() == ["2026-W48"]
    # November 2026: Thursdays 5, 12, 19, 26 -> W45..W48 (W44's Thursday is 29 October)
    assert Period("month", "2026-11").weeks() == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    assert Period("month", "2026-10").weeks()[0] == "2026-W40"  # Thursday 1 October
    assert len(Period("year", "2026").weeks()) == 53 and Period("year", "2026").weeks()[-1] == "2026-W53"
    assert len(Period("year", "2025").weeks()) == 52 and Period("year", "2025").weeks()[0] == "2025-W01"


@pytest.mark.parametrize(("received", "week", "month", "year"), [
    (datetime(2026, 11, 29, 15, 59, 59, tzinfo=UTC), "2026-W48", "2026-11", "2026"),  # Sunday 23:59:59 local
    (datetime(2026, 11, 29, 16, 0, 0, tzinfo=UTC), "2026-W49", "2026-11", "2026"),  # Monday 00:00 local
    (datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC), "2026-W49", "2026-11", "2026"),
    (datetime(2026, 11, 30, 16, 0, 0, tzinfo=UTC), "2026-W49", "2026-12", "2026"),  # 1 December 00:00 local
    (datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC), "2026-W53", "2027-01", "2027"),  # 1 January 00:00 local
])
def test_an_alert_counts_in_the_week_month_and_year_of_its_local_receipt(received, week, month, year) -> None:
    got = alert_increments(received_at=received, category="theft", unit_id="G1", zone=ZONE)
    assert got == [(f"week:{week}", {"c.theft": 1, "u.G1.theft": 1}),
                   (f"month:{month}", {"c.theft": 1, "u.G1.theft": 1}),
                   (f"year:{year}", {"c.theft": 1, "u.G1.theft": 1})]


def test_a_unit_id_with_dots_is_one_step_of_a_field_path() -> None:
    (_, delta), *_ = alert_increments(received_at=datetime(2026, 11, 23, tzinfo=UTC), category="fraud",
                                      unit_id="G.1$x%", zone=ZONE)
    assert list(delta) == ["c.fraud", "u.G%2E1%24x%25.fraud"]
    for text in ("G.1$x%", "%2E", "a.b.c", "plain"):
        assert from_field_key(field_key(text)) == text
        assert "." not in field_key(text) and "$" not in field_key(text)


@pytest.mark.parametrize(("now", "before", "pct"), [
    (3, 13, -76.9), (7, 30, -76.7), (10, 10, 0.0), (12, 10, 20.0), (1, 3, -66.7), (5, 0, None), (0, 0, None),
    (0, 4, -100.0),
])
def test_change_in_percent_of_the_earlier_count(now, before, pct) -> None:
    assert change_pct(now, before) == pct


def _counts(station: dict[str, int], units: dict[str, dict[str, int]] | None = None) -> Counts:
    return Counts(station, units or {})


def test_the_figures_by_category_with_the_preventable_share_and_the_panel() -> None:
    answer = trends(
        period=Period("month", "2026-11"), by="category",
        now=_counts({"theft": 6, "dispute": 3, "traffic": 1}),
        previous=_counts({"theft": 5, "dispute": 5}),
        year_before=_counts({"theft": 10, "dispute": 4, "fraud": 2}),
        satisfaction={"now": Satisfaction(90, 8, 2), "previous": Satisfaction(9, 0, 1),
                      "year_before": Satisfaction(80, 10, 10)},
        classes=CLASSES,
    )
    assert (answer["period"], answer["by"]) == ("month", "category")
    assert (answer["label"], answer["previous"], answer["year_before"]) == ("2026-11", "2026-10", "2025-11")
    assert answer["rows"] == [  # categories in the contract's order, those with any count
        {"category": "dispute", "count": 3, "previous": 5, "year_before": 4, "change_pct": -40.0, "yoy_pct": -25.0},
        {"category": "theft", "count": 6, "previous": 5, "year_before": 10, "change_pct": 20.0, "yoy_pct": -40.0},
        {"category": "fraud", "count": 0, "previous": 0, "year_before": 2, "change_pct": None, "yoy_pct": -100.0},
        {"category": "traffic", "count": 1, "previous": 0, "year_before": 0, "change_pct": None, "yoy_pct": None},
    ]
    assert answer["total"] == {"count": 10, "previous": 10, "year_before": 16, "change_pct": 0.0, "yoy_pct": -37.5}
    assert answer["preventable"] == {
        "categories": ["theft", "fraud"], "count": 6, "previous": 5, "year_before": 12, "change_pct": 20.0,
        "yoy_pct": -50.0, "share": 0.6, "share_previous": 0.5, "share_year_before": 0.75,
    }
    panel = answer["panel"]
    assert panel["criminal"] == {"categories": ["theft", "fraud", "violence"], "count": 6, "previous": 5,
                                 "year_before": 12, "change_pct": 20.0, "yoy_pct": -50.0, "down": True}
    assert panel["public_order"] == {"categories": ["dispute"], "count": 3, "previous": 5, "year_before": 4,
                                     "change_pct": -40.0, "yoy_pct": -25.0, "down": True}
    assert panel["satisfaction"] == {"rate": 0.98, "previous_rate": 0.9, "year_before_rate": 0.9, "rated": 100,
                                     "weeks": ["2026-W45", "2026-W46", "2026-W47", "2026-W48"], "up": True}
    assert panel["achieved"] is True


@pytest.mark.parametrize(("criminal", "public", "sat_now", "achieved"), [
    (11, 3, Satisfaction(99, 0, 1), False),  # criminal not down (equal to a year before)
    (10, 4, Satisfaction(99, 0, 1), False),  # public order not down
    (10, 3, Satisfaction(90, 0, 10), False),  # satisfaction not up (equal)
    (10, 3, Satisfaction(), False),  # nothing rated: not up
    (10, 3, Satisfaction(91, 0, 9), True),
])
def test_two_down_one_up_needs_all_three(criminal, public, sat_now, achieved) -> None:
    answer = trends(
        period=Period("week", "2026-W48"), by="category",
        now=_counts({"violence": criminal, "dispute": public}), previous=_counts({}),
        year_before=_counts({"violence": 11, "dispute": 4}),
        satisfaction={"now": sat_now, "year_before": Satisfaction(90, 0, 10)}, classes=CLASSES,
    )
    assert answer["panel"]["achieved"] is achieved


def test_nothing_counted_gives_no_rate_and_no_share() -> None:
    answer = trends(period=Period("year", "2026"), by="category", now=_counts({}), previous=_counts({}),
                    year_before=_counts({}), satisfaction={}, classes=CLASSES)
    assert answer["rows"] == []
    assert (answer["preventable"]["share"], answer["panel"]["satisfaction"]["rate"]) == (None, None)
    assert (answer["panel"]["satisfaction"]["up"], answer["panel"]["achieved"]) == (None, False)
    assert answer["panel"]["criminal"]["down"] is False


def test_the_figures_by_unit() -> None:
    answer = trends(
        period=Period("week", "2026-W48"), by="unit",
        now=_counts({}, {"G1": {"theft": 2, "noise": 1}, "duty_desk": {"fraud": 1}}),
        previous=_counts({}, {"G1": {"theft": 1}, "G2": {"dispute": 2}}),
        year_before=_counts({}, {}),
        satisfaction={}, classes=CLASSES,
    )
    assert answer["rows"] == [
        {"unit_id": "G1", "count": 3, "previous": 1, "year_before": 0, "change_pct": 200.0, "yoy_pct": None,
         "preventable": 2},
        {"unit_id": "G2", "count": 0, "previous": 2, "year_before": 0, "change_pct": -100.0, "yoy_pct": None,
         "preventable": 0},
        {"unit_id": "duty_desk", "count": 1, "previous": 0, "year_before": 0, "change_pct": None, "yoy_pct": None,
         "preventable": 1},
    ]


def test_counts_read_from_a_stored_document() -> None:
    counts = Counts.from_doc({"_id": "week:2026-W48", "c": {"theft": 2}, "u": {"G%2E1": {"theft": 2}}, "rev": 2})
    assert (counts.of(["theft", "fraud"]), counts.of(["theft"], "G.1"), counts.of(["theft"], "G2")) == (2, 2, 0)
    assert Counts.from_doc(None).of(["theft"]) == 0


def test_satisfaction_over_weeks() -> None:
    got = Satisfaction.over([{"satisfied": 3, "basically": 1, "dissatisfied": 0}, {"satisfied": 0, "dissatisfied": 4}])
    assert (got.rated, got.rate) == (8, 0.5)
    assert Satisfaction.over([]).rate is None


def test_rebuild_is_what_the_increments_add_up_to() -> None:
    at = datetime(2026, 11, 23, 1, tzinfo=UTC)
    docs = rebuild([(at, "theft", "G1"), (at, "theft", "G1"), (at, "fraud", "G.2")], ZONE)
    assert docs["week:2026-W48"] == {"_id": "week:2026-W48", "c": {"theft": 2, "fraud": 1},
                                     "u": {"G1": {"theft": 2}, "G%2E2": {"fraud": 1}}}
    assert set(docs) == {"week:2026-W48", "month:2026-11", "year:2026"}
