"""Trace context in headers, in staged outbox entries and in log lines; exporters from OTEL_* variables."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from common import outbox, tracing
from common.contracts.base import Event

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
_EXPORTER = InMemorySpanExporter()
tracing.configure("unit", processors=[SimpleSpanProcessor(_EXPORTER)])


class _Noted(Event):
    subject = "tests.noted"
    key = "note_id"
    note_id: str


def test_a_publish_continues_the_trace_its_message_was_staged_in() -> None:
    with tracing.publishing("tests.noted", "m1", {"traceparent": PARENT, "Fq-Reason": "x"}) as headers:
        pass
    assert headers["Fq-Reason"] == "x"
    assert headers["traceparent"].split("-")[1] == TRACE
    assert headers["traceparent"] != PARENT  # the publish span is the message's parent now


def test_a_publish_outside_any_trace_starts_one() -> None:
    with tracing.publishing("tests.noted", "m2", None) as headers:
        pass
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert (version, len(trace_id), len(span_id)) == ("00", 32, 16)
    assert int(flags, 16) & 1  # sampled


def test_a_consumer_span_is_the_child_of_the_headers_trace() -> None:
    with tracing.consuming({"traceparent": PARENT}, "tests.noted", "c", "m3") as span:
        context = span.get_span_context()
    assert format(context.trace_id, "032x") == TRACE
    with tracing.consuming({}, "tests.noted", "c", None) as span:
        assert format(span.get_span_context().trace_id, "032x") != TRACE


def test_a_staged_entry_keeps_the_trace_of_the_use_case_that_staged_it() -> None:
    with tracing.consuming({"traceparent": PARENT}, "tests.noted", "c", "m4"):
        entries = outbox.new_entries([(_Noted(note_id="n1"), "n1/noted")], version=1)
    (entry,) = outbox.staged(entries)
    assert entry.traceparent.split("-")[1] == TRACE
    assert entry.headers() == {"traceparent": entry.traceparent}
    assert outbox.staged({k: {**v, "traceparent": ""} for k, v in entries.items()})[0].headers() is None


def test_a_kept_trace_context_is_resumed_as_the_parent_and_the_current_span_is_its_link() -> None:
    assert not tracing.in_trace() and tracing.current_traceparent() == ""
    with tracing.consuming({}, "tests.asked", "c", "m6") as request:  # a new request, its own trace
        assert tracing.in_trace()
        with tracing.resumed(PARENT, "tests resumed") as resumed:
            kept = tracing.current_traceparent()
        with tracing.resumed("", "tests plain") as plain:
            pass
    context = resumed.get_span_context()
    assert format(context.trace_id, "032x") == TRACE and kept.split("-")[1] == TRACE
    assert format(resumed.parent.span_id, "016x") == PARENT.split("-")[2]
    assert [link.context.span_id for link in resumed.links] == [request.get_span_context().span_id]
    # without a kept context: an ordinary child of the current span, no link
    assert plain.parent.span_id == request.get_span_context().span_id and not plain.links
    with tracing.resumed(PARENT, "tests timer") as timer:  # a timer: nothing current, nothing to link
        pass
    assert format(timer.get_span_context().trace_id, "032x") == TRACE and not timer.links


def test_log_lines_carry_the_trace_and_span_ids_only_inside_a_span() -> None:
    assert tracing.log_ids(None, "info", {"event": "x"}) == {"event": "x"}
    with tracing.consuming({"traceparent": PARENT}, "tests.noted", "c", "m5") as span:
        line = tracing.log_ids(None, "info", {"event": "x"})
    assert line["trace_id"] == TRACE
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ["OTLPSpanExporter"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, ["OTLPSpanExporter"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["ConsoleSpanExporter"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, []),
    ],
)
def test_exporters_follow_the_standard_variables(monkeypatch, env: dict[str, str], expected: list[str]) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert [e.__class__.__name__ for e in tracing._exporters()] == expected
