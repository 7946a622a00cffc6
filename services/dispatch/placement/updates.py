"""Keeps this replica's view current from what the other replicas and the API announce."""

from __future__ import annotations

import json
import uuid

import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pydantic import ValidationError

from common.contracts.alerts import GridReplaced, UnitStatusChanged
from common.contracts.internal import UnitPlaceChanged
from dispatch.placement.places import PlaceChange
from dispatch.placement.view import Announce, ReplicaView

log = structlog.get_logger(__name__)


class ViewUpdates:
    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._origin = uuid.uuid4().hex  # who announced it, so a replica skips its own news

    def announcer(self) -> Announce:
        async def announce(change: PlaceChange) -> None:
            told = UnitPlaceChanged(unit_id=change.unit_id, place=change.place, change=1 if change.taken else -1,
                                    origin=self._origin)
            await self._nc.publish(told.subject, told.model_dump_json().encode())

        return announce

    async def listen(self, view: ReplicaView) -> None:
        async def on_place(msg: Msg) -> None:
            try:
                told = UnitPlaceChanged.model_validate_json(msg.data)
            except ValidationError as exc:
                log.warning("view.bad_announcement", error=str(exc))
                return
            if told.origin != self._origin:
                view.heard(PlaceChange(told.unit_id, told.place, taken=told.change > 0))

        async def on_status(msg: Msg) -> None:
            try:
                await view.refresh_unit(str(json.loads(msg.data)["unit_id"]))
            except Exception as exc:  # the next full refresh catches up
                log.warning("view.status_refresh_failed", error=repr(exc))

        async def on_grid(_: Msg) -> None:
            try:
                await view.refresh()
            except Exception as exc:
                log.warning("view.grid_refresh_failed", error=repr(exc))

        await self._nc.subscribe(UnitPlaceChanged.subject, cb=on_place)
        await self._nc.subscribe(UnitStatusChanged.subject, cb=on_status)
        await self._nc.subscribe(GridReplaced.subject, cb=on_grid)
