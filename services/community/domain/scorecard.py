"""The monthly sheet (一人一单, 月度考核): per officer per month, counted from what the services publish.

`MonthSheet` is one officer's month: counters and the keys of the facts already counted, so a fact
delivered twice counts once (the sheet is saved whole with a version check, like every aggregate).
`SheetRules` are the items and weights of the station's file (`scorecard.toml` beside this module
is the sample and the default); `score` turns counters into the ranked sheet.

An item is a *count* against a target (visits against the quota, disputes, hazards) scoring
`weight × min(1, value / target)`, or a *rate* (callbacks in time, satisfaction, alerts acknowledged
in time) scoring `weight × numerator / denominator`, and `weight × when_empty` when nothing was
due. For a unit the counters of its officers are summed and a count's target is multiplied by the
number of officers.
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

DEFAULT_RULES_PATH = Path(__file__).with_name("scorecard.toml")
DISPUTE_LEVELS = ("scene", "community", "village", "town", "escalated_out")

#: every counter a sheet keeps
COUNTERS = (
    "visits", "callbacks_due", "callbacks_in_time", "ratings", "ratings_satisfied", "alerts_assigned",
    "alerts_acked", "hazards_rectified", *(f"disputes_{level}" for level in DISPUTE_LEVELS),
)


@dataclass(frozen=True)
class ItemKind:
    kind: Literal["count", "rate"]
    label: str
    counter: str  # a count's value, a rate's numerator
    of: str | None = None  # a rate's denominator


#: the items a station's file may name, with what each counts
ITEMS: Mapping[str, ItemKind] = {
    "visits": ItemKind("count", "走访入户", "visits"),
    "callbacks": ItemKind("rate", "案件回访及时率", "callbacks_in_time", "callbacks_due"),
    "satisfaction": ItemKind("rate", "群众满意率", "ratings_satisfied", "ratings"),
    "disputes": ItemKind("count", "矛盾纠纷化解（村、镇）", "disputes"),
    "alerts": ItemKind("rate", "警情及时签收率", "alerts_acked", "alerts_assigned"),
    "hazards": ItemKind("count", "隐患整改", "hazards_rectified"),
}


class SheetRefused(Exception):
    """A fact the sheet cannot count (an unknown counter)."""


@dataclass(eq=False)
class MonthSheet:
    officer_id: str
    month: str  # 2026-11, station zone
    counts: dict[str, int] = field(default_factory=dict)
    applied: list[str] = field(default_factory=list)  # keys of the facts counted
    version: int = 0

    @staticmethod
    def ident(officer_id: str, month: str) -> str:
        return f"{month}/{officer_id}"

    @property
    def sheet_id(self) -> str:
        return self.ident(self.officer_id, self.month)

    def count(self, key: str, deltas: Mapping[str, int]) -> bool:
        """Count a fact once: False (nothing changes) if its key was counted already."""
        unknown = set(deltas) - set(COUNTERS)
        if unknown:
            raise SheetRefused(f"unknown counters {sorted(unknown)}")
        if key in self.applied:
            return False
        self.applied = [*self.applied, key]
        self.counts = {**self.counts, **{k: self.counts.get(k, 0) + v for k, v in deltas.items()}}
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"officer_id": self.officer_id, "month": self.month, "counts": dict(self.counts),
                "applied": list(self.applied)}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> MonthSheet:
        return cls(doc["officer_id"], doc["month"], dict(doc["counts"]), list(doc.get("applied", ())))


# --- the station's items and weights ----------------------------------------------------------


@dataclass(frozen=True)
class Item:
    key: str
    weight: float
    label: str
    target: float | None = None  # a count's; None: the visit quota for visits, 1 otherwise
    when_empty: float = 1.0  # a rate's score share when nothing was due: nothing missed
    levels: tuple[str, ...] = ("village", "town")  # disputes: the levels a settlement counts at

    @property
    def kind(self) -> ItemKind:
        return ITEMS[self.key]

    def counter_value(self, counts: Mapping[str, int], name: str) -> int:
        if name == "disputes":
            return sum(counts.get(f"disputes_{level}", 0) for level in self.levels)
        return counts.get(name, 0)


@dataclass(frozen=True)
class SheetRules:
    items: tuple[Item, ...]

    @property
    def max_total(self) -> float:
        return sum(i.weight for i in self.items)


def rules_from(data: Mapping[str, Any]) -> SheetRules:
    """Items from the file's `[items.<key>]` tables, in the file's order; ValueError naming what is wrong."""
    tables = data.get("items")
    if not isinstance(tables, dict) or not tables:
        raise ValueError("the scorecard file needs [items.<name>] tables")
    items = []
    for key, table in tables.items():
        if key not in ITEMS:
            raise ValueError(f"unknown scorecard item {key!r}; known: {', '.join(ITEMS)}")
        if not isinstance(table, dict) or "weight" not in table:
            raise ValueError(f"items.{key}: a weight is required")
        weight = table["weight"]
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ValueError(f"items.{key}.weight: a number, 0 or more")
        kind = ITEMS[key]
        target = table.get("target")
        if target is not None and (kind.kind != "count" or isinstance(target, bool)
                                   or not isinstance(target, int | float) or target <= 0):
            raise ValueError(f"items.{key}.target: a number above 0, for a count item")
        when_empty = table.get("when_empty", 1.0)
        if kind.kind != "rate" and "when_empty" in table or not 0 <= when_empty <= 1:
            raise ValueError(f"items.{key}.when_empty: from 0 to 1, for a rate item")
        levels = tuple(table.get("levels", ("village", "town")))
        if key != "disputes" and "levels" in table or not set(levels) <= set(DISPUTE_LEVELS):
            raise ValueError(f"items.{key}.levels: levels of {', '.join(DISPUTE_LEVELS)}, for disputes")
        items.append(Item(key, float(weight), str(table.get("label") or kind.label),
                          float(target) if target is not None else None, float(when_empty), levels))
    return SheetRules(tuple(items))


def load_rules(path: Path = DEFAULT_RULES_PATH) -> SheetRules:
    with path.open("rb") as file:
        return rules_from(tomllib.load(file))


@cache
def default_rules() -> SheetRules:
    return load_rules()


# --- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemScore:
    key: str
    label: str
    value: float  # a count, or a rate's numerator
    of: float | None  # a count's target, or a rate's denominator
    ratio: float | None  # value / of, capped at 1 for a count; None: a rate with nothing due
    score: float
    weight: float


@dataclass(frozen=True)
class SheetRow:
    rank: int
    ident: str  # the officer's or unit's id
    unit_id: str | None  # an officer's unit
    members: int
    total: float
    items: tuple[ItemScore, ...]


def score_item(item: Item, counts: Mapping[str, int], members: int, quota: int) -> ItemScore:
    kind = item.kind
    value = item.counter_value(counts, kind.counter)
    if kind.kind == "count":
        target = (item.target if item.target is not None else (quota if item.key == "visits" else 1)) * members
        ratio = min(1.0, value / target)  # targets and the quota are above 0 (the file and settings say so)
        return ItemScore(item.key, item.label, value, target, ratio, round(item.weight * ratio, 2), item.weight)
    of = item.counter_value(counts, str(kind.of))
    ratio = value / of if of > 0 else None
    share = item.when_empty if ratio is None else ratio
    return ItemScore(item.key, item.label, value, of, ratio, round(item.weight * share, 2), item.weight)


def score(
    rules: SheetRules, groups: Mapping[str, tuple[Mapping[str, int], int, str | None]], quota: int
) -> list[SheetRow]:
    """Rows ranked by total, highest first (ties share a rank, then by id); `groups` maps an officer's or
    unit's id to (its counters, its number of officers, the unit shown beside an officer)."""
    rows = []
    for ident, (counts, members, unit_id) in groups.items():
        items = tuple(score_item(item, counts, max(members, 1), quota) for item in rules.items)
        rows.append((round(sum(i.score for i in items), 2), ident, unit_id, members, items))
    rows.sort(key=lambda r: (-r[0], r[1]))
    ranked: list[SheetRow] = []
    for position, (total, ident, unit_id, members, items) in enumerate(rows, start=1):
        rank = ranked[-1].rank if ranked and ranked[-1].total == total else position
        ranked.append(SheetRow(rank, ident, unit_id, members, total, items))
    return ranked


def summed(sheets: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for counts in sheets:
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
    return total


# --- the sheet as a spreadsheet ----------------------------------------------------------------

SCOPE_LABELS = {"officer": "民警", "unit": "警务网格"}


def _value_cell(item: ItemScore, kind: str) -> str:
    if kind == "count":
        return f"{item.value:g}/{item.of:g}"
    if item.ratio is None:
        return ""
    return f"{item.ratio * 100:.1f}% ({item.value:g}/{item.of:g})"


def sheet_csv(rows: Iterable[SheetRow], rules: SheetRules, *, by: str) -> bytes:
    """The ranked sheet for the wall (结果公布上墙): UTF-8 with a BOM (Excel reads it as UTF-8); each item's
    value and score beside the total, a rate with nothing due left empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header = ["排名", SCOPE_LABELS[by], *(["所属网格"] if by == "officer" else ["民警人数"]), "总分"]
    for item in rules.items:
        header += [item.label, f"{item.label}得分"]
    writer.writerow(header)
    for row in rows:
        line = [str(row.rank), row.ident, (row.unit_id or "") if by == "officer" else str(row.members),
                f"{row.total:g}"]
        for scored, item in zip(row.items, rules.items, strict=True):
            line += [_value_cell(scored, item.kind.kind), f"{scored.score:g}"]
        writer.writerow(line)
    return out.getvalue().encode("utf-8-sig")
