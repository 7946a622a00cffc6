"""The dispatch HTTP API: thin — validate, call a use case, render in the station's zone."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from common.contracts.alerts import Disposition, Party
from common.contracts.base import Identifier
from common.domain import ID_PATTERN
from common.errors import Invalid
from common.http import ERROR_RESPONSES, IsoWeek, Principal, context, create_app, personal, query_time, require
from common.runtime import Runtime
from common.timefmt import local
from dispatch import handlers
from dispatch.domain.alerts import Alert
from dispatch.entrypoints import figures_api
from dispatch.handlers import Dispatch

Reader = Annotated[Principal, Depends(require("viewer", "duty_desk", "officer", "leadership"))]
DutyDesk = Annotated[Principal, Depends(require("duty_desk", "officer"))]
#: who may order an alert to a named unit (the dispatcher's word)
Dispatcher = Annotated[Principal, Depends(require("duty_desk", "admin"))]
#: who may record those who joined the scene: the desk, the officers on it
OnScene = Annotated[Principal, Depends(require("duty_desk", "officer", "admin"))]
Admin = Annotated[Principal, Depends(require("admin"))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


#: a unit's id, as the grid gives it (the id alphabet; the duty desk is `duty_desk`)
UnitId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
#: the most people one closing names
MAX_PARTIES = 50


class AckRequest(_Body):
    unit_id: UnitId


class CloseRequest(_Body):
    unit_id: UnitId = Field(description="The holding unit, or 'duty_desk' for an alert it holds.")
    officer_id: str = Field(min_length=1, max_length=64, pattern=r"\S")
    disposition: Disposition
    note: str = Field(default="", max_length=4000)
    signatures: dict[Annotated[str, Field(max_length=30)], Annotated[str, Field(max_length=60)]] = Field(
        default_factory=dict, max_length=10,
        description="A close on the scene (resolved_on_scene, help_given_on_scene, statement_refused) needs "
        "party, officer and witness, or the party's refusal to sign (处警现场处结备案单).",
    )
    parties: list[Party] = Field(default_factory=list, max_length=MAX_PARTIES,
                                 description="People involved, for mediation and rating.")
    refused_to_sign: list[Literal["party", "officer", "witness"]] = Field(
        default_factory=list, max_length=3,
        description="On the on-scene form: who refused to sign (only the party may; the witness signs).",
    )


#: who gave an order or made a record: an officer's or an operator's id
Actor = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")]


class AssignRequest(_Body):
    unit_id: UnitId = Field(description="The unit the duty desk names.")
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S", description="Why this unit (kept in the history).")
    by: Actor = Field(description="Who ordered it.")
    force: bool = Field(default=False, description="Give the unit one alert beyond its capacity (recorded, counted).")


class AssistRequest(_Body):
    role: Literal["community_officer", "assisting_officer", "village_cadre"]
    officer_id: Actor | None = Field(default=None, description="An officer's id; required but for a village cadre.")
    name: str | None = Field(default=None, min_length=1, max_length=60, description="A village cadre's name.")
    by: Actor = Field(description="Who records it.")


class StatusRequest(_Body):
    status: Literal["available", "busy", "off_duty"]


def _alert_view(alert: Alert, d: Dispatch, principal: Principal, *, listing: bool = False) -> dict[str, Any]:
    """The alert in the station's zone; the caller's and the parties' phones whole only for roles that act on it."""
    data = alert.to_dict()
    data.pop("version", None)
    data.pop("events", None)
    data["location"] = {"lon": data.pop("lon"), "lat": data.pop("lat"), "address": data.pop("address")}
    data["actions"] = data.pop("history")  # who did what and why: orders, assists, the closing
    data["history"] = data.pop("assignments")
    data["officers"] = handlers.officers(d, alert.unit_id)
    return personal(local(data, d.settings.zone), principal, listing=listing)


router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
DispatchDep = Annotated[Dispatch, Depends(context)]


@router.put("/grid", tags=["grid"])
async def put_grid(_: Admin, d: DispatchDep, geojson: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """Replace the whole grid (GeoJSON FeatureCollection), or refuse it whole with every reason."""
    parsed, version = await handlers.replace_grid(d, geojson)
    if not parsed.ok:
        detail = [{"field": e.loc, "msg": e.message, "type": "value_error"} for e in parsed.errors]
        return JSONResponse({"error": "invalid_grid", "detail": detail, "grid_version": version}, status_code=422)
    return JSONResponse({
        "grid_version": version, "units": len(parsed.units),
        "warnings": [{"field": w.loc, "msg": w.message} for w in parsed.warnings],
    })


@router.get("/grid", tags=["grid"])
async def get_grid(_: Reader, d: DispatchDep) -> dict[str, Any]:
    """The grid as uploaded: a FeatureCollection that `PUT /v1/grid` takes back as it is, with its
    `grid_version` and the `warnings` it was accepted with as foreign members (GeoJSON allows them)."""
    version, geojson, warnings = await handlers.current_grid(d)
    return {**geojson, "grid_version": version, "warnings": warnings}


@router.get("/units", tags=["units"])
async def list_units(_: Reader, d: DispatchDep, include_retired: bool = False) -> list[dict[str, Any]]:
    return [asdict(u) for u in await handlers.units(d, include_retired=include_retired)]


@router.get("/units/{unit_id}", tags=["units"])
async def get_unit(unit_id: Identifier, _: Reader, d: DispatchDep) -> dict[str, Any]:
    return asdict(await handlers.unit(d, unit_id))


@router.put("/units/{unit_id}/status", tags=["units"])
async def put_status(unit_id: Identifier, body: StatusRequest, _: DutyDesk, d: DispatchDep) -> dict[str, Any]:
    return asdict(await handlers.set_unit_status(d, unit_id, body.status))


@router.get("/alerts/{alert_id}", tags=["alerts"])
async def get_alert(alert_id: Identifier, who: Reader, d: DispatchDep) -> dict[str, Any]:
    return _alert_view(await handlers.load(d, alert_id), d, who)


@router.get("/alerts", tags=["alerts"])
async def list_alerts(
    request: Request,
    response: Response,
    who: Reader,
    d: DispatchDep,
    state: Literal["received", "assigned", "acknowledged", "closed", "unassigned"] | None = None,
    unit_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[str | None, Query(
        max_length=120, description="With state=unassigned: the page after this rank (from the `next` Link).",
    )] = None,
    since: Annotated[datetime | None, Query(
        description="Only alerts received at or after this time (local unless offset), e.g. the duty desk's map "
                    "of the last hours.")] = None,
    before: Annotated[str | None, Query(
        max_length=120, description="The page after this place (from the `next` Link), newest first.")] = None,
) -> list[dict[str, Any]]:
    """Alerts, newest first; with `state=unassigned` the duty desk's queue: urgent, then oldest, first.

    Paged: when more may follow, the `Link` header gives the next page (`rel="next"`).
    """
    if state == "unassigned" and unit_id is None:
        page, following = await handlers.duty_desk_queue(d, after=after or "", limit=limit)
        if following is not None:
            response.headers["Link"] = f'<{request.url.include_query_params(after=following)}>; rel="next"'
        return [_alert_view(a, d, who, listing=True) for a in page]
    found, last = await handlers.alerts(d, state=state, unit_id=unit_id, limit=limit,
                                        since=query_time("since", since, d.settings.zone),
                                        before=_place(before))
    if last is not None:
        place = f"{last[0].isoformat()}|{last[1]}"
        response.headers["Link"] = f'<{request.url.include_query_params(before=place)}>; rel="next"'
    return [_alert_view(a, d, who, listing=True) for a in found]


def _place(value: str | None) -> tuple[datetime, str] | None:
    """The `before` of a `next` Link: the last alert's received time (with its offset) and id."""
    if value is None:
        return None
    at, _, alert_id = value.partition("|")
    try:
        moment: datetime | None = datetime.fromisoformat(at)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or not re.fullmatch(ID_PATTERN, alert_id):
        raise Invalid("before", "not a place a next link gave")
    return query_time("before", moment, UTC), alert_id


@router.post("/alerts/{alert_id}/ack", tags=["alerts"])
async def ack(alert_id: Identifier, body: AckRequest, who: DutyDesk, d: DispatchDep) -> dict[str, Any]:
    return _alert_view(await handlers.acknowledge(d, alert_id, body.unit_id), d, who)


@router.post("/alerts/{alert_id}/assign", tags=["alerts"])
async def assign(alert_id: Identifier, body: AssignRequest, who: Dispatcher, d: DispatchDep) -> dict[str, Any]:
    """The dispatcher's word (根据派警员的指令): give the alert to a named unit, or take it from one for another.

    Capacity holds (409 if the unit is full); `force` with the reason gives it one alert beyond, recorded
    and counted. The named unit acknowledges as after any assignment; the history says who ordered it and why.
    """
    alert = await handlers.assign(d, alert_id, unit_id=body.unit_id, reason=body.reason, by=body.by,
                                  force=body.force)
    return _alert_view(alert, d, who)


@router.post("/alerts/{alert_id}/assist", tags=["alerts"])
async def assist(alert_id: Identifier, body: AssistRequest, who: OnScene, d: DispatchDep) -> dict[str, Any]:
    """Someone joined the unit on the scene (社区民警、村干部介入处警现场): an officer by id, a village cadre by
    name. Shown on the closing record and counted in the statistics."""
    if body.role != "village_cadre" and body.officer_id is None:
        raise Invalid("officer_id", f"a {body.role} is named by officer_id")
    if body.officer_id is None and body.name is None:
        raise Invalid("name", "a village cadre is named by name or officer_id")
    alert = await handlers.assist(d, alert_id, role=body.role, officer_id=body.officer_id, name=body.name,
                                  by=body.by)
    return _alert_view(alert, d, who)


@router.post("/alerts/{alert_id}/close", tags=["alerts"])
async def close(alert_id: Identifier, body: CloseRequest, who: DutyDesk, d: DispatchDep) -> dict[str, Any]:
    alert = await handlers.close(
        d, alert_id, unit_id=body.unit_id, officer_id=body.officer_id, disposition=body.disposition,
        note=body.note, signatures=body.signatures, parties=[p.model_dump() for p in body.parties],
        refused_to_sign=list(body.refused_to_sign),
    )
    return _alert_view(alert, d, who)


@router.get("/stats", tags=["statistics"])
async def stats(
    _: Reader,
    d: DispatchDep,
    week: Annotated[IsoWeek | None, Query(description="ISO week, e.g. 2026-W48; default this week")] = None,
) -> dict[str, Any]:
    """Per unit and week: count and median seconds to assign, acknowledge and close; `scene`: the duty desk's
    orders (and those beyond capacity) and who joined the scene, for the station (how often the community
    officer joined, as a count and a share) and per unit; and where alerts cluster."""
    return await handlers.weekly_stats(d, week)


#: every route of dispatch
ROUTERS = (router, figures_api.router)


def build_app(runtime: Runtime, d: Dispatch) -> FastAPI:
    return create_app(
        "Fengqiao dispatch — 就近处警", runtime.settings, runtime.readiness(), context=d, routers=ROUTERS,
        description="Grid units, alert assignment to the nearest unit, acknowledgement and closing.",
    )
