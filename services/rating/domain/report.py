"""The weekly report (周报): roll-ups kept current as things happen, and the rows read from them.

A roll-up is one record per cell (week, scope, key, channel): scope officer (key officer_id), unit
(key unit_id) or station (key: the station's id, every rating); channel sms / phone / on_site.
Weeks are ISO weeks, Monday 00:00 to Sunday 24:00 in the station zone (`common.timefmt.iso_week`,
so 2026-W53 and weeks across a year end come out right). A record without an officer or a unit
counts in the cells it has.

What moves a cell (`increments(event)`, one `$inc` per cell for the store):

| event            | week of                  | change                                   |
|------------------|--------------------------|------------------------------------------|
| RatingRecorded   | the rating               | +1 on its level                          |
| RatingExcluded   | the rating               | −1 on its level, +1 excluded (counts against nobody) |
| SurveySent       | sending                  | +1 surveyed (sms)                        |
| SurveyFailed     | sending                  | −1 surveyed (sms): nobody was asked      |
| SurveyAnswered   | sending (same cohort)    | +1 answered (sms)                        |
| FollowupOverdue  | the rating               | +1 followups_overdue                     |
| FollowupCompleted, in time | the rating     | +1 followups_in_time                     |

`rebuild(ratings=, surveys=, followups=)` gives the same roll-ups from the records' present
state; the service runs it as a repair command. An excluded rating keeps its survey answered
and its follow-up counted (the follow-up was leadership's work, not the officer's).

Rates are None, not 0, when their denominator is 0: satisfaction = (satisfied + basically) /
rated, strict = satisfied / rated, response = answered / surveyed (rated excludes excluded).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, get_args

from rating.domain import events as ev
from rating.domain.levels import CHANNEL_LABELS, CHANNELS, LEVEL_LABELS
from rating.domain.model import Followup, Rating, Survey

Scope = Literal["officer", "unit", "station"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
SCOPE_LABELS: dict[str, str] = {"officer": "民警", "unit": "单位", "station": "派出所"}
ALL_CHANNELS = "all"
COUNTS = (
    "satisfied",
    "basically",
    "dissatisfied",
    "surveyed",
    "answered",
    "excluded",
    "followups_in_time",
    "followups_overdue",
)


@dataclass(frozen=True, order=True)
class Cell:
    week: str
    scope: str
    key: str
    channel: str

    @property
    def doc_id(self) -> str:
        """The roll-up document's id: one document per cell, updated with `$inc`."""
        return f"{self.week}|{self.scope}|{self.key}|{self.channel}"


@dataclass(frozen=True)
class Rollup:
    cell: Cell
    satisfied: int = 0
    basically: int = 0
    dissatisfied: int = 0
    surveyed: int = 0
    answered: int = 0
    excluded: int = 0  # spot check denied
    followups_in_time: int = 0
    followups_overdue: int = 0

    def plus(self, delta: Mapping[str, int]) -> Rollup:
        return replace(self, **{name: getattr(self, name) + n for name, n in delta.items()})

    @property
    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTS}

    def to_dict(self) -> dict[str, Any]:
        return {"_id": self.cell.doc_id, **asdict(self.cell), **self.counts}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Rollup:
        cell = Cell(*(doc[f.name] for f in fields(Cell)))
        return cls(cell, **{name: int(doc.get(name, 0)) for name in COUNTS})


Rollups = dict[Cell, Rollup]
Increment = tuple[Cell, dict[str, int]]


def cells(*, week: str, channel: str, officer_id: str | None, unit_id: str | None, station: str) -> list[Cell]:
    keys = [("officer", officer_id), ("unit", unit_id), ("station", station)]
    return [Cell(week, scope, key, channel) for scope, key in keys if key]


def increments(event: ev.RatingDomainEvent, *, station: str) -> list[Increment]:
    """The roll-up changes an event makes; [] for events the report does not count."""
    delta: dict[str, int]
    match event:
        case ev.RatingRecorded(level=level):
            delta = {level: 1}
        case ev.RatingExcluded(level=level):
            delta = {level: -1, "excluded": 1}
        case ev.SurveySent():
            delta = {"surveyed": 1}
        case ev.SurveyFailed():
            delta = {"surveyed": -1}
        case ev.SurveyAnswered():
            delta = {"answered": 1}
        case ev.FollowupOverdue():
            delta = {"followups_overdue": 1}
        case ev.FollowupCompleted(in_time=True):
            delta = {"followups_in_time": 1}
        case _:
            return []
    where = cells(
        week=event.week,  # type: ignore[attr-defined]
        channel=event.channel,  # type: ignore[attr-defined]
        officer_id=event.officer_id,  # type: ignore[attr-defined]
        unit_id=event.unit_id,  # type: ignore[attr-defined]
        station=station,
    )
    return [(cell, dict(delta)) for cell in where]


def apply(rollups: Mapping[Cell, Rollup], changes: Iterable[Increment]) -> Rollups:
    """New roll-ups with the changes added; the input is left as it is."""
    result = dict(rollups)
    for cell, delta in changes:
        result[cell] = result.get(cell, Rollup(cell)).plus(delta)
    return result


def merge(*parts: Mapping[Cell, Rollup]) -> Rollups:
    """Cell-wise sums (e.g. roll-ups rebuilt by shards)."""
    return apply({}, ((cell, rollup.counts) for part in parts for cell, rollup in part.items()))


def rebuild(
    *, ratings: Iterable[Rating], surveys: Iterable[Survey], followups: Iterable[Followup], station: str
) -> Rollups:
    """The roll-ups from the records as they are now: what the increments add up to."""
    changes: list[Increment] = []

    def add(delta: dict[str, int], *, week: str, channel: str, officer_id: str | None, unit_id: str | None) -> None:
        where = cells(week=week, channel=channel, officer_id=officer_id, unit_id=unit_id, station=station)
        changes.extend((cell, delta) for cell in where)

    for r in ratings:
        delta = {"excluded": 1} if r.state == "excluded" else {r.level: 1}
        add(delta, week=r.week, channel=r.channel, officer_id=r.officer_id, unit_id=r.unit_id)
    for s in surveys:
        if s.week is not None and s.state != "failed":
            delta = {"surveyed": 1, "answered": 1} if s.answered_at is not None else {"surveyed": 1}
            add(delta, week=s.week, channel="sms", officer_id=s.officer_id, unit_id=s.unit_id)
    for f in followups:
        if f.outcome is not None:
            delta = {f"followups_{f.outcome}": 1}
            add(delta, week=f.week, channel=f.channel, officer_id=f.officer_id, unit_id=f.unit_id)
    return apply({}, changes)


@dataclass(frozen=True)
class ReportRow:
    week: str
    scope: str
    key: str
    channel: str  # "all" or one of CHANNELS
    satisfied: int
    basically: int
    dissatisfied: int
    rated: int
    surveyed: int
    answered: int
    excluded: int
    followups_in_time: int
    followups_overdue: int
    satisfaction_rate: float | None
    strict_rate: float | None
    response_rate: float | None


def report_rows(rollups: Iterable[Rollup], *, week: str, scope: str) -> list[ReportRow]:
    """Per key (sorted): its total over the channels, then each channel that has anything."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")
    by_key: dict[str, dict[str, Rollup]] = {}
    for rollup in rollups:
        if rollup.cell.week == week and rollup.cell.scope == scope:
            by_key.setdefault(rollup.cell.key, {})[rollup.cell.channel] = rollup
    rows = []
    for key in sorted(by_key):
        channels = by_key[key]
        total = Rollup(Cell(week, scope, key, ALL_CHANNELS))
        for rollup in channels.values():
            total = total.plus(rollup.counts)
        rows.append(_row(total))
        rows.extend(_row(channels[c]) for c in CHANNELS if c in channels and any(channels[c].counts.values()))
    return rows


def _row(rollup: Rollup) -> ReportRow:
    rated = rollup.satisfied + rollup.basically + rollup.dissatisfied
    return ReportRow(
        **asdict(rollup.cell),
        **rollup.counts,
        rated=rated,
        satisfaction_rate=_rate(rollup.satisfied + rollup.basically, rated),
        strict_rate=_rate(rollup.satisfied, rated),
        response_rate=_rate(rollup.answered, rollup.surveyed),
    )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


CSV_COLUMNS = (
    ("周次", "week"),
    (None, "name"),  # 民警 / 单位 / 派出所, by scope
    ("编号", "key"),
    ("渠道", "channel"),
    (LEVEL_LABELS["satisfied"], "satisfied"),
    (LEVEL_LABELS["basically"], "basically"),
    (LEVEL_LABELS["dissatisfied"], "dissatisfied"),
    ("评价数", "rated"),
    ("满意率", "satisfaction_rate"),
    ("绝对满意率", "strict_rate"),
    ("发送调查数", "surveyed"),
    ("回复数", "answered"),
    ("回复率", "response_rate"),
    ("抽查不实剔除", "excluded"),
    ("不满意回访按时", "followups_in_time"),
    ("不满意回访超期", "followups_overdue"),
)
_CHANNEL_NAMES = {ALL_CHANNELS: "合计", **CHANNEL_LABELS}


def report_csv(rows: Iterable[ReportRow], *, scope: str, names: Mapping[str, str] | None = None) -> bytes:
    """The report as a spreadsheet: UTF-8 with a BOM (Excel reads it as UTF-8), rates as 95.0%,
    an empty cell for a rate without data; `names` maps keys to what the station calls them."""
    names = names or {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([label or SCOPE_LABELS[scope] for label, _ in CSV_COLUMNS])
    for row in rows:
        values = asdict(row) | {"name": names.get(row.key, row.key), "channel": _CHANNEL_NAMES[row.channel]}
        writer.writerow([_cell(values[name]) for _, name in CSV_COLUMNS])
    return out.getvalue().encode("utf-8-sig")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value * 100:.1f}%"
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text  # no formula from an id or a name
