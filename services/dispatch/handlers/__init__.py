"""dispatch's service layer: one module per feature, one small function per use case.

    context  the wired `Dispatch` every use case is handed
    public   the one table from domain events to public contracts
    alerts   an alert received and placed, ordered to a unit, joined on the scene, acknowledged, closed
    units    the grid replaced whole, a unit's status, what the API reads of the units
    stats    per unit and week, and where alerts cluster

Placing an alert is `dispatch.placement`'s; the use cases call down into it. The names below are
the layer's face for the entrypoints and the tests.
"""

from dispatch.handlers.alerts import (
    acknowledge,
    alerts,
    assign,
    assist,
    close,
    duty_desk_queue,
    load,
    officers,
    receive_alert,
    sweep_ack_timeouts,
)
from dispatch.handlers.context import Dispatch
from dispatch.handlers.public import EVENTS, public_events
from dispatch.handlers.stats import weekly_stats
from dispatch.handlers.units import UnitReadout, current_grid, replace_grid, set_unit_status, unit, units

__all__ = [
    "EVENTS", "Dispatch", "UnitReadout", "acknowledge", "alerts", "assign", "assist", "close", "current_grid",
    "duty_desk_queue", "load", "officers", "public_events", "receive_alert", "replace_grid", "set_unit_status",
    "sweep_ack_timeouts", "unit", "units", "weekly_stats",
]
