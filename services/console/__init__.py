"""console: the station's screens (值班台, 矛盾纠纷, 回访, 评警, 态势) over the services' HTTP APIs and events."""

from console.live import FAMILIES

#: core NATS subscriptions by pattern (read by `fengqiao deployfiles` for the console's NATS user)
CORE_SUBSCRIPTIONS = tuple(f"{family}.>" for family in FAMILIES)
