"""The rating HTTP API: thin — validate, call a use case, render in the station's zone, phones masked
for every role that does not act on them and in every list."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from common.contracts.base import Identifier, Moment, Phone
from common.contracts.ratings import Level, StaffRef, SubjectType
from common.http import ERROR_RESPONSES, IsoWeek, Principal, context, create_app, personal, require
from common.runtime import Runtime
from common.timefmt import iso_week, local, week_bounds
from rating import handlers
from rating.adapters.store import RatingQuery
from rating.domain import Followup, Rating, SpotCheck, Survey, report_csv
from rating.domain.spotcheck import OUTCOMES
from rating.handlers import Evaluation, RatingEntry

Reader = Annotated[Principal, Depends(require("viewer", "duty_desk", "officer", "mediator", "leadership"))]
#: who takes a rating on the phone or at the window
Staff = Annotated[Principal, Depends(require("duty_desk", "officer"))]  # not leadership: docs/roles.md
#: who calls a sampled citizen back
Checker = Annotated[Principal, Depends(require("duty_desk", "leadership"))]
Leadership = Annotated[Principal, Depends(require("leadership"))]
FollowupReader = Annotated[Principal, Depends(require("viewer", "duty_desk", "leadership"))]

#: leadership calls the dissatisfied back: a follow-up shows them the phone too
FOLLOWUP_ROLES = frozenset({"admin", "duty_desk", "officer", "mediator", "leadership"})

_WEEK = timedelta(days=7)
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=100_000)]




class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RatingCreate(_Body):
    """A rating taken by staff: on the phone (电话评警) or on site, e.g. a tablet at the window (现场评警)."""

    channel: Literal["phone", "on_site"]
    level: Level
    subject_type: SubjectType
    subject_id: Identifier
    officer_id: Identifier | None = None
    unit_id: Identifier | None = None
    entered_by: StaffRef = Field(description="The staff member who took the rating.")
    comment: str = Field(default="", max_length=500)
    phone: Phone | None = Field(default=None, description="The citizen's, when given.")
    at: Moment | None = Field(default=None, description="When it was given (default now): from 2000-01-01, at "
                                                        "most 5 minutes ahead of the service's clock.")
    request_id: Identifier | None = Field(
        default=None, description="Retries with the same id and body store one rating; another body is 409.")

    def entry(self) -> RatingEntry:
        return RatingEntry(**self.model_dump(exclude={"request_id"}))


class CheckResult(_Body):
    outcome: Literal["confirmed", "denied", "unreachable"] = Field(description=" / ".join(OUTCOMES))
    actor: StaffRef = Field(description="Who called the citizen back.")
    note: str = Field(default="", max_length=1000)


class FollowupDone(_Body):
    actor: StaffRef = Field(description="The leader who called the citizen back.")
    findings: str = Field(min_length=1, max_length=4000, description="调查情况: what was found.")
    actions: str = Field(min_length=1, max_length=4000, description="处理结果: what was done.")


router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
EvaluationDep = Annotated[Evaluation, Depends(context)]


def _view(m: Evaluation, record: Rating | Survey | SpotCheck | Followup, principal: Principal, *,
          listing: bool = False) -> dict[str, Any]:
    data = record.to_dict()
    data.pop("version", None)
    return personal(local(data, m.settings.zone), principal, listing=listing)


@router.post("/ratings", tags=["ratings"], status_code=201,
             responses={200: {"description": "This request_id stored this rating before: that rating."}})
async def record_rating(body: RatingCreate, who: Staff, m: EvaluationDep, response: Response) -> dict[str, Any]:
    """Store a phone or on-site rating (201); the same request_id and body again returns the one stored (200);
    the same request_id with another body is 409 naming it."""
    rating, stored = await handlers.record_rating(m, body.entry(), body.request_id)
    if not stored:
        response.status_code = 200
    return _view(m, rating, who)


@router.get("/ratings", tags=["ratings"])
async def list_ratings(
    who: Reader,
    m: EvaluationDep,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    officer_id: Annotated[str | None, Query(max_length=64)] = None,
    week: Annotated[IsoWeek | None, Query(description="Default: this week, unless a subject is named.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Newest first; phones masked."""
    if week is None and not subject_id and not officer_id:
        week = iso_week(m.clock.now(), m.settings.zone)
    query = RatingQuery(subject_id=subject_id, officer_id=officer_id, week=week, limit=limit, offset=offset)
    return [_view(m, r, who, listing=True) for r in await handlers.find_ratings(m, query)]


@router.get("/ratings/{rating_id}", tags=["ratings"])
async def get_rating(rating_id: Identifier, who: Reader, m: EvaluationDep) -> dict[str, Any]:
    return _view(m, await m.rating_uow.get(rating_id), who)


@router.get("/surveys/{survey_id}", tags=["ratings"])
async def get_survey(survey_id: Identifier, who: Reader, m: EvaluationDep) -> dict[str, Any]:
    return _view(m, await m.survey_uow.get(survey_id), who)


@router.get("/reports/weekly", tags=["reports"], responses={200: {
    "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
    "description": "The report; as CSV (UTF-8 with BOM, for the station's spreadsheet) with format=csv or "
                   "Accept: text/csv."}})
async def weekly_report(
    request: Request,
    _: Reader,
    m: EvaluationDep,
    week: Annotated[IsoWeek | None, Query(description="ISO week, station zone; default this week.")] = None,
    by: Literal["officer", "unit", "station"] = "officer",
    format: Annotated[Literal["json", "csv"] | None, Query(description="csv: also by Accept: text/csv")] = None,
) -> Any:
    """Counts per level, satisfaction, strict and response rates, per channel, follow-ups in time and
    overdue; from the roll-ups kept as things happen."""
    week = week or iso_week(m.clock.now(), m.settings.zone)
    rows = await handlers.weekly_report(m, week, by)
    if format == "csv" or (format is None and "text/csv" in request.headers.get("accept", "")):
        return Response(
            report_csv(rows, scope=by, names=m.settings.names), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="rating-{week}-{by}.csv"'},
        )
    start, end = week_bounds(week, m.settings.zone)
    return local({"week": week, "by": by, "from": start, "to": end, "rows": [asdict(r) for r in rows]},
                 m.settings.zone)


@router.get("/spot-checks", tags=["spot checks"])
async def list_spot_checks(
    who: Reader,
    m: EvaluationDep,
    week: Annotated[IsoWeek | None, Query(description="Default: last week (a week is drawn once it is over).")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """The week's sample of each officer's SMS ratings to call back (抽查电话回访确认真实性)."""
    week = week or iso_week(m.clock.now() - _WEEK, m.settings.zone)
    return [_view(m, c, who, listing=True) for c in await handlers.spot_checks(m, week, limit=limit, offset=offset)]


@router.post("/spot-checks/{check_id}", tags=["spot checks"])
async def record_spot_check(check_id: Identifier, body: CheckResult, who: Checker, m: EvaluationDep) -> dict[str, Any]:
    """confirmed, denied (the rating leaves the report and counts against nobody) or unreachable (try again)."""
    check = await handlers.record_check(m, check_id, outcome=body.outcome, actor=body.actor, note=body.note)
    return _view(m, check, who)


@router.get("/followups", tags=["follow-ups"])
async def list_followups(
    who: FollowupReader,
    m: EvaluationDep,
    state: Literal["open", "overdue", "done"] | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Earliest deadline first."""
    found = await handlers.followups(m, state=state, limit=limit, offset=offset)
    return [_view(m, f, who, listing=True) for f in found]


def _followup_view(m: Evaluation, followup: Followup, rating: Rating | None, who: Principal) -> dict[str, Any]:
    data = local(followup.to_dict(), m.settings.zone)
    if rating is not None:
        data["rating"] = {"level": rating.level, "comment": rating.comment, "subject_type": rating.subject_type,
                          "subject_id": rating.subject_id, "phone": rating.phone}
    return personal(data, who, whole_for=FOLLOWUP_ROLES)  # shown whole: in the audit trail


@router.get("/followups/{followup_id}", tags=["follow-ups"])
async def get_followup(followup_id: Identifier, who: FollowupReader, m: EvaluationDep) -> dict[str, Any]:
    """With the rating's comment and the citizen's phone (whole for leadership, who call back)."""
    found, rating = await handlers.followup(m, followup_id)
    return _followup_view(m, found, rating, who)


@router.post("/followups/{followup_id}/complete", tags=["follow-ups"])
async def complete_followup(followup_id: Identifier, body: FollowupDone, who: Leadership, m: EvaluationDep
                            ) -> dict[str, Any]:
    done = await handlers.complete_followup(m, followup_id, actor=body.actor, findings=body.findings,
                                            actions=body.actions)
    return _view(m, done, who)


def build_app(runtime: Runtime, m: Evaluation) -> FastAPI:
    return create_app(
        "Fengqiao rating — 短信评警、电话评警、现场评警", runtime.settings, runtime.readiness(), context=m,
        routers=(router,),
        description="Citizens rate the police by SMS, phone and on site; the station reads the answers weekly per "
        "officer, unit and station, checks a sample by phone, and leadership calls back every unhappy citizen.",
    )
