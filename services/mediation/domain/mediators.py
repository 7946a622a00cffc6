"""Who mediated (谁调解的): the teams, pavilions and village cadres named on a dispute, and who settled it.

A dispute names its mediators as participants: a mediation team (纠纷调解队), a pavilion (调解亭), a
police–enterprise team (警企调解队), a village cadre of the third gate (村居干部), an officer, or
another body. Each is known by the id the station gives it (the same team on many disputes), so the
statistics can say which team settled what. A resolution names the participant who settled it
(`settled_by`); when it names none and exactly one participant was named, that one settled it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

MediatorKind = Literal["mediation_team", "pavilion", "police_enterprise_team", "village_cadre", "officer", "other"]
MEDIATOR_KINDS: tuple[MediatorKind, ...] = get_args(MediatorKind)
KIND_LABELS: dict[str, str] = {
    "mediation_team": "纠纷调解队", "pavilion": "调解亭", "police_enterprise_team": "警企调解队",
    "village_cadre": "村居干部", "officer": "民警", "other": "其他",
}
#: the most participants one dispute names
MAX_MEDIATORS = 20


@dataclass(frozen=True)
class Mediator:
    mediator_id: str
    name: str
    kind: str
    joined_at: datetime
    joined_by: str


def mediator_refusal(named: Iterable[Mediator], mediator_id: str, name: str, kind: str) -> str | None:
    """Why this participant cannot be named on a dispute that names `named` already; None if it can."""
    named = list(named)
    if kind not in MEDIATOR_KINDS:
        return f"unknown kind {kind!r}; expected one of {', '.join(MEDIATOR_KINDS)}"
    if not mediator_id.strip() or not name.strip():
        return "a mediator needs an id and a name"
    if any(m.mediator_id == mediator_id for m in named):
        return f"{mediator_id} is named on this dispute already"
    if len(named) >= MAX_MEDIATORS:
        return f"a dispute names at most {MAX_MEDIATORS} mediators"
    return None


def settler(named: Iterable[Mediator], settled_by: str | None) -> tuple[Mediator | None, str | None]:
    """(who settled, why that cannot be) for a resolution naming `settled_by` (or nobody)."""
    named = list(named)
    if settled_by is None:
        return (named[0] if len(named) == 1 else None), None
    found = next((m for m in named if m.mediator_id == settled_by), None)
    if found is None:
        return None, f"settled_by {settled_by!r} is not named on this dispute (name it first: action 'join')"
    return found, None
