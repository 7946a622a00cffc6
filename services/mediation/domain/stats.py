"""Mediation statistics over the disputes of a period (the caller picks them, by reported_at).

Shares are of the disputes opened in the period, so they read as "of what came in, how much was
settled at or below the village / the town" (小纠纷不出村、大矛盾不出镇); None when nothing opened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import median

from mediation.domain.model import LEVELS, Dispute


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
    )
