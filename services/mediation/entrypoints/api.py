"""The mediation HTTP API: thin — validate, call a use case, render in the station's zone."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Query, Response
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    RootModel,
    StrictFloat,
    WithJsonSchema,
)

from common.contracts.alerts import Party
from common.contracts.base import Identifier
from common.contracts.disputes import Level, Referral, State
from common.errors import Invalid
from common.http import ERROR_RESPONSES, Principal, context, create_app, personal, require
from common.runtime import Runtime
from common.timefmt import local
from mediation import domain, handlers
from mediation.handlers import Mediation, Report

Reader = Annotated[Principal, Depends(require("viewer", "mediator", "officer", "leadership", "duty_desk"))]
Mediator = Annotated[Principal, Depends(require("mediator", "officer", "duty_desk"))]
#: information officers' apps (信息员) report disputes on a token of their own, and do nothing else
Reporter = Annotated[Principal, Depends(require("mediator", "officer", "duty_desk", "integration"))]

STATS_DEFAULT_PERIOD = timedelta(days=30)
#: the deepest page a list reaches (newest first: older disputes are found by their filters)
MAX_OFFSET = 100_000
#: the years a statistics period is kept within
YEARS = (2000, 2100)
#: the most parties one dispute names (a family feud, a village's land: dozens, not thousands)
MAX_PARTIES = 50


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DisputeCreate(_Body):
    """A report from an information officer (信息员), a household visit (走访) or the desk."""

    source: Literal["informant", "visit", "desk"]
    reported_by: str = Field(min_length=1, pattern=r"\S", max_length=64,
                             description="The informant's, officer's or clerk's id.")
    category: str = Field(default="other", min_length=1, pattern=r"\S", max_length=30,
                          description="neighbour, family, land, debt…")
    summary: str = Field(min_length=1, pattern=r"\S", max_length=2000)
    parties: list[Party] = Field(min_length=1, max_length=MAX_PARTIES)
    address: str | None = Field(default=None, max_length=200)
    lon: StrictFloat = Field(default=None, ge=-180, le=180, description="Given with lat, or neither.")
    lat: StrictFloat = Field(default=None, ge=-90, le=90, description="Given with lon, or neither.")
    unit_id: str | None = Field(default=None, max_length=64)
    officer_id: str | None = Field(default=None, max_length=64)
    source_ref: str | None = Field(default=None, max_length=64, description="The reporting system's own id, if any.")
    request_id: Identifier | None = Field(default=None, description="Retries with the same id open one dispute.")

    model_config = ConfigDict(json_schema_extra={"dependentRequired": {"lon": ["lat"], "lat": ["lon"]}})

    def report(self) -> Report:
        if (self.lat is None) != (self.lon is None):
            raise Invalid("lat" if self.lat is None else "lon", "lon and lat are given together, or neither")
        told = self.model_dump(exclude={"parties", "request_id"})
        return Report(**told, parties=tuple(domain.Party(**p.model_dump()) for p in self.parties))


class _Action(_Body):
    actor: str = Field(min_length=1, pattern=r"\S", max_length=64,
                       description="Who acts: the mediator's or officer's id.")


class Contact(_Action):
    action: Literal["contact"]
    note: str = Field(default="", max_length=4000)


class Escalate(_Action):
    action: Literal["escalate"]
    to_level: Level | None = Field(default=None, description="Default: the next gate; skipping one needs a reason.")
    reason: str = Field(default="", max_length=4000)


class AgreementBody(_Body):
    terms: str = Field(min_length=1, pattern=r"\S", max_length=8000)
    signatures: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=60)]] = Field(
        max_length=MAX_PARTIES + 2, description="Every party_id, 'mediator' and 'witness' -> the name as signed.")


class Resolve(_Action):
    action: Literal["resolve"]
    agreement: AgreementBody


class Close(_Action):
    """Closed unresolved: referred to a court, 信访 (petition) or another body."""

    action: Literal["close"]
    reason: str = Field(min_length=1, pattern=r"\S", max_length=4000)
    referred_to: Referral


class Reopen(_Action):
    action: Literal["reopen"]
    reason: str = Field(min_length=1, pattern=r"\S", max_length=4000)


class Followup(_Action):
    """The follow-up visit (回访) of a resolved dispute."""

    action: Literal["followup"]
    note: str = Field(default="", max_length=4000)


class _Named(BaseModel):
    action: Literal["contact", "escalate", "resolve", "close", "reopen", "followup"]


def _known_action(body: Any) -> Any:
    _Named.model_validate(body)  # a missing or unknown action is then named as the field 'action'
    return body


_Actions = Contact | Escalate | Resolve | Close | Reopen | Followup


class ActionRequest(RootModel[Annotated[_Actions, Field(discriminator="action"), BeforeValidator(_known_action)]]):
    """One action on a dispute, chosen by `action`; an error in its fields is named `<action>.<field>`."""


_MOMENT_FORMS = "a date (2026-11-01) or a date and time (2026-11-01T08:00, local unless it has an offset)"


def _moment(value: Any) -> date | datetime | None:
    if value == "":
        return None  # `?from=` is the same as no `from`
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(_MOMENT_FORMS) from None


_MOMENT_SCHEMA = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"},
                            {"type": "string", "maxLength": 0}]}
Moment = Annotated[date | datetime | None, PlainValidator(_moment), WithJsonSchema(_MOMENT_SCHEMA)]


def _bound(value: date | datetime, zone: ZoneInfo, *, end: bool) -> tuple[datetime, bool]:
    """The instant a period's end names, and whether it was outside YEARS and kept to their edge
    (a period from 0001 to 9999 means all there is)."""
    if value.year < YEARS[0] or value.year > YEARS[1]:
        return datetime(YEARS[0] if value.year < YEARS[0] else YEARS[1] + 1, 1, 1, tzinfo=zone), True
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)), False
    day = value + timedelta(days=1) if end else value  # a date as `to` counts that whole day
    return datetime.combine(day, time(), zone), False


router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
MediationDep = Annotated[Mediation, Depends(context)]


def _view(m: Mediation, dispute: domain.Dispute, principal: Principal, *, listing: bool = False) -> dict[str, Any]:
    data = dispute.to_dict()
    if dispute.high_risk:
        data["raised_alert_id"] = handlers.raised_alert_id(dispute.dispute_id)
    return personal(local(data, m.settings.zone), principal, listing=listing)


@router.post("/disputes", tags=["disputes"], status_code=201,
             responses={200: {"description": "This request_id opened a dispute before: that dispute."}})
async def report_dispute(
    body: DisputeCreate, principal: Reporter, m: MediationDep, response: Response
) -> dict[str, Any]:
    """Open a dispute (201); the same request_id again returns the dispute it opened (200)."""
    dispute, opened = await handlers.report_dispute(m, body.report(), body.request_id)
    if not opened:
        response.status_code = 200
    return _view(m, dispute, principal)


@router.get("/disputes/{dispute_id}", tags=["disputes"])
async def get_dispute(dispute_id: Identifier, principal: Reader, m: MediationDep) -> dict[str, Any]:
    """Phones and ID numbers whole for the roles that act on disputes, masked for the others."""
    return _view(m, await handlers.load(m, dispute_id), principal)


@router.get("/disputes", tags=["disputes"])
async def list_disputes(
    principal: Reader,
    m: MediationDep,
    state: State | None = None,
    level: Level | None = None,
    high_risk: bool | None = None,
    overdue: Annotated[bool | None, Query(description="First contact later than its deadline (事不过夜).")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[dict[str, Any]]:
    """Newest reports first; phones and ID numbers masked in a list (open one dispute to see them)."""
    found = await m.disputes.find(state=state, level=level, high_risk=high_risk, overdue=overdue,
                                  limit=limit, offset=offset)
    return [_view(m, d, principal, listing=True) for d in found]


@router.post("/disputes/{dispute_id}/actions", tags=["disputes"])
async def act(dispute_id: Identifier, request: ActionRequest, principal: Mediator, m: MediationDep) -> dict[str, Any]:
    """contact, escalate, resolve, close (unresolved), reopen or followup; a move the dispute refuses is 409."""
    match body := request.root:
        case Contact():
            dispute = await handlers.contact(m, dispute_id, actor=body.actor, note=body.note)
        case Escalate():
            dispute = await handlers.escalate(m, dispute_id, actor=body.actor, to_level=body.to_level,
                                              reason=body.reason)
        case Resolve():
            dispute = await handlers.resolve(m, dispute_id, actor=body.actor, terms=body.agreement.terms,
                                             signatures=body.agreement.signatures)
        case Close():
            dispute = await handlers.close_unresolved(m, dispute_id, actor=body.actor, reason=body.reason,
                                                      referred_to=body.referred_to)
        case Reopen():
            dispute = await handlers.reopen(m, dispute_id, actor=body.actor, reason=body.reason)
        case Followup():
            dispute = await handlers.record_followup(m, dispute_id, actor=body.actor, note=body.note)
    return _view(m, dispute, principal)


@router.get("/stats", tags=["statistics"])
async def stats(
    _: Reader,
    m: MediationDep,
    start: Annotated[Moment | None, Query(alias="from", description="A date or date-time, local zone.")] = None,
    end: Annotated[Moment | None, Query(alias="to", description="A date counts as the whole day.")] = None,
) -> dict[str, Any]:
    """Of the disputes reported in the period (default: the last 30 days): how they were settled, and how fast."""
    zone = m.settings.zone
    until, kept_to = _bound(end, zone, end=True) if end else (m.clock.now(), False)
    since, kept_from = _bound(start, zone, end=False) if start else (until - STATS_DEFAULT_PERIOD, False)
    if since >= until:
        if not (kept_from or kept_to):
            raise Invalid("query.from", "from must be before to")
        until = since  # both outside the years kept: an empty period
    figures = await handlers.stats(m, since, until)
    return local({"from": since, "to": until, **asdict(figures)}, zone)


def build_app(runtime: Runtime, m: Mediation) -> FastAPI:
    return create_app(
        "Fengqiao mediation — 矛盾不上交", runtime.settings, runtime.readiness(), context=m, routers=(router,),
        description="Disputes from report to signed agreement, through the gates scene → community → village → town "
        "(小纠纷不出村、大矛盾不出镇).",
    )
