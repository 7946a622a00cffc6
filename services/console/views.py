"""Pure shaping of what the APIs answer into what a page shows (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

#: alerts not yet taken in hand: the duty desk's waiting queue
WAITING = ("received", "unassigned", "assigned")
#: the gates in order, then beyond (SPEC §2.2)
LEVELS = ("scene", "community", "village", "town", "escalated_out")
#: dispute states still being worked on
OPEN_DISPUTE_STATES = ("reported", "mediating", "escalated", "reopened")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def queue_order(alerts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The waiting alerts, urgent (priority 1) first, then the oldest first; one row per alert."""
    seen: dict[str, dict[str, Any]] = {}
    for a in alerts:
        if a.get("state") in WAITING:
            seen[a["alert_id"]] = a
    return sorted(seen.values(), key=lambda a: (a.get("priority", 2), a.get("received_at") or "", a["alert_id"]))


def recent(alerts: Iterable[dict[str, Any]], now: datetime, hours: float) -> list[dict[str, Any]]:
    """Alerts received within the last `hours` (each once), for the map."""
    since = now - timedelta(hours=hours)
    found: dict[str, dict[str, Any]] = {}
    for a in alerts:
        at = parse_time(a.get("received_at"))
        if at is not None and at >= since:
            found[a["alert_id"]] = a
    return list(found.values())


def end_of_day(now: datetime, zone: ZoneInfo) -> datetime:
    """The end of the station's day `now` falls in (tonight's midnight)."""
    local = now.astimezone(zone)
    return datetime.combine(local.date() + timedelta(days=1), time(), zone)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), zone)
    return start, start + timedelta(days=1)


#: the smallest step of a time as the services store it (epoch milliseconds)
TICK = timedelta(milliseconds=1)


def callbacks_due_on(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """notify's `due_from`/`due_to` (from inclusive, to exclusive) for the callbacks whose last day is `day`.

    A callback's `due_at` is the end of its last day: the next midnight, exclusive (shown 23:59:59).
    So a callback of today is due at tonight's midnight, and one due at this morning's midnight was
    yesterday's (overdue, on leadership's list).
    """
    start, end = day_bounds(day, zone)
    return start + TICK, end + TICK


def board(disputes: Iterable[dict[str, Any]], states: tuple[str, ...] = OPEN_DISPUTE_STATES
          ) -> dict[str, list[dict[str, Any]]]:
    """Disputes in `states` per level (every level a column, even empty), overdue first, then by due time."""
    columns: dict[str, list[dict[str, Any]]] = {level: [] for level in LEVELS}
    for d in disputes:
        if d.get("state") in states and d.get("level") in columns:
            columns[d["level"]].append(d)
    for cards in columns.values():
        cards.sort(key=lambda d: (not d.get("overdue"), d.get("next_due_at") or "9999", d["dispute_id"]))
    return columns


def dispute_deadlines(disputes: Iterable[dict[str, Any]], now: datetime, zone: ZoneInfo) -> list[dict[str, Any]]:
    """First contacts due before tonight and follow-ups due by tonight: overdue first, then the soonest.

    Each item: the dispute, `kind` (contact or followup), `due` and whether it is `late` (due before now).
    """
    tonight = end_of_day(now, zone)
    items = []
    for d in disputes:
        if d.get("first_contact_at") is None and d.get("state") in OPEN_DISPUTE_STATES:
            due = parse_time(d.get("first_contact_due_at"))
            if due is not None and due < tonight:
                late = due <= now or bool(d.get("overdue"))
                items.append({"dispute": d, "kind": "contact", "due": due, "late": late})
        if d.get("state") == "resolved" and d.get("followup_done_at") is None:
            due = parse_time(d.get("followup_due_at"))
            if due is not None and due < tonight:
                items.append({"dispute": d, "kind": "followup", "due": due, "late": due <= now})
    items.sort(key=lambda i: (not i["late"], i["due"]))
    return items


def next_level(level: str) -> str | None:
    i = LEVELS.index(level) if level in LEVELS else -1
    return LEVELS[i + 1] if 0 <= i < len(LEVELS) - 1 else None


def per_officer(callbacks: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Callbacks grouped by officer (those with none under 未指派), each group by deadline."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in callbacks:
        groups.setdefault(c.get("officer_id") or "未指派", []).append(c)
    for items in groups.values():
        items.sort(key=lambda c: (c.get("due_at") or "", c.get("callback_id", "")))
    return dict(sorted(groups.items()))


def totals(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A weekly report's rows over all channels (one per officer, unit or the station)."""
    if not report:
        return []
    return [r for r in report.get("rows", []) if r.get("channel") == "all"]


def chart_data(this_week: dict[str, Any] | None, last_week: dict[str, Any] | None) -> dict[str, Any]:
    """What the ECharts options of one scope need: keys, rates (%), counts per level, last week's rate."""
    rows = totals(this_week)
    before = {r["key"]: r for r in totals(last_week)}
    keys = sorted({r["key"] for r in rows} | set(before))
    now = {r["key"]: r for r in rows}

    def pct(row: dict[str, Any] | None, field: str) -> float | None:
        value = (row or {}).get(field)
        return None if value is None else round(value * 100, 1)

    return {
        "keys": keys,
        "rate": [pct(now.get(k), "satisfaction_rate") for k in keys],
        "strict": [pct(now.get(k), "strict_rate") for k in keys],
        "last_rate": [pct(before.get(k), "satisfaction_rate") for k in keys],
        "satisfied": [now.get(k, {}).get("satisfied", 0) for k in keys],
        "basically": [now.get(k, {}).get("basically", 0) for k in keys],
        "dissatisfied": [now.get(k, {}).get("dissatisfied", 0) for k in keys],
    }


def previous_week(week: str) -> str:
    """The ISO week before `week` (2026-W01 -> 2025-W52 or W53)."""
    year, number = int(week[:4]), int(week[6:])
    monday = date.fromisocalendar(year, number, 1) - timedelta(days=7)
    y, w, _ = monday.isocalendar()
    return f"{y}-W{w:02d}"
