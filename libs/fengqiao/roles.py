"""docs/roles.md: which role may call which route, read from the routes each service builds.

Every `/v1` route declares its callers with `common.auth.require(*roles)`; this reads those
declarations from each registered service's app (built offline, as for the other generated
files), so a new route or a new service appears here by itself. The review of the table —
why each role may do what it may — is written below (`REVIEW`) and printed with it; a test
fails when the file drifts from the code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute

from common.personal import PERSONAL_DATA_ROLES
from common.settings import ROLES
from fengqiao.services import SERVICES

#: the order of the columns: who acts on cases first, then who reads, then machines
ROLE_ORDER = ("admin", "duty_desk", "officer", "mediator", "leadership", "viewer", "integration")
assert set(ROLE_ORDER) == ROLES

REVIEW = """\
## The roles

| role | who | personal data |
|---|---|---|
| `admin` | the station's system administrators | whole, one record at a time |
| `duty_desk` | the 110 duty desk (值班室): places and follows alerts | whole, one record at a time |
| `officer` | officers of the grid units (社区民警): act on alerts, cases, callbacks | whole, one record at a time |
| `mediator` | the mediation room (调解室): disputes | whole, one record at a time |
| `leadership` | the station's leaders (所领导): oversight, weekly figures, spot checks, follow-ups | masked |
| `viewer` | read-only screens and staff who only look | masked |
| `integration` | other systems: the SMS gateway (Kannel), the 110 system, the 12345 hotline | masked |

Listings mask personal data for every role; only a single record read by a role that acts on
it shows a phone or ID number whole, and each such read is recorded in the audit trail
(`GET /v1/audit`, admin only; see docs/operations.md). `admin` passes every route.

## Review (least privilege)

- **Who may read whole personal data**: the four roles that act on a case (SPEC §4). Leadership
  oversees and reads figures; a leader who must call a citizen reads the record as an officer.
- **Who may change what**: each command is allowed to the roles whose work it is — units' status,
  acknowledging and closing alerts: the duty desk and officers; the grid: admin only (it replaces
  the station's map as a whole); disputes: mediators, officers and the duty desk; completing a
  callback: officers and the duty desk; ratings: the staff who take them (duty desk and officers
  on the phone or on site); spot checks and follow-ups: leadership (and the duty desk for spot checks).
- **Leadership posting ratings** (found by this table): a rating is taken from a citizen by the
  one who called or visited; leaders review ratings, they do not take them, and a leader's rating
  of their own station would count in its satisfaction. `POST /v1/ratings` is refused to
  `leadership` (403) since this review.
- **What `integration` may do**: report disputes (12345 hotline → mediation) and hazards (信息员's apps
  → community), hand inbound SMS and
  delivery reports to notify, read what the embedded gateway sent. It reads no case, callback or
  rating, and sees nothing whole. Events from other systems come over NATS with their own NATS user
  (deploy/nats/auth.conf), not over HTTP.
- **`viewer`** reads lists and single records masked and changes nothing.
"""


def _roles_of(route: APIRoute) -> frozenset[str] | None:
    """The roles of the route's `require(...)`, wherever it sits among its dependencies; None: none found."""
    found: list[frozenset[str]] = []

    def walk(dependant: Any) -> None:
        roles = getattr(dependant.call, "roles", None)
        if isinstance(roles, frozenset):
            found.append(roles)
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    return found[0] if found else None


def _cell(role: str, roles: frozenset[str] | None) -> str:
    if role == "admin":
        return "✓"
    if roles is None:
        return "?"
    return "✓" if not roles or role in roles else ""


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, through the routers an app includes (FastAPI keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)
        elif hasattr(route, "routes") and not hasattr(route, "app"):
            yield from _routes(route.routes)


def rows(name: str) -> list[tuple[str, str, frozenset[str] | None, str]]:
    """(method, path, roles, own check) of each /v1 route of the service."""
    from fengqiao.deployfiles import offline_parts

    found = []
    for route in _routes(offline_parts(name).app.routes):
        if not route.path.startswith("/v1/"):
            continue
        roles = _roles_of(route)
        own = ""
        if roles is None:  # a route that checks its caller itself (the SMS gateway's Basic auth)
            checks = [d.call.__name__ for d in route.dependant.dependencies if d.call is not None]
            own = ", ".join(f"`{c}`" for c in checks) or "none"
        for method in sorted(route.methods or ()):
            found.append((method, route.path, roles, own))
    return sorted(found, key=lambda r: (r[1], r[0]))


def roles_markdown() -> str:
    lines = [
        "# Roles and routes",
        "",
        "Generated from the code by `fengqiao deployfiles` (a test fails when it drifts): every `/v1` route",
        "of every registered service and the roles its `require(...)` lets in. A token's roles come from",
        "`FQ_<SERVICE>_TOKENS` or, for the station's identity provider, from its roles claim",
        "(`FQ_<SERVICE>_OIDC_ROLES_CLAIM`, mapped by `FQ_<SERVICE>_OIDC_ROLE_MAP`; docs/configuration.md).",
        "",
        REVIEW,
    ]
    header = "| method | route | " + " | ".join(f"`{r}`" for r in ROLE_ORDER) + " |"
    rule = "|---|---|" + "---|" * len(ROLE_ORDER)
    for name in SERVICES:
        lines += [f"## {name}", "", header, rule]
        own_checks = []
        for method, path, roles, own in rows(name):
            cells = " | ".join(_cell(r, roles) for r in ROLE_ORDER)
            lines.append(f"| {method} | `{path}` | {cells} |")
            if own:
                own_checks.append(f"- `{method} {path}`: checked by {own} (see the route's description).")
        if own_checks:
            lines += ["", "`?`: the route checks its caller itself:", *own_checks]
        lines.append("")
    whole = ", ".join(f"`{r}`" for r in ROLE_ORDER if r in PERSONAL_DATA_ROLES)
    lines += [f"Roles that see personal data whole (one record at a time): {whole}.", ""]
    return "\n".join(lines)
