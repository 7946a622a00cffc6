"""Placeholder until its issue lands: serves health, readiness and metrics only."""

from common.runtime import health_only

build = health_only("notify")
