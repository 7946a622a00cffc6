"""notify's callback API: thin — validate, call a use case, render in the station's zone.

Phones are whole for the roles that act on cases when one callback is opened, masked in lists and
for every other role.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from common.contracts.base import WEEK_PATTERN, Identifier, Moment
from common.contracts.callbacks import Channel, Level
from common.errors import Invalid
from common.http import ERROR_RESPONSES, Principal, context, create_app, masked, personal, query_time, require
from common.runtime import Runtime
from common.timefmt import local
from notify import domain, handlers
from notify.adapters.store import CallbackQuery
from notify.handlers import Notify
from notify.sms.entrypoints.api import router as sms_router

Reader = Annotated[Principal, Depends(require("viewer", "officer", "leadership", "duty_desk"))]
Officer = Annotated[Principal, Depends(require("officer", "duty_desk"))]
NotifyDep = Annotated[Notify, Depends(context)]
CallbackState = Literal["scheduled", "sent", "delivered", "done", "manual", "overdue", "superseded"]

#: the deepest page a list reaches (earliest deadline first: narrow with the filters)
MAX_OFFSET = 100_000

router = APIRouter(prefix="/v1", tags=["callbacks"], responses=ERROR_RESPONSES)
objections_router = APIRouter(prefix="/v1", tags=["objections"], responses=ERROR_RESPONSES)


class CompleteRequest(BaseModel):
    """A callback made (回访): by phone, on a visit, or the party's SMS reply."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Channel
    reached: StrictBool = Field(description="Whether the party was reached.")
    opinion: str = Field(default="", max_length=2000, description="The party's words on the progress or result.")
    by: str = Field(min_length=1, max_length=64, pattern=r"\S", description="The officer's id who made it.")
    level: Level | None = Field(
        default=None, description="The party's view when the officer asked it (1 满意 2 基本满意 3 不满意): the "
                                  "rating of this callback (channel phone, or on_site for a visit); 不满意 opens "
                                  "an objection. Not for the SMS channel: the party's answer is its own level.")
    objection: StrictBool = Field(default=False, description="The party objects (异议): an explanation is due.")


class ExplainedRequest(BaseModel):
    """The officer explained the objection (说理式执法): who, when, how, and the outcome."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    by: Identifier = Field(description="The officer's id who explained.")
    at: Moment | None = Field(default=None, description="When (default: now); not in the future.")
    how: str = Field(min_length=1, max_length=2000, description="How it was explained (说理): the words, the law.")
    outcome: Literal["accepted", "still_objects"] = Field(
        description="accepted: the party accepts; still_objects: station leadership takes it over.")


def _view(n: Notify, callback: domain.Callback, principal: Principal, *, listing: bool = False) -> dict[str, Any]:
    data = callback.to_dict()
    data.pop("version", None)
    data.pop("next_due_at", None)
    data.pop("traceparent", None)  # the trace's bookkeeping, not the callback's
    data["due_shown"] = domain.shown_due_at(callback.due_at, n.settings.zone).strftime("%Y-%m-%d %H:%M:%S")
    if listing:
        data.pop("history", None)
    return personal(local(data, n.settings.zone), principal, listing=listing)


@router.get("/callbacks")
async def list_callbacks(
    principal: Reader,
    n: NotifyDep,
    case_id: Identifier | None = None,
    state: CallbackState | None = None,
    officer_id: Annotated[str | None, Query(max_length=64)] = None,
    unit_id: Annotated[str | None, Query(max_length=64)] = None,
    due_from: Annotated[datetime | None, Query(description="Deadline at or after (local unless offset).")] = None,
    due_to: Annotated[datetime | None, Query(description="Deadline before (local unless offset).")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[dict[str, Any]]:
    """Earliest deadline first; `state=overdue` is station leadership's task list. Phones masked."""
    query = CallbackQuery(case_id=case_id, state=state, officer_id=officer_id, unit_id=unit_id,
                          due_from=query_time("due_from", due_from, n.settings.zone),
                          due_to=query_time("due_to", due_to, n.settings.zone))
    found = await handlers.find(n, query, limit=limit, offset=offset)
    return [_view(n, c, principal, listing=True) for c in found]


@router.get("/callbacks/today")
async def officers_day(
    principal: Reader, n: NotifyDep,
    officer_id: Annotated[str, Query(min_length=1, max_length=64, description=f"'{domain.UNASSIGNED}': no officer.")],
) -> list[dict[str, Any]]:
    """What the officer must do by the end of today: manual tasks, overdue callbacks, and those whose SMS
    gives way or whose deadline ends today."""
    return [_view(n, c, principal, listing=True) for c in await handlers.officers_day(n, officer_id)]


@router.get("/callbacks/figures")
async def weekly_figures(
    _: Reader, n: NotifyDep,
    week: Annotated[str, Query(pattern=WEEK_PATTERN, description="An ISO week, e.g. 2026-W48 (Monday–Sunday, local).")],
    by: Literal["unit", "officer"] = "unit",
) -> dict[str, Any]:
    """Per unit or officer: callbacks done in time, done late, and gone overdue in the week."""
    rows = await handlers.figures(n, week, by)
    return {"week": week, "by": by,
            "rows": [{**asdict(r), "rated": r.rated, "satisfaction_rate": r.satisfaction_rate} for r in rows]}


@router.get("/callbacks/{callback_id}")
async def get_callback(callback_id: Identifier, principal: Reader, n: NotifyDep) -> dict[str, Any]:
    return _view(n, await handlers.load(n, callback_id), principal)


@router.post("/callbacks/{callback_id}/complete")
async def complete(callback_id: Identifier, body: CompleteRequest, principal: Officer, n: NotifyDep) -> dict[str, Any]:
    """Record the callback made; a done or superseded callback is 409 with the reason, an unknown one 404."""
    if body.level is not None and body.channel == "sms":
        raise Invalid("body.level", "an SMS callback's level is the party's own answer")
    callback = await handlers.complete(n, callback_id, channel=body.channel, reached=body.reached,
                                       opinion=body.opinion, completed_by=body.by, level=body.level,
                                       objection=body.objection)
    return _view(n, callback, principal)


def _objection(n: Notify, c: domain.Callback, principal: Principal) -> dict[str, Any]:
    data = {
        "objection_id": c.objection_id, "state": c.objection, "callback_id": c.callback_id, "case_id": c.case_id,
        "party_id": c.party_id, "party_name": c.party_name, "phone": c.phone, "officer_id": c.officer_id,
        "unit_id": c.unit_id, "why": c.objection_why, "comment": c.opinion, "level": c.level,
        "opened_at": c.objection_at, "due_at": c.objection_due_at, "explained_at": c.explained_at,
        "explained_by": c.explained_by, "how": c.explanation, "outcome": c.objection_outcome,
        "escalated_at": c.escalated_at, "escalation": c.escalation,
    }
    return personal(local(data, n.settings.zone), principal)


@objections_router.get("/objections")
async def list_objections(
    principal: Reader, n: NotifyDep, state: Literal["open", "explained", "escalated"] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Objections (异议) in a state, earliest deadline first: open ones are the officers' to explain;
    escalated ones are in leadership's follow-ups (rating). Phones masked."""
    return [masked(_objection(n, c, principal)) for c in await handlers.objections(n, state, limit)]


@objections_router.post("/objections/{objection_id}/explained")
async def explained(objection_id: Identifier, body: ExplainedRequest, principal: Officer,
                    n: NotifyDep) -> dict[str, Any]:
    """The officer's explanation: `still_objects` hands it to station leadership; one not open is 409."""
    callback = await handlers.explain_objection(n, objection_id, by=body.by, how=body.how, outcome=body.outcome,
                                                explained_at=body.at)
    return _objection(n, callback, principal)


def build_app(runtime: Runtime, n: Notify) -> FastAPI:
    return create_app(
        "Fengqiao notify — 案件回访", runtime.settings, runtime.readiness(), context=n,
        routers=(router, objections_router, sms_router),
        description="Every party of a case called back within the 7-day (unsolved) and 3-day (solved) rules; "
        "the callback SMS through the station's gateway; overdue callbacks for station leadership.",
    )
