"""Who may see and do what on the console: the roles each service's routes accept, as the console offers them.

The services decide (their `require(...)` answers 403); this table only keeps the console from offering
what a role would be refused. `admin` passes everywhere, as in the services.
"""

from __future__ import annotations

from collections.abc import Iterable

#: a thing shown or done -> the roles the service behind it accepts
ALLOWED: dict[str, frozenset[str]] = {
    # dispatch: GET /v1/units, /v1/alerts (Reader); ack, close (DutyDesk); assign (Dispatcher: the duty desk's word)
    "alerts.read": frozenset({"viewer", "duty_desk", "officer", "leadership"}),
    "alerts.act": frozenset({"duty_desk", "officer"}),
    "alerts.assign": frozenset({"duty_desk"}),
    # mediation: GET /v1/disputes (Reader); POST …/actions (Mediator)
    "disputes.read": frozenset({"viewer", "mediator", "officer", "leadership", "duty_desk"}),
    "disputes.act": frozenset({"mediator", "officer", "duty_desk"}),
    # notify: GET /v1/callbacks (Reader); POST …/complete (Officer)
    "callbacks.read": frozenset({"viewer", "officer", "leadership", "duty_desk"}),
    "callbacks.act": frozenset({"officer", "duty_desk"}),
    # rating: reports (Reader), follow-ups (FollowupReader), spot checks recorded (Checker)
    "ratings.read": frozenset({"viewer", "duty_desk", "officer", "mediator", "leadership"}),
    "followups.read": frozenset({"viewer", "duty_desk", "leadership"}),
    "spotchecks.act": frozenset({"duty_desk", "leadership"}),
    "followups.act": frozenset({"leadership"}),
}

#: the live families (SSE event names) a role may be sent: those of the services it may read
FAMILY_NEEDS = {"alerts": "alerts.read", "units": "alerts.read", "grid": "alerts.read",
                "disputes": "disputes.read", "callbacks": "callbacks.read", "ratings": "ratings.read"}


def may(roles: Iterable[str], what: str) -> bool:
    granted = set(roles)
    return "admin" in granted or bool(granted & ALLOWED[what])


def families(roles: Iterable[str]) -> frozenset[str]:
    roles = tuple(roles)
    return frozenset(f for f, need in FAMILY_NEEDS.items() if may(roles, need))
