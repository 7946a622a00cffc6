"""Use cases of the grid and its units: the grid replaced whole, a unit's status, what the API reads of them."""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from common.errors import Conflict, NotFound, Refused
from common.repository import VersionConflict
from dispatch.adapters.store import GRID_ID
from dispatch.domain.grid import GridParse, GridUnit, parse_grid
from dispatch.domain.units import GridRecord, Unit
from dispatch.handlers.context import Dispatch
from dispatch.placement.duty_desk import reach_again
from dispatch.placement.placing import hand_on

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class UnitReadout:
    unit_id: str
    name: str | None
    status: str
    load: int
    capacity: int
    officers: list[str]
    post: list[float] | None
    retired: bool


def _readout(d: Dispatch, unit_id: str) -> UnitReadout:
    state = d.view.states[unit_id]
    unit = d.view.grid.get(unit_id) if d.view.grid else None
    return UnitReadout(unit_id, unit.name if unit else None, state.status, d.view.loads.get(unit_id, 0),
                       state.capacity, list(state.officers), list(unit.post) if unit else None, state.retired)


async def units(d: Dispatch, *, include_retired: bool) -> list[UnitReadout]:
    """Every unit as the store has it now, with its load, in id order."""
    await d.view.refresh()
    return [_readout(d, u) for u, state in sorted(d.view.states.items()) if include_retired or not state.retired]


async def unit(d: Dispatch, unit_id: str) -> UnitReadout:
    await d.view.refresh_unit(unit_id)
    if unit_id not in d.view.states:
        raise NotFound("unit", unit_id)
    return _readout(d, unit_id)


async def current_grid(d: Dispatch) -> tuple[int, dict, list[dict]]:
    """The grid as last uploaded: its version, the GeoJSON, the warnings it was accepted with."""
    version, geojson, warnings = await d.grids.current()
    if geojson is None:
        raise NotFound("grid", "current")
    return version, geojson, warnings


async def set_unit_status(d: Dispatch, unit_id: str, status: str) -> UnitReadout:
    """The duty desk sets a unit's status; the event is staged with the change, so it never waits for the broker."""
    state = d.view.states.get(unit_id)
    known = state is not None and not state.retired
    if known:
        # the alerts this replica ranks from now on see it at once, not after the store write
        d.view.note_states({unit_id: replace(state, status=status)})
    try:
        await d.unit_work.act(unit_id, lambda unit: unit.set_status(status, d.clock.now()))
    except (NotFound, Refused) as exc:
        if known:  # gone from the store (or the grid) meanwhile: take back what the view was told
            await d.view.refresh_unit(unit_id)
        raise NotFound("unit", unit_id) from exc
    await d.view.refresh_unit(unit_id)
    if status == "off_duty":
        await hand_on(d.placement, [unit_id])  # alerts it has not acknowledged go to the next-best unit at once
    return _readout(d, unit_id)


async def replace_grid(d: Dispatch, geojson: dict) -> tuple[GridParse, int]:
    parsed = parse_grid(geojson)
    if not parsed.ok:
        return parsed, d.view.version
    now = d.clock.now()
    warnings = [{"field": w.loc, "msg": w.message} for w in parsed.warnings]
    text = json.dumps(geojson, ensure_ascii=False)
    version = await _upload(d, text, warnings, len(parsed.units), now)
    retired = await _sync_units(d, parsed.units, version)
    await d.view.refresh()
    await reach_again(d.placement)
    await hand_on(d.placement, retired)
    log.info("grid.replaced", version=version, units=len(parsed.units), retired=retired)
    return parsed, version


async def _upload(d: Dispatch, text: str, warnings: list[dict], units: int, now: datetime) -> int:
    """Store the grid (its event staged with it); returns its version."""
    for _ in range(3):
        stored = await d.grids.get(GRID_ID)
        if stored is None:
            record = GridRecord.upload(text, warnings, units, now)
            if await d.grid_work.add(record):
                return record.version
            continue
        stored.aggregate.replace(text, warnings, units, now)
        with suppress(VersionConflict):
            await d.grid_work.commit(stored)
            return stored.aggregate.version
    raise Conflict("the grid is being replaced by someone else: try again")


async def _sync_units(d: Dispatch, units: list[GridUnit], version: int) -> list[str]:
    """The grid's units take its description; units gone from it are retired. Returns the retired ids."""
    for u in units:
        described = {"name": u.name, "officers": list(u.officers), "capacity": u.capacity, "status": u.status,
                     "grid_version": version}
        if await d.units.get(u.unit_id) is None and await d.unit_work.add(Unit(u.unit_id, **described)):
            continue  # else stored meanwhile by another replica's grid: described below
        await d.unit_work.act(u.unit_id, lambda unit, described=described: unit.regrid(**described))
    retired = await d.units.retired_ids([u.unit_id for u in units])
    for unit_id in retired:
        await d.unit_work.act(unit_id, lambda unit: unit.retire(version))
    return retired
