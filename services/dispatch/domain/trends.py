"""The station's headline figures (黄赌警情同比下降76.7%, 可防性警情下降32%, 两降一升), from roll-ups.

Each alert adds one to its category in three roll-up documents: the ISO week, the calendar month and
the calendar year of its `received_at` in the station's zone (an alert published with a past date
counts in its own period), for the station (`c.<category>`) and for the unit it was first given to
(`u.<unit>.<category>`; the duty desk is a unit here). A question then reads three documents per
period kind (this period, the one before: 环比, the same one a year before: 同比) whatever the number
of alerts stored.

Changes are in percent of the earlier count, one decimal, None when the earlier count is 0.
两降一升 compares with the same period a year before (同比), as the station reports it: criminal
alerts down, public-order alerts down, citizens' satisfaction (rating's weekly figure over the
period's ISO weeks) up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal, get_args

PeriodKind = Literal["week", "month", "year"]
PERIOD_KINDS: tuple[PeriodKind, ...] = get_args(PeriodKind)
By = Literal["category", "unit"]
CATEGORIES = ("dispute", "theft", "fraud", "violence", "traffic", "assistance", "noise", "other")

Increment = tuple[str, dict[str, int]]  # (roll-up document id, field -> +n)


def field_key(text: str) -> str:
    """A key safe as one step of a dotted field path ('.' and '$' would be read as paths and operators)."""
    return text.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def from_field_key(key: str) -> str:
    return key.replace("%2E", ".").replace("%24", "$").replace("%25", "%")


# --- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Period:
    """A week ('2026-W48'), month ('2026-11') or year ('2026') of the station's calendar."""

    kind: PeriodKind
    label: str

    @property
    def doc_id(self) -> str:
        return f"{self.kind}:{self.label}"

    @classmethod
    def of(cls, kind: PeriodKind, day: date) -> Period:
        if kind == "week":
            year, week, _ = day.isocalendar()
            return cls(kind, f"{year}-W{week:02d}")
        if kind == "month":
            return cls(kind, f"{day.year:04d}-{day.month:02d}")
        if kind == "year":
            return cls(kind, f"{day.year:04d}")
        raise ValueError(f"unknown period {kind!r}; expected one of {', '.join(PERIOD_KINDS)}")

    @property
    def first_day(self) -> date:
        if self.kind == "week":
            return date.fromisocalendar(int(self.label[:4]), int(self.label[-2:]), 1)
        if self.kind == "month":
            return date(int(self.label[:4]), int(self.label[5:7]), 1)
        return date(int(self.label), 1, 1)

    @property
    def end_day(self) -> date:
        """The first day after the period."""
        start = self.first_day
        if self.kind == "week":
            return start + timedelta(days=7)
        if self.kind == "month":
            return date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return date(start.year + 1, 1, 1)

    def previous(self) -> Period:
        """The period just before (环比)."""
        return Period.of(self.kind, self.first_day - timedelta(days=1))

    def year_before(self) -> Period:
        """The same period a year before (同比); week 53 of a year without one is compared with week 52."""
        year = int(self.label[:4]) - 1
        if self.kind == "week":
            week = int(self.label[-2:])
            weeks_then = date(year, 12, 28).isocalendar()[1]
            return Period(self.kind, f"{year}-W{min(week, weeks_then):02d}")
        if self.kind == "month":
            return Period(self.kind, f"{year:04d}{self.label[4:]}")
        return Period(self.kind, f"{year:04d}")

    def weeks(self) -> list[str]:
        """The ISO weeks counted in the period: those whose Thursday falls in it (a week is one week)."""
        if self.kind == "week":
            return [self.label]
        first, end = self.first_day, self.end_day
        thursday = first + timedelta(days=(3 - first.weekday()) % 7)
        found = []
        while thursday < end:
            found.append(Period.of("week", thursday).label)
            thursday += timedelta(days=7)
        return found

    def bounds(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """Start and end (exclusive) in the station's zone."""
        start, end = self.first_day, self.end_day
        return (datetime(start.year, start.month, start.day, tzinfo=zone),
                datetime(end.year, end.month, end.day, tzinfo=zone))


def alert_increments(*, received_at: datetime, category: str, unit_id: str, zone: tzinfo) -> list[Increment]:
    """What one alert adds: +1 to its category, for the station and its unit, in its week, month and year."""
    day = received_at.astimezone(zone).date()
    unit = field_key(unit_id)
    return [(Period.of(kind, day).doc_id, {f"c.{category}": 1, f"u.{unit}.{category}": 1}) for kind in PERIOD_KINDS]


# --- the figures -------------------------------------------------------------------------------


def change_pct(now: int, before: int) -> float | None:
    """The change from `before` to `now` in percent of `before`, one decimal; None without a base."""
    return None if before == 0 else round((now - before) * 100 / before, 1)


def _compared(now: int, previous: int, year_before: int) -> dict[str, Any]:
    return {"count": now, "previous": previous, "year_before": year_before,
            "change_pct": change_pct(now, previous), "yoy_pct": change_pct(now, year_before)}


@dataclass(frozen=True)
class Counts:
    """One period's roll-up: per category for the station, per unit and category."""

    station: Mapping[str, int]
    units: Mapping[str, Mapping[str, int]]

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Counts:
        if not doc:
            return cls({}, {})
        units = {from_field_key(u): dict(c) for u, c in (doc.get("u") or {}).items()}
        return cls(dict(doc.get("c") or {}), units)

    def of(self, categories: Iterable[str], unit: str | None = None) -> int:
        counts = self.station if unit is None else self.units.get(unit, {})
        return sum(int(counts.get(c, 0)) for c in categories)


@dataclass(frozen=True)
class Satisfaction:
    """Rating's weekly figures added over a period's weeks."""

    satisfied: int = 0
    basically: int = 0
    dissatisfied: int = 0

    @property
    def rated(self) -> int:
        return self.satisfied + self.basically + self.dissatisfied

    @property
    def rate(self) -> float | None:
        return None if self.rated == 0 else round((self.satisfied + self.basically) / self.rated, 4)

    @classmethod
    def over(cls, weeks: Iterable[Mapping[str, Any]]) -> Satisfaction:
        rows = list(weeks)
        return cls(*(sum(int(w.get(k, 0)) for w in rows) for k in ("satisfied", "basically", "dissatisfied")))


@dataclass(frozen=True)
class Classes:
    """Which categories the station counts as preventable, criminal and public-order (settings)."""

    preventable: Sequence[str]
    criminal: Sequence[str]
    public_order: Sequence[str]


def trends(
    *,
    period: Period,
    by: By,
    now: Counts,
    previous: Counts,
    year_before: Counts,
    satisfaction: Mapping[str, Satisfaction],
    classes: Classes,
) -> dict[str, Any]:
    """The answer of `GET /v1/trends`: rows by category or unit, the total, the preventable share and
    the 两降一升 panel. `satisfaction` maps 'now', 'previous' and 'year_before' to the period's figure."""
    periods = {"now": now, "previous": previous, "year_before": year_before}
    if by == "category":
        seen = [c for c in CATEGORIES if any(p.station.get(c) for p in periods.values())]
        rows = [{"category": c, **_compared(*(p.of([c]) for p in periods.values()))} for c in seen]
    else:
        units = sorted({u for p in periods.values() for u in p.units})
        rows = [
            {"unit_id": u, **_compared(*(p.of(CATEGORIES, u) for p in periods.values())),
             "preventable": now.of(classes.preventable, u)}
            for u in units
        ]
    total = [p.of(CATEGORIES) for p in periods.values()]
    preventable = [p.of(classes.preventable) for p in periods.values()]
    criminal = _compared(*(p.of(classes.criminal) for p in periods.values()))
    public_order = _compared(*(p.of(classes.public_order) for p in periods.values()))
    sat = {k: satisfaction.get(k, Satisfaction()) for k in periods}
    sat_now, sat_then = sat["now"].rate, sat["year_before"].rate
    sat_up = None if sat_now is None or sat_then is None else sat_now > sat_then
    criminal["down"] = criminal["count"] < criminal["year_before"]
    public_order["down"] = public_order["count"] < public_order["year_before"]
    return {
        "period": period.kind,
        "label": period.label,
        "previous": period.previous().label,
        "year_before": period.year_before().label,
        "by": by,
        "rows": rows,
        "total": _compared(*total),
        "preventable": {
            "categories": list(classes.preventable),
            **_compared(*preventable),
            "share": _share(preventable[0], total[0]),
            "share_previous": _share(preventable[1], total[1]),
            "share_year_before": _share(preventable[2], total[2]),
        },
        "panel": {
            "criminal": {"categories": list(classes.criminal), **criminal},
            "public_order": {"categories": list(classes.public_order), **public_order},
            "satisfaction": {
                "rate": sat_now, "previous_rate": sat["previous"].rate, "year_before_rate": sat_then,
                "rated": sat["now"].rated, "weeks": period.weeks(), "up": sat_up,
            },
            "achieved": bool(criminal["down"] and public_order["down"] and sat_up),
        },
    }


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def rebuild(alerts: Iterable[tuple[datetime, str, str]], zone: tzinfo) -> dict[str, dict[str, Any]]:
    """The roll-up documents from (received_at, category, unit) of every alert: what the increments add up to."""
    docs: dict[str, dict[str, Any]] = {}
    for received_at, category, unit_id in alerts:
        for doc_id, delta in alert_increments(received_at=received_at, category=category, unit_id=unit_id, zone=zone):
            doc = docs.setdefault(doc_id, {"_id": doc_id, "c": {}, "u": {}})
            for path, n in delta.items():
                scope, *rest = path.split(".")
                target = doc[scope]
                for step in rest[:-1]:
                    target = target.setdefault(step, {})
                target[rest[-1]] = target.get(rest[-1], 0) + n
    return docs
