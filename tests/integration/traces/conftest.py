"""Spans of services run in this process, caught by the OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from common import tracing

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The finished spans of this test (the provider is the process's: installed once, cleared per test)."""
    tracing.configure("tests", processors=[] if _installed() else [SimpleSpanProcessor(_EXPORTER)])
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


_added: list[bool] = []


def _installed() -> bool:
    if _added:
        return True
    _added.append(True)
    return False
