"""Mediation statistics over the disputes of a period (the caller picks them, by reported_at).

Who mediated: each named participant (team, pavilion, cadre…) with the disputes of the period it
joined and those it settled, per level; and the resolutions per kind of participant (`unnamed`:
resolved with nobody named as settling it).

Shares are of the disputes opened in the period, so they read as "of what came in, how much was
settled at or below the village / the town" (小纠纷不出村、大矛盾不出镇); None when nothing opened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import median

from mediation.domain.mediators import KIND_LABELS, MEDIATOR_KINDS
from mediation.domain.model import LEVELS, Dispute

UNNAMED = "unnamed"


@dataclass(frozen=True)
class MediatorStats:
    mediator_id: str
    name: str  # as named on its latest dispute
    kind: str
    kind_label: str
    joined: int
    resolved: int  # settled by it (settled_by)
    resolved_by_level: dict[str, int]  # every level, zeros included


@dataclass(frozen=True)
class DisputeStats:
    opened: int
    resolved: int
    resolved_by_level: dict[str, int]  # every level, zeros included
    settled_in_village_share: float | None  # resolved at scene, community or village
    settled_in_town_share: float | None  # … or town
    escalated_out: int  # 上交, whatever the outcome
    closed_unresolved: int
    overdue: int  # first contact later than its deadline (事不过夜)
    recurrences: int
    high_risk: int
    median_seconds_to_first_contact: float | None
    median_seconds_to_resolution: float | None
    resolved_by_mediator_kind: dict[str, int]  # every kind and `unnamed`, zeros included
    mediators: list[MediatorStats]  # most resolutions first, then by id


def mediator_stats(disputes: Iterable[Dispute]) -> list[MediatorStats]:
    """Per named participant: the disputes it joined and those it settled (resolved, settled_by it)."""
    joined: dict[str, int] = {}
    named: dict[str, tuple[str, str, object]] = {}  # id -> (name, kind, when named) of its latest naming
    settled: dict[str, dict[str, int]] = {}
    for dispute in disputes:
        for mediator in dispute.mediators:
            joined[mediator.mediator_id] = joined.get(mediator.mediator_id, 0) + 1
            latest = named.get(mediator.mediator_id)
            if latest is None or latest[2] <= mediator.joined_at:  # type: ignore[operator]
                named[mediator.mediator_id] = (mediator.name, mediator.kind, mediator.joined_at)
        if dispute.state == "resolved" and dispute.settled_by is not None:
            levels = settled.setdefault(dispute.settled_by, dict.fromkeys(LEVELS, 0))
            levels[dispute.level] += 1
    rows = [
        MediatorStats(
            mediator_id=ident, name=name, kind=kind, kind_label=KIND_LABELS.get(kind, kind), joined=joined[ident],
            resolved=sum(settled.get(ident, {}).values()),
            resolved_by_level=settled.get(ident, dict.fromkeys(LEVELS, 0)),
        )
        for ident, (name, kind, _) in named.items()
    ]
    return sorted(rows, key=lambda r: (-r.resolved, r.mediator_id))


def dispute_stats(disputes: Iterable[Dispute]) -> DisputeStats:
    disputes = list(disputes)
    resolved = [d for d in disputes if d.state == "resolved"]
    by_level: dict[str, int] = {level: sum(1 for d in resolved if d.level == level) for level in LEVELS}

    def share_up_to(top: str) -> float | None:
        if not disputes:
            return None
        return sum(by_level[level] for level in LEVELS[: LEVELS.index(top) + 1]) / len(disputes)

    contact_seconds = [(d.first_contact_at - d.reported_at).total_seconds() for d in disputes if d.first_contact_at]
    resolution_seconds = [(d.resolved_at - d.reported_at).total_seconds() for d in resolved if d.resolved_at]
    return DisputeStats(
        opened=len(disputes),
        resolved=len(resolved),
        resolved_by_level=by_level,
        settled_in_village_share=share_up_to("village"),
        settled_in_town_share=share_up_to("town"),
        escalated_out=sum(1 for d in disputes if d.level == "escalated_out"),
        closed_unresolved=sum(1 for d in disputes if d.state == "closed_unresolved"),
        overdue=sum(1 for d in disputes if d.overdue),
        recurrences=sum(1 for d in disputes if d.recurrence_of),
        high_risk=sum(1 for d in disputes if d.high_risk),
        median_seconds_to_first_contact=median(contact_seconds) if contact_seconds else None,
        median_seconds_to_resolution=median(resolution_seconds) if resolution_seconds else None,
        resolved_by_mediator_kind=_by_kind(resolved),
        mediators=mediator_stats(disputes),
    )


def _by_kind(resolved: list[Dispute]) -> dict[str, int]:
    counts = dict.fromkeys((*MEDIATOR_KINDS, UNNAMED), 0)
    for dispute in resolved:
        who = next((m for m in dispute.mediators if m.mediator_id == dispute.settled_by), None)
        counts[who.kind if who else UNNAMED] += 1
    return counts
