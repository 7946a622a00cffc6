"""The duty desk's queue: alerts no unit can take now wait there, and are offered a place as soon as one frees.

The queue is one index (`waiting_key`: reach, priority, age, id), read a page at a time from a
rank: the cost of a round does not grow with the number waiting.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

import structlog

from common.errors import Conflict, NotFound
from common.repository import VersionConflict
from dispatch.adapters.store import BEYOND_REACH
from dispatch.domain.alerts import Alert
from dispatch.placement.placing import Placement, place_waiting

log = structlog.get_logger(__name__)

#: alerts a round of the duty desk places at most; a round that places them all rings again
OFFERS_PER_ROUND = 64
#: alerts a round reads past the free places: within some unit's reach, but not of the units free now
LOOKAHEAD = 8
#: alerts read per query: the store reads each under its lock, alerts being placed get it in between
DESK_PAGE = 8


async def offer_waiting(p: Placement, *, after: str = "", reads: int | None = None) -> tuple[int, str]:
    """Offer the free places to the alerts waiting at the duty desk, urgent and oldest first.

    Reads nothing when no unit has room, else at most as many alerts as there are free places
    (OFFERS_PER_ROUND at most) plus LOOKAHEAD, `reads` if given, from just after `after` (a
    `desk_order`; "" is the head of the queue), a page at a time through the queue's index:
    the cost does not grow with the number waiting. Returns (alerts placed, the rank of the last
    alert read, "" if the queue ended).
    """
    if not p.settings.retry_unassigned:
        return 0, ""
    budget = min(p.view.room(), OFFERS_PER_ROUND) + LOOKAHEAD if reads is None else reads
    placed = 0
    while budget > 0 and p.view.room() > 0:
        page = await p.alerts.waiting(after=after, limit=min(budget, DESK_PAGE, p.view.room()))
        if not page:
            return placed, ""
        for doc in page:
            budget -= 1
            after = doc["waiting_key"][1:]
            if await _offer(p, doc["_id"]):
                placed += 1
                if placed >= OFFERS_PER_ROUND or p.view.room() == 0:
                    return placed, after
    return placed, after


async def _offer(p: Placement, alert_id: str) -> bool:
    """Place one waiting alert if a unit can take it now; True if placed."""
    try:
        stored = await p.uow.load(alert_id)  # events an earlier save left staged go first
    except NotFound:
        return False
    alert = stored.aggregate
    if alert.state not in ("unassigned", "received"):
        return False
    if alert.note_reach(p.within_reach(alert)):
        # beyond every unit's reach (stored before reach was kept): out of the offers' way until a new grid
        with suppress(VersionConflict):
            await p.uow.commit(stored)
        return False
    try:
        return await place_waiting(p, stored) is not None
    except VersionConflict:
        return False  # moved meanwhile (placed by another replica, closed by the desk)


async def reach_again(p: Placement) -> int:
    """A new grid: alerts waiting beyond every unit's reach that a unit of it can reach are offered again.

    Reads the alerts beyond reach a page at a time (a new grid is rare); returns how many came within reach.
    """
    after, changed = "", 0
    while page := await p.alerts.waiting(after=after, limit=DESK_PAGE, reach=BEYOND_REACH):
        for doc in page:
            after = doc["waiting_key"][1:]

            def within(alert: Alert) -> None:
                alert.note_reach(p.within_reach(alert))

            with suppress(NotFound, Conflict):
                changed += not (await p.uow.act(doc["_id"], within)).beyond_reach
    if changed:
        p.view.on_freed()
    return changed


class DutyDesk:
    """Offers waiting alerts a place as soon as one may have freed, one round at a time.

    `ring()` comes from the view (a place given back here or by another replica, a unit
    available again, a new grid): a round starts at the head of the queue. `sweep()` is the
    safety net a timer runs: one page, from where the last sweep stopped (so that alerts no
    free unit can reach do not keep the rest from their turn), and nothing when no unit has room.
    """

    def __init__(self, p: Placement) -> None:
        self._p = p
        self._rung = False
        self._round: asyncio.Task[None] | None = None
        self._cursor = ""

    def ring(self) -> None:
        self._rung = True
        if self._round is None or self._round.done():
            self._round = asyncio.get_running_loop().create_task(self._rounds())

    async def _rounds(self) -> None:
        while self._rung:
            self._rung = False
            try:
                placed, _ = await offer_waiting(self._p)
            except Exception as exc:  # the store away: the sweep tries again
                log.warning("duty_desk.offer_failed", error=repr(exc))
                return
            if placed >= OFFERS_PER_ROUND:
                self._rung = True  # more may wait and fit

    async def sweep(self) -> int:
        placed, self._cursor = await offer_waiting(self._p, after=self._cursor, reads=DESK_PAGE)
        return placed
