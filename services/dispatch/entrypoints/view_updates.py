"""Keeps this replica's GridView current from what the other replicas and the API announce."""

from __future__ import annotations

import json
import uuid

import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from common.contracts.subjects import DISPATCH_UNIT_LOAD, GRID_REPLACED, UNITS_STATUS_CHANGED
from dispatch.view import Announce, GridView

log = structlog.get_logger(__name__)


class ViewUpdates:
    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._origin = uuid.uuid4().hex  # who announced it, so a replica skips its own news

    def announcer(self) -> Announce:
        async def announce(unit_id: str, place: int, change: int) -> None:
            body = {"unit_id": unit_id, "place": place, "change": change, "origin": self._origin}
            await self._nc.publish(DISPATCH_UNIT_LOAD, json.dumps(body).encode())

        return announce

    async def listen(self, view: GridView) -> None:
        async def on_load(msg: Msg) -> None:
            try:
                body = json.loads(msg.data)
                if body["origin"] != self._origin:
                    view.apply_place(str(body["unit_id"]), int(body["place"]), int(body["change"]))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("view.bad_announcement", error=repr(exc))

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

        await self._nc.subscribe(DISPATCH_UNIT_LOAD, cb=on_load)
        await self._nc.subscribe(UNITS_STATUS_CHANGED, cb=on_status)
        await self._nc.subscribe(GRID_REPLACED, cb=on_grid)
