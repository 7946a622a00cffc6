"""The community HTTP API: thin — validate, call a use case, render in the station's zone."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    RootModel,
    WithJsonSchema,
)

from common.contracts.alerts import Party
from common.contracts.base import Identifier
from common.contracts.community import FindingKind, RiskLevel, Severity
from common.errors import Invalid
from common.http import ERROR_RESPONSES, Principal, context, create_app, masked, personal, require
from common.runtime import Runtime
from common.timefmt import local, month_bounds, month_label
from community import handlers
from community.domain import visits as visit_rules
from community.domain.hazards import Hazard
from community.domain.keypersons import KeyPerson
from community.domain.scorecard import SheetRow, sheet_csv
from community.handlers import Community

Reader = Annotated[Principal, Depends(require("viewer", "officer", "leadership", "duty_desk", "mediator"))]
Officer = Annotated[Principal, Depends(require("officer"))]
#: information officers' apps (信息员) report hazards on a token of their own
HazardReporter = Annotated[Principal, Depends(require("officer", "integration"))]
Supervisor = Annotated[Principal, Depends(require("officer", "leadership"))]
#: who sees a key person whole: the officers who act on the register (and admin); masked for every other role
KEY_PERSON_ROLES = frozenset({"officer", "admin"})

MAX_OFFSET = 100_000
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Text = Annotated[str, Field(max_length=4000)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"\S")]


def _known_month(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a month is written like 2026-11")
    month_bounds(value, _UTC)  # whether a month exists does not depend on the zone
    return value


_UTC = ZoneInfo("UTC")
Month = Annotated[str, PlainValidator(_known_month, json_schema_input_type=str),
                  WithJsonSchema({"type": "string", "pattern": r"^\d{4}-\d{2}$", "examples": ["2026-11"]})]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FindingBody(_Body):
    kind: FindingKind
    summary: str = Field(min_length=1, pattern=r"\S", max_length=2000)
    category: str = Field(default="other", min_length=1, max_length=30)
    parties: list[Party] = Field(default_factory=list, max_length=50, description="A dispute's parties.")
    hazard_kind: str | None = Field(default=None, max_length=40)
    severity: Severity | None = None
    responsible_unit: str | None = Field(default=None, max_length=100)
    person_id: Identifier | None = None

    def finding(self) -> visit_rules.Finding:
        parties = tuple(visit_rules.Party(p.party_id, p.name, p.phone, p.role) for p in self.parties)
        return visit_rules.Finding(**{**self.model_dump(exclude={"parties"}), "parties": parties})


class VisitCreate(_Body):
    """A household visit (入户走访): where, when, who was met, what was heard (社情民意), what was found."""

    officer_id: Identifier
    visited_at: AwareDatetime
    household: str = Field(min_length=1, pattern=r"\S", max_length=100, description="户主 or the household's name.")
    address: str = Field(min_length=1, pattern=r"\S", max_length=200)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    unit_id: Identifier | None = Field(default=None, description="Checked against the zone holding the household.")
    met: list[Annotated[str, Field(max_length=60)]] = Field(default_factory=list, max_length=30)
    opinions: Text = Field(default="", description="社情民意: what the household said.")
    findings: list[FindingBody] = Field(default_factory=list, max_length=20)
    request_id: Identifier | None = Field(default=None, description="Retries with the same id record one visit.")


class HazardCreate(_Body):
    """A hazard reported by an information officer (信息员) or an officer."""

    reported_by: Name
    place: str = Field(min_length=1, pattern=r"\S", max_length=200)
    lon: float | None = Field(default=None, ge=-180, le=180, description="Given with lat, or neither.")
    lat: float | None = Field(default=None, ge=-90, le=90)
    kind: str = Field(min_length=1, pattern=r"\S", max_length=40, description="fire, gas, electric, building…")
    severity: Severity
    responsible_unit: str = Field(min_length=1, pattern=r"\S", max_length=100, description="责任单位")
    request_id: Identifier | None = None


class _Action(_Body):
    actor: Name


class Assign(_Action):
    action: Literal["assign"]
    officer_id: Identifier


class Rectify(_Action):
    action: Literal["rectify"]
    note: Text = ""


class Verify(_Action):
    action: Literal["verify"]
    passed: bool
    reason: Text = ""


class _Named(BaseModel):
    action: Literal["assign", "rectify", "verify"]


def _known_action(body: Any) -> Any:
    _Named.model_validate(body)
    return body


class HazardAction(RootModel[Annotated[Assign | Rectify | Verify, Field(discriminator="action"),
                                       BeforeValidator(_known_action)]]):
    """assign (to an officer), rectify (reported fixed), verify (checked on site: passed, or not with a reason)."""


class KeyPersonCreate(_Body):
    name: str = Field(min_length=1, pattern=r"\S", max_length=60)
    id_number: str | None = Field(default=None, max_length=30, pattern=r"^[0-9]{17}[0-9Xx]$|^[0-9]{15}$")
    phone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 \-]{5,30}$")
    address: str | None = Field(default=None, max_length=200)
    category: str = Field(min_length=1, pattern=r"\S", max_length=30, description="社区矫正, 刑满释放, 吸毒, 精神障碍…")
    risk_level: RiskLevel
    officer_id: Identifier
    unit_id: Identifier | None = Field(default=None, description="Default: the grid unit listing the officer.")
    cadence_days: int | None = Field(default=None, ge=1, le=366, description="Default: by the risk level.")
    request_id: Identifier | None = None


class ReviewBody(_Body):
    actor: Name
    note: Text = ""
    risk_level: RiskLevel | None = Field(default=None, description="A new level changes the cadence from now on.")


class NoteBody(_Body):
    actor: Name
    text: str = Field(min_length=1, pattern=r"\S", max_length=4000)


router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
CommunityDep = Annotated[Community, Depends(context)]


def _month(c: Community, month: str | None) -> str:
    return month or month_label(c.clock.now(), c.settings.zone)


# --- visits ------------------------------------------------------------------------------------


def _visit_view(c: Community, visit: visit_rules.Visit, who: Principal, *, listing: bool = False) -> dict[str, Any]:
    return personal(local({**visit.to_dict(), "month": c.month(visit.visited_at)}, c.settings.zone), who,
                    listing=listing)


@router.post("/visits", tags=["visits"], status_code=201,
             responses={200: {"description": "This request_id recorded a visit before: that visit."}})
async def record_visit(body: VisitCreate, who: Officer, c: CommunityDep, response: Response) -> dict[str, Any]:
    """Record a visit (201); its findings open a dispute in mediation, a hazard or a note on a key person."""
    told = body.model_dump(exclude={"findings", "request_id"})
    visit, new = await handlers.record_visit(c, **told, findings=[f.finding() for f in body.findings],
                                             request_id=body.request_id)
    if not new:
        response.status_code = 200
    return _visit_view(c, visit, who)


@router.get("/visits/{visit_id}", tags=["visits"])
async def get_visit(visit_id: Identifier, who: Reader, c: CommunityDep) -> dict[str, Any]:
    return _visit_view(c, await c.visit_uow.get(visit_id), who)


@router.get("/visits", tags=["visits"])
async def list_visits(who: Reader, c: CommunityDep, officer_id: Identifier | None = None, month: Month | None = None,
                      limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    """Newest first; phones masked in a list."""
    found = await c.visits.find(officer_id=officer_id, month=month, limit=limit, offset=offset)
    return [_visit_view(c, v, who, listing=True) for v in found]


@router.get("/officers/{officer_id}/progress", tags=["visits"])
async def visit_progress(officer_id: Identifier, _: Reader, c: CommunityDep, month: Month | None = None
                         ) -> dict[str, Any]:
    """The officer's visits in the month (default: this month) against the quota."""
    return await handlers.visit_progress(c, officer_id, _month(c, month))


# --- hazards -----------------------------------------------------------------------------------


def _hazard_view(c: Community, hazard: Hazard) -> dict[str, Any]:
    return local({**hazard.to_dict(), "month": c.month(hazard.reported_at)}, c.settings.zone)


@router.post("/hazards", tags=["hazards"], status_code=201,
             responses={200: {"description": "This request_id reported a hazard before: that hazard."}})
async def report_hazard(body: HazardCreate, _: HazardReporter, c: CommunityDep, response: Response) -> dict[str, Any]:
    """A hazard (安全隐患) with its deadline by severity; overdue if not rectified by then."""
    if (body.lon is None) != (body.lat is None):
        raise Invalid("lat" if body.lat is None else "lon", "lon and lat are given together, or neither")
    hazard, new = await handlers.report_hazard(c, **body.model_dump(exclude={"request_id"}),
                                               request_id=body.request_id)
    if not new:
        response.status_code = 200
    return _hazard_view(c, hazard)


@router.get("/hazards/{hazard_id}", tags=["hazards"])
async def get_hazard(hazard_id: Identifier, _: Reader, c: CommunityDep) -> dict[str, Any]:
    return _hazard_view(c, await c.hazard_uow.get(hazard_id))


@router.get("/hazards", tags=["hazards"])
async def list_hazards(_: Reader, c: CommunityDep, state: Literal["reported", "assigned", "rectified", "verified"]
                       | None = None, month: Month | None = None,
                       overdue: Annotated[bool | None, Query(description="Not rectified by the deadline.")] = None,
                       limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    """Newest reports first; `overdue=true` is leadership's list of hazards past their deadline."""
    found = await c.hazards.find(state=state, month=month, overdue=overdue, limit=limit, offset=offset)
    return [_hazard_view(c, h) for h in found]


@router.post("/hazards/{hazard_id}/actions", tags=["hazards"])
async def act_on_hazard(hazard_id: Identifier, request: HazardAction, _: Supervisor, c: CommunityDep
                        ) -> dict[str, Any]:
    """assign, rectify or verify; a move the hazard refuses is 409."""
    match body := request.root:
        case Assign():
            hazard = await handlers.act_on_hazard(
                c, hazard_id, lambda h, now: h.assign(now=now, actor=body.actor, officer_id=body.officer_id))
        case Rectify():
            hazard = await handlers.act_on_hazard(
                c, hazard_id, lambda h, now: h.rectify(now=now, actor=body.actor, note=body.note))
        case Verify():
            hazard = await handlers.act_on_hazard(
                c, hazard_id, lambda h, now: h.verify(now=now, actor=body.actor, passed=body.passed,
                                                      reason=body.reason))
    return _hazard_view(c, hazard)


@router.get("/stats/hazards", tags=["hazards"])
async def hazard_counts(
    _: Reader, c: CommunityDep, month: Month | None = None,
    by: Annotated[Literal["responsible_unit", "unit_id"], Query(description="责任单位, or the grid unit")]
    = "responsible_unit",
) -> dict[str, Any]:
    """Per responsible unit (or grid unit), the hazards reported in the month (default: this month) and how far
    they got."""
    month = _month(c, month)
    return {"month": month, "by": by, "units": await handlers.hazard_counts(c, month, by)}


# --- key persons -------------------------------------------------------------------------------


def _sees_whole(who: Principal) -> bool:
    return bool(who.roles & KEY_PERSON_ROLES)


def _cover(text: str | None, keep: int) -> str | None:
    return text if not text else text[:keep] + "*" * max(len(text) - keep, 2)


def _person_view(c: Community, person: KeyPerson, who: Principal) -> dict[str, Any]:
    data = local({**person.to_dict(), "overdue": person.overdue}, c.settings.zone)
    if _sees_whole(who):
        return data
    data = masked(data)
    data["name"], data["address"] = _cover(data["name"], 1), _cover(data["address"], 3)
    data["notes"] = [{**n, "text": "（已隐藏）"} for n in data["notes"]]
    data["reviews"] = [{**r, "note": "（已隐藏）" if r["note"] else ""} for r in data["reviews"]]
    return data


async def _shown(c: Community, persons: list[KeyPerson], who: Principal, request: Request) -> list[dict[str, Any]]:
    await handlers.read_key_persons(c, persons, who=who.token_hint, roles=who.roles, route=request.url.path,
                                    whole=_sees_whole(who))
    # the register is personal data even masked (being on it): every read goes to the platform's audit trail
    who.shown_whole.extend(f"person_id={p.person_id}" for p in persons)
    return [_person_view(c, p, who) for p in persons]


@router.post("/keypersons", tags=["key persons"], status_code=201,
             responses={200: {"description": "This request_id registered the person before: that entry."}})
async def register_key_person(body: KeyPersonCreate, who: Officer, c: CommunityDep, response: Response
                              ) -> dict[str, Any]:
    person, new = await handlers.register_key_person(c, **body.model_dump(exclude={"request_id"}),
                                                     request_id=body.request_id)
    if not new:
        response.status_code = 200
    return _person_view(c, person, who)


@router.get("/keypersons/{person_id}", tags=["key persons"])
async def get_key_person(person_id: Identifier, who: Reader, c: CommunityDep, request: Request) -> dict[str, Any]:
    """Whole to officers, masked (name, ID number, phone, address, notes) for other roles; every read recorded."""
    return (await _shown(c, [await c.person_uow.get(person_id)], who, request))[0]


@router.get("/keypersons", tags=["key persons"])
async def list_key_persons(who: Reader, c: CommunityDep, request: Request, officer_id: Identifier | None = None,
                           overdue: bool | None = None, limit: Limit = 100, offset: Offset = 0
                           ) -> list[dict[str, Any]]:
    """The register; every read recorded with the ids it showed."""
    found = await c.keypersons.find(officer_id=officer_id, overdue=overdue, limit=limit, offset=offset)
    return await _shown(c, found, who, request)


@router.post("/keypersons/{person_id}/reviews", tags=["key persons"])
async def review_key_person(person_id: Identifier, body: ReviewBody, who: Officer, c: CommunityDep
                            ) -> dict[str, Any]:
    cadences = c.settings.review_cadence_days
    person = await handlers.act_on_key_person(c, person_id, lambda p, now: p.review(
        now=now, actor=body.actor, note=body.note, risk_level=body.risk_level, cadences=cadences))
    return _person_view(c, person, who)


@router.post("/keypersons/{person_id}/notes", tags=["key persons"])
async def note_key_person(person_id: Identifier, body: NoteBody, who: Officer, c: CommunityDep) -> dict[str, Any]:
    person = await handlers.act_on_key_person(c, person_id, lambda p, now: p.note(now=now, actor=body.actor,
                                                                                  text=body.text))
    return _person_view(c, person, who)


# --- the monthly sheet -------------------------------------------------------------------------


def _row(row: SheetRow, by: str) -> dict[str, Any]:
    head = {"rank": row.rank, f"{by}_id": row.ident, "total": row.total}
    head |= {"unit_id": row.unit_id} if by == "officer" else {"officers": row.members}
    return {**head, "items": {i.key: {"value": i.value, "of": i.of, "ratio": i.ratio, "score": i.score}
                              for i in row.items}}


@router.get("/scorecards", tags=["monthly sheet"], responses={200: {
    "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
    "description": "The ranked sheet; as CSV (UTF-8 with BOM) with format=csv or Accept: text/csv."}})
async def scorecards(
    request: Request,
    _: Reader,
    c: CommunityDep,
    month: Annotated[Month | None, Query(description="Default: this month, station zone.")] = None,
    by: Literal["officer", "unit"] = "officer",
    format: Annotated[Literal["json", "csv"] | None, Query(description="csv: also by Accept: text/csv")] = None,
) -> Any:
    """一人一单: per officer (or unit) the month's items beside the total, ranked, from the roll-ups kept as the
    services' facts arrive."""
    month = _month(c, month)
    rows = await handlers.scorecard(c, month, by)
    if format == "csv" or (format is None and "text/csv" in request.headers.get("accept", "")):
        return Response(sheet_csv(rows, c.rules, by=by), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="scorecard-{month}-{by}.csv"'})
    # plain numbers and strings: rendered as they are, without FastAPI's walk of every value
    return JSONResponse({"month": month, "by": by, "max_total": c.rules.max_total,
                         "items": [{"key": i.key, "label": i.label, "weight": i.weight, "kind": i.kind.kind}
                                   for i in c.rules.items],
                         "rows": [_row(r, by) for r in rows]})


def build_app(runtime: Runtime, c: Community) -> FastAPI:
    return create_app(
        "Fengqiao community — 社区警务", runtime.settings, runtime.readiness(), context=c, routers=(router,),
        description="Household visits against the monthly quota, hazards to verified rectification, the key-person "
        "register, and the monthly sheet (一人一单) counted from every service's facts.",
    )
