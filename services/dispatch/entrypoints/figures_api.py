"""The station's figures over HTTP: `GET /v1/trends` and `GET /v1/hotspots` (read from roll-ups)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from common.http import ERROR_RESPONSES, Principal, context, require
from common.timefmt import local
from dispatch.handlers import Dispatch, figures

#: who reads the figures: the station's staff (no personal data in them)
Reader = Annotated[Principal, Depends(require("viewer", "duty_desk", "officer", "leadership"))]
DispatchDep = Annotated[Dispatch, Depends(context)]

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES, tags=["figures"])


@router.get("/trends")
async def trends(
    _: Reader,
    d: DispatchDep,
    period: Annotated[Literal["week", "month", "year"],
                      Query(description="ISO week, calendar month or year.")] = "week",
    at: Annotated[date | None, Query(
        description="A local date in the period (e.g. 2026-11-23); default today.",
        ge=date(1001, 1, 1), le=date(9998, 12, 31),
    )] = None,
    by: Annotated[Literal["category", "unit"], Query(description="Rows per alert category or per unit.")] = "category",
) -> dict[str, Any]:
    """Alerts per category (or unit) in the period, the period before (环比) and the same period a year
    before (同比), with the change in %; the share of preventable alerts (可防性警情); the 两降一升 panel
    (criminal and public-order alerts down 同比, citizens' satisfaction up, from rating's weekly figures).
    Alerts count in the period of their `received_at`; read from roll-ups, not from the alerts."""
    return local(await figures.trends(d, period=period, at=at, by=by), d.settings.zone)


@router.get("/hotspots")
async def hotspots(
    _: Reader,
    d: DispatchDep,
    weeks: Annotated[int, Query(ge=1, le=53, description="This ISO week and the ones before it.")] = 8,
    top: Annotated[int, Query(ge=1, le=50, description="How many places.")] = 10,
    hours: Annotated[int, Query(ge=1, le=24, description="How many busiest hours of the week per place.")] = 3,
) -> dict[str, Any]:
    """Where alerts cluster (必巡点) and, for each place, the hours of the week when it is busiest
    (防范薄弱时段), for patrol planning; from weekly roll-ups of cells about `HOTSPOT_CELL_M` wide."""
    return await figures.hotspots(d, weeks=weeks, top=top, hours=hours)
