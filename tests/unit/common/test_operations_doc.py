"""docs/operations.md names every metric the services export and has the runbooks operators need."""

from __future__ import annotations

import importlib
from pathlib import Path

import prometheus_client

from fengqiao.services import SERVICES

DOC = Path(__file__).resolve().parents[3] / "docs" / "operations.md"


def _metrics() -> set[str]:
    for module in ("common.metrics", "common.gauges"):
        importlib.import_module(module)
    for name in SERVICES:
        importlib.import_module(f"{name}.bootstrap")  # a service's own metrics are defined where it counts them
    names = set()
    for metric in prometheus_client.REGISTRY.collect():
        if metric.name.startswith("fengqiao_"):
            names.add(f"{metric.name}_total" if metric.type == "counter" else metric.name)
    return names


def test_every_metric_is_in_the_operations_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = _metrics()
    assert len(names) > 20
    assert sorted(n for n in names if f"`{n}`" not in text) == []


def test_the_runbooks_are_there() -> None:
    text = DOC.read_text(encoding="utf-8")
    for heading in ("## Runbook: strays", "## Runbook: undoing an opt-out",
                    "## Runbook: the daily limit, the allowed hours, the holiday calendar",
                    "## Pointing notify at Kannel", "## Identities: tokens, the identity provider, rotating them",
                    "## The audit trail", "## Runbook: a dead letter", "### Notify and rating: what to page on"):
        assert heading in text, heading
    assert "when they land" not in text and "is being written" not in text
