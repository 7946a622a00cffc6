"""The dispatch HTTP API: thin — validate, call a use case, render in the station's zone."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from common.contracts.alerts import Disposition, Party
from common.http import ERROR_RESPONSES, Principal, context, create_app, require
from common.runtime import Runtime
from common.timefmt import local
from dispatch import handlers
from dispatch.domain.alerts import Alert
from dispatch.handlers import Dispatch

Reader = Annotated[Principal, Depends(require("viewer", "duty_desk", "officer", "leadership"))]
DutyDesk = Annotated[Principal, Depends(require("duty_desk", "officer"))]
Admin = Annotated[Principal, Depends(require("admin"))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AckRequest(_Body):
    unit_id: str = Field(min_length=1)


class CloseRequest(_Body):
    unit_id: str = Field(min_length=1, description="The holding unit, or 'duty_desk' for an alert it holds.")
    officer_id: str = Field(min_length=1)
    disposition: Disposition
    note: str = Field(default="", max_length=4000)
    signatures: dict[str, str] = Field(
        default_factory=dict,
        description="resolved_on_scene needs party, officer and witness (处警现场处结备案单).",
    )
    parties: list[Party] = Field(default_factory=list, description="People involved, for mediation and rating.")


class StatusRequest(_Body):
    status: Literal["available", "busy", "off_duty"]


def _alert_view(alert: Alert, d: Dispatch) -> dict[str, Any]:
    data = alert.to_dict()
    data.pop("version", None)
    data.pop("events", None)
    data["location"] = {"lon": data.pop("lon"), "lat": data.pop("lat"), "address": data.pop("address")}
    data["history"] = data.pop("assignments")
    data["officers"] = handlers.officers(d, alert.unit_id)
    return local(data, d.settings.zone)


router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
DispatchDep = Annotated[Dispatch, Depends(context)]


@router.put("/grid", tags=["grid"])
async def put_grid(_: Admin, d: DispatchDep, geojson: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """Replace the whole grid (GeoJSON FeatureCollection), or refuse it whole with every reason."""
    parsed, version = await handlers.replace_grid(d, geojson)
    if not parsed.ok:
        detail = [{"field": e.loc, "msg": e.message} for e in parsed.errors]
        return JSONResponse({"error": "invalid_grid", "detail": detail, "grid_version": version}, status_code=422)
    return JSONResponse({
        "grid_version": version, "units": len(parsed.units),
        "warnings": [{"field": w.loc, "msg": w.message} for w in parsed.warnings],
    })


@router.get("/grid", tags=["grid"])
async def get_grid(_: Reader, d: DispatchDep) -> dict[str, Any]:
    version, geojson, warnings = await handlers.current_grid(d)
    return {"grid_version": version, "warnings": warnings, "grid": geojson}


@router.get("/units", tags=["units"])
async def list_units(_: Reader, d: DispatchDep, include_retired: bool = False) -> list[dict[str, Any]]:
    return [asdict(u) for u in await handlers.units(d, include_retired=include_retired)]


@router.get("/units/{unit_id}", tags=["units"])
async def get_unit(unit_id: str, _: Reader, d: DispatchDep) -> dict[str, Any]:
    return asdict(await handlers.unit(d, unit_id))


@router.put("/units/{unit_id}/status", tags=["units"])
async def put_status(unit_id: str, body: StatusRequest, _: DutyDesk, d: DispatchDep) -> dict[str, Any]:
    return asdict(await handlers.set_unit_status(d, unit_id, body.status))


@router.get("/alerts/{alert_id}", tags=["alerts"])
async def get_alert(alert_id: str, _: Reader, d: DispatchDep) -> dict[str, Any]:
    return _alert_view(await handlers.load(d, alert_id), d)


@router.get("/alerts", tags=["alerts"])
async def list_alerts(
    request: Request,
    response: Response,
    _: Reader,
    d: DispatchDep,
    state: Literal["received", "assigned", "acknowledged", "closed", "unassigned"] | None = None,
    unit_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[str | None, Query(
        max_length=120, description="With state=unassigned: the page after this rank (from the `next` Link).",
    )] = None,
) -> list[dict[str, Any]]:
    """Alerts, newest first; with `state=unassigned` the duty desk's queue: urgent, then oldest, first.

    The queue is paged: when more may follow, the `Link` header gives the next page (`rel="next"`).
    """
    if state == "unassigned" and unit_id is None:
        page, following = await handlers.duty_desk_queue(d, after=after or "", limit=limit)
        if following is not None:
            response.headers["Link"] = f'<{request.url.include_query_params(after=following)}>; rel="next"'
        return [_alert_view(a, d) for a in page]
    return [_alert_view(a, d) for a in await handlers.alerts(d, state=state, unit_id=unit_id, limit=limit)]


@router.post("/alerts/{alert_id}/ack", tags=["alerts"])
async def ack(alert_id: str, body: AckRequest, _: DutyDesk, d: DispatchDep) -> dict[str, Any]:
    return _alert_view(await handlers.acknowledge(d, alert_id, body.unit_id), d)


@router.post("/alerts/{alert_id}/close", tags=["alerts"])
async def close(alert_id: str, body: CloseRequest, _: DutyDesk, d: DispatchDep) -> dict[str, Any]:
    alert = await handlers.close(
        d, alert_id, unit_id=body.unit_id, officer_id=body.officer_id, disposition=body.disposition,
        note=body.note, signatures=body.signatures, parties=[p.model_dump() for p in body.parties],
    )
    return _alert_view(alert, d)


@router.get("/stats", tags=["statistics"])
async def stats(
    _: Reader,
    d: DispatchDep,
    week: Annotated[str | None, Query(pattern=r"^\d{4}-W\d{2}$", description="ISO week, e.g. 2026-W48")] = None,
) -> dict[str, Any]:
    """Per unit and week: count and median seconds to assign, acknowledge and close; and where alerts cluster."""
    return await handlers.weekly_stats(d, week)


def build_app(runtime: Runtime, d: Dispatch) -> FastAPI:
    return create_app(
        "Fengqiao dispatch — 就近处警", runtime.settings, runtime.readiness(), context=d, routers=(router,),
        description="Grid units, alert assignment to the nearest unit, acknowledgement and closing.",
    )
