"""Weekly roll-ups (incremental = rebuilt), report rows and CSV, and the spot-check sample."""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rating.domain.model import Followup, Rating, RatingRefused, Survey
from rating.domain.reply import parse_reply
from rating.domain.report import Cell, Rollup, apply, increments, merge, rebuild, report_csv, report_rows
from rating.domain.spotcheck import SpotCheck, draw_sample, draw_spot_checks, sample_size

CST = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 12, 28, 9, 0, tzinfo=CST)  # Monday of 2026-W53
H = timedelta(hours=1)
ST = "FT"


def rating(
    n: int, *, level: str = "satisfied", channel: str = "phone", officer: str | None = "P1", at: datetime = T0
) -> Rating:
    return Rating.record(
        rating_id=f"r-{n}",
        channel=channel,
        level=level,
        subject_type="alert",
        subject_id=f"a-{n}",
        officer_id=officer,
        unit_id="G1",
        at=at,
        zone=CST,
        entered_by=None if channel == "sms" else "desk",
        survey_id=f"sv-{n}" if channel == "sms" else None,
    )


def test_random_sequence_incremental_equals_rebuilt() -> None:
    rng = random.Random(20261228)
    rollups: dict = {}
    ratings, surveys, followups = [], [], []
    for n in range(400):
        now = T0 + timedelta(minutes=37 * n)  # runs into 2027-W01
        officer = rng.choice(["P1", "P2", None])
        pick = rng.random()
        if pick < 0.4:
            s = Survey.schedule(
                subject_type="alert",
                subject_id=f"a-{n}",
                phone=f"1380013{n:04d}",
                officer_id=officer,
                unit_id=rng.choice(["G1", "G2"]),
                requested_at=now,
                now=now,
            )
            if s.state == "scheduled":
                s.mark_sent(now=s.send_at)
                if rng.random() < 0.1:
                    s.fail(now=s.send_at + H, detail="operator: absent subscriber")
                elif rng.random() < 0.7:
                    s.receive(parse_reply(rng.choice(["1", "2", "3 慢", "?"])), now=s.send_at + H)
                events = list(s.events)
                if s.state == "answered":
                    r = Rating.from_survey(s, zone=CST)
                    ratings.append(r)
                    events += r.events
                surveys.append(s)
            else:
                events = list(s.events)
        else:
            r = rating(
                n,
                level=rng.choice(["satisfied", "basically", "dissatisfied"]),
                channel=rng.choice(["phone", "on_site"]),
                officer=officer,
                at=now,
            )
            ratings.append(r)
            events = list(r.events)
        for r in [r for r in ratings if r.level == "dissatisfied" and r.events]:
            f = Followup.open(r, now=r.at)
            followups.append(f)
            if rng.random() < 0.5:
                f.complete(now=r.at + rng.choice([H, 80 * H]), actor="leader", findings="a", actions="b")
            else:
                f.check_deadline(r.at + rng.choice([H, 80 * H]))
            events += f.events
        if ratings and rng.random() < 0.15:
            victim = rng.choice(ratings)
            if victim.state == "counted":
                victim.events.clear()
                victim.exclude(now=now, actor="staff", check_id=f"sc-{victim.rating_id}")
                events += victim.events
        for r in ratings:
            r.events.clear()
        for e in events:
            rollups = apply(rollups, increments(e, station=ST))
    rebuilt = rebuild(ratings=ratings, surveys=surveys, followups=followups, station=ST)
    nonzero = {c: r for c, r in rollups.items() if any(r.counts.values())}
    assert nonzero == rebuilt
    assert {c.week for c in rebuilt} == {"2026-W53", "2027-W01"}
    assert sum(r.excluded for r in rebuilt.values()) > 0 and sum(r.followups_overdue for r in rebuilt.values()) > 0
    assert sum(r.answered for r in rebuilt.values()) > 0 and sum(r.followups_in_time for r in rebuilt.values()) > 0
    assert any(s.state == "failed" for s in surveys)


def test_increments_per_event_and_scope() -> None:
    r = rating(1, level="dissatisfied", officer=None)
    assert increments(r.events[0], station=ST) == [
        (Cell("2026-W53", "unit", "G1", "phone"), {"dissatisfied": 1}),
        (Cell("2026-W53", "station", ST, "phone"), {"dissatisfied": 1}),
    ]
    assert increments(r.events[1], station=ST) == []  # RatingDissatisfied: counted by RatingRecorded
    r.events.clear()
    r.exclude(now=T0, actor="s", check_id="c")
    assert increments(r.events[0], station=ST)[0][1] == {"dissatisfied": -1, "excluded": 1}


def test_apply_does_not_touch_its_input_and_merge_sums() -> None:
    cell = Cell("2026-W53", "officer", "P1", "sms")
    first = apply({}, [(cell, {"satisfied": 1})])
    second = apply(first, [(cell, {"satisfied": 1, "answered": 2})])
    assert first[cell].satisfied == 1 and second[cell].satisfied == 2 and second[cell].answered == 2
    assert merge(first, second)[cell] == Rollup(cell, satisfied=3, answered=2)
    assert merge() == {}
    assert Rollup.from_dict(second[cell].to_dict()) == second[cell]
    assert second[cell].to_dict()["_id"] == "2026-W53|officer|P1|sms"
    assert Rollup.from_dict({"week": "w", "scope": "unit", "key": "G1", "channel": "sms"}).satisfied == 0


def rows_of(*rollups: Rollup, scope: str = "officer") -> list:
    return report_rows(rollups, week="2026-W53", scope=scope)


def test_report_rows_rates_and_channels() -> None:
    sms = Rollup(
        Cell("2026-W53", "officer", "P1", "sms"),
        satisfied=6,
        basically=2,
        dissatisfied=2,
        surveyed=20,
        answered=10,
        excluded=1,
        followups_in_time=1,
        followups_overdue=1,
    )
    phone = Rollup(Cell("2026-W53", "officer", "P1", "phone"), satisfied=1, basically=0, dissatisfied=1)
    other_week = Rollup(Cell("2026-W52", "officer", "P1", "phone"), satisfied=100)
    unit = Rollup(Cell("2026-W53", "unit", "G1", "phone"), satisfied=100)
    empty_onsite = Rollup(Cell("2026-W53", "officer", "P1", "on_site"))
    total, by_sms, by_phone = rows_of(phone, sms, other_week, unit, empty_onsite)
    assert (total.channel, total.satisfied, total.basically, total.dissatisfied, total.rated) == ("all", 7, 2, 3, 12)
    assert total.satisfaction_rate == pytest.approx(9 / 12) and total.strict_rate == pytest.approx(7 / 12)
    assert total.response_rate == pytest.approx(0.5) and total.excluded == 1
    assert (total.followups_in_time, total.followups_overdue) == (1, 1)
    assert (by_sms.channel, by_sms.rated, by_sms.satisfaction_rate) == ("sms", 10, 0.8)
    assert (by_phone.channel, by_phone.strict_rate, by_phone.response_rate) == ("phone", 0.5, None)


def test_rates_are_none_without_a_denominator() -> None:
    (row, _) = rows_of(Rollup(Cell("2026-W53", "officer", "P9", "sms"), surveyed=3, excluded=1))
    assert (row.rated, row.satisfaction_rate, row.strict_rate, row.response_rate) == (0, None, None, 0.0)
    assert rows_of() == []
    with pytest.raises(ValueError):
        rows_of(scope="city")


def test_rows_are_sorted_by_key() -> None:
    a = Rollup(Cell("2026-W53", "unit", "G2", "sms"), satisfied=1)
    b = Rollup(Cell("2026-W53", "unit", "G1", "sms"), satisfied=1)
    assert [r.key for r in rows_of(a, b, scope="unit")] == ["G1", "G1", "G2", "G2"]


def test_csv_for_the_station_spreadsheet() -> None:
    sms = Rollup(
        Cell("2026-W53", "officer", "P1", "sms"), satisfied=2, basically=1, dissatisfied=0, surveyed=4, answered=3
    )
    odd = Rollup(Cell("2026-W53", "officer", "=cmd", "phone"), surveyed=0)
    data = report_csv(rows_of(sms, odd), scope="officer", names={"P1": "张三"})
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header = table[0]
    for label in ("周次", "民警", "满意", "基本满意", "不满意", "满意率", "绝对满意率", "回复率", "渠道"):
        assert label in header
    row = dict(zip(header, table[2], strict=True))
    assert table[3][header.index("渠道")] == "短信"
    assert (row["民警"], row["渠道"], row["满意"], row["满意率"], row["绝对满意率"], row["回复率"]) == (
        "张三",
        "合计",
        "2",
        "100.0%",
        "66.7%",
        "75.0%",
    )
    assert table[1][1] == "'=cmd" and table[1][header.index("满意率")] == ""
    assert report_csv([], scope="unit").decode("utf-8-sig").split(",")[1] == "单位"
    assert data.endswith(b"\r\n")


# --- spot checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "share", "minimum", "expected"),
    [
        (0, 0.1, 1, 0),
        (1, 0.1, 1, 1),
        (9, 0.1, 1, 1),
        (10, 0.1, 1, 1),
        (11, 0.1, 1, 2),
        (30, 0.1, 1, 3),
        (31, 0.1, 1, 4),
        (5, 0.1, 3, 3),
        (2, 0.1, 3, 2),
        (10, 1.0, 1, 10),
        (10, 0.0, 0, 0),
        (10, 0.0, 1, 1),
    ],
)
def test_sample_size(n: int, share: float, minimum: int, expected: int) -> None:
    assert sample_size(n, share=share, minimum=minimum) == expected


def test_sample_size_refuses_nonsense() -> None:
    for share, minimum in ((1.1, 1), (-0.1, 1), (0.1, -1)):
        with pytest.raises(ValueError):
            sample_size(5, share=share, minimum=minimum)


def test_sample_is_reproducible_whatever_the_order() -> None:
    ids = [f"r-{n}" for n in range(57)]
    sample = draw_sample("2026-W53", "P1", ids)
    assert len(sample) == 6 and sample == sorted(sample) and set(sample) <= set(ids)
    shuffled = ids[:]
    random.Random(1).shuffle(shuffled)
    assert draw_sample("2026-W53", "P1", shuffled) == sample
    assert draw_sample("2026-W53", "P1", ids + ids[:5]) == sample  # duplicates do not weigh
    assert draw_sample("2026-W52", "P1", ids) != sample or draw_sample("2026-W53", "P2", ids) != sample
    assert draw_sample("2026-W53", "P1", []) == []


def test_draw_spot_checks_per_officer_sms_counted_of_the_week() -> None:
    ratings = [rating(n, channel="sms", officer="P1" if n % 2 else "P2") for n in range(24)]
    ratings += [
        rating(100, channel="phone"),
        rating(101, channel="sms", officer=None),
        rating(102, channel="sms", at=T0 - timedelta(days=7)),
    ]
    ratings[0].exclude(now=T0, actor="s", check_id="c")
    checks = draw_spot_checks("2026-W53", ratings, now=T0 + 200 * H)
    assert [(c.officer_id, c.state) for c in checks] == [
        ("P1", "pending"),
        ("P1", "pending"),
        ("P2", "pending"),
        ("P2", "pending"),
    ]
    assert all(c.rating_id not in ("r-0", "r-100", "r-101", "r-102") for c in checks)
    assert [c.check_id for c in checks] == [c.check_id for c in draw_spot_checks("2026-W53", ratings[::-1], now=T0)]
    assert checks[0].check_id == "sc-" + checks[0].rating_id and checks[0].week == "2026-W53"


def test_spot_check_outcomes() -> None:
    check = SpotCheck.draw(rating(1, channel="sms"), now=T0)
    with pytest.raises(RatingRefused):
        check.record("maybe", now=T0, actor="s")
    check.record("unreachable", now=T0 + H, actor="s", note="无人接听")
    check.record("denied", now=T0 + 2 * H, actor="s", note="本人未评价")
    assert (check.state, check.checked_by, check.note) == ("denied", "s", "本人未评价")
    assert [e.outcome for e in check.events] == ["unreachable", "denied"]
    with pytest.raises(RatingRefused):
        check.record("confirmed", now=T0 + 3 * H, actor="s")
    assert SpotCheck.from_dict(check.to_dict()).to_dict() == check.to_dict()
    with pytest.raises(RatingRefused):
        SpotCheck.draw(rating(2, channel="sms", officer=None), now=T0)
