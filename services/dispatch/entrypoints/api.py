"""The dispatch HTTP API: thin — validate, call a use case, render in the station's zone."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from common.contracts.alerts import Disposition, Party
from common.errors import NotFound
from common.http import Principal, create_app, require
from common.runtime import Runtime
from common.timefmt import iso_week, local, week_bounds
from dispatch import handlers
from dispatch.domain.alerts import Alert, desk_order
from dispatch.domain.stats import alert_clusters, weekly_unit_stats
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


def build_app(runtime: Runtime, d: Dispatch) -> FastAPI:
    app = create_app(
        "Fengqiao dispatch — 就近处警", runtime.settings, runtime.readiness(),
        description="Grid units, alert assignment to the nearest unit, acknowledgement and closing.",
    )
    v1 = APIRouter(prefix="/v1")

    @v1.put("/grid", tags=["grid"])
    async def put_grid(_: Admin, geojson: Annotated[dict[str, Any], Body()]) -> JSONResponse:
        """Replace the whole grid (GeoJSON FeatureCollection), or refuse it whole with every reason."""
        parsed, version = await handlers.replace_grid(d, geojson)
        if not parsed.ok:
            detail = [{"field": e.loc, "msg": e.message} for e in parsed.errors]
            return JSONResponse({"error": "invalid_grid", "detail": detail, "grid_version": version}, status_code=422)
        return JSONResponse({
            "grid_version": version, "units": len(parsed.units),
            "warnings": [{"field": w.loc, "msg": w.message} for w in parsed.warnings],
        })

    @v1.get("/grid", tags=["grid"])
    async def get_grid(_: Reader) -> dict[str, Any]:
        version, geojson, warnings = await d.grids.current()
        if geojson is None:
            raise NotFound("grid", "current")
        return {"grid_version": version, "warnings": warnings, "grid": geojson}

    @v1.get("/units", tags=["units"])
    async def list_units(_: Reader, include_retired: bool = False) -> list[dict[str, Any]]:
        return [asdict(u) for u in await handlers.units(d, include_retired=include_retired)]

    @v1.get("/units/{unit_id}", tags=["units"])
    async def get_unit(unit_id: str, _: Reader) -> dict[str, Any]:
        return asdict(await handlers.unit(d, unit_id))

    @v1.put("/units/{unit_id}/status", tags=["units"])
    async def put_status(unit_id: str, body: StatusRequest, _: DutyDesk) -> dict[str, Any]:
        return asdict(await handlers.set_unit_status(d, unit_id, body.status))

    @v1.get("/alerts/{alert_id}", tags=["alerts"])
    async def get_alert(alert_id: str, _: Reader) -> dict[str, Any]:
        return _alert_view(await handlers.load(d, alert_id), d)

    @v1.get("/alerts", tags=["alerts"])
    async def list_alerts(
        request: Request,
        response: Response,
        _: Reader,
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
        if state != "unassigned" or unit_id is not None:
            return [_alert_view(a, d) for a in await d.alerts.find(state=state, unit_id=unit_id, limit=limit)]
        page = await d.alerts.queue(after=after or "", limit=limit)
        if len(page) == limit:
            following = request.url.include_query_params(after=desk_order(page[-1]))
            response.headers["Link"] = f'<{following}>; rel="next"'
        return [_alert_view(a, d) for a in page if a.state == "unassigned"]

    @v1.post("/alerts/{alert_id}/ack", tags=["alerts"])
    async def ack(alert_id: str, body: AckRequest, _: DutyDesk) -> dict[str, Any]:
        return _alert_view(await handlers.acknowledge(d, alert_id, body.unit_id), d)

    @v1.post("/alerts/{alert_id}/close", tags=["alerts"])
    async def close(alert_id: str, body: CloseRequest, _: DutyDesk) -> dict[str, Any]:
        alert = await handlers.close(
            d, alert_id, unit_id=body.unit_id, officer_id=body.officer_id, disposition=body.disposition,
            note=body.note, signatures=body.signatures, parties=[p.model_dump() for p in body.parties],
        )
        return _alert_view(alert, d)

    @v1.get("/stats", tags=["statistics"])
    async def stats(
        request: Request, _: Reader,
        week: Annotated[str | None, Query(pattern=r"^\d{4}-W\d{2}$", description="ISO week, e.g. 2026-W48")] = None,
    ) -> dict[str, Any]:
        """Per unit and week: count and median seconds to assign, acknowledge and close; and where alerts cluster."""
        zone = d.settings.zone
        label = week or iso_week(d.clock.now(), zone)
        start, end = week_bounds(label, zone)
        alerts = await d.alerts.received_between(start, end)
        return {
            "week": label,
            "units": weekly_unit_stats(alerts, zone),
            "clusters": alert_clusters([(a.lon, a.lat) for a in alerts]),
        }

    app.include_router(v1)
    return app
