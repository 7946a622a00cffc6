"""Tracing across the event bus and HTTP: OpenTelemetry, W3C trace context in NATS headers.

One alert or case is one trace: every publish carries `traceparent` (and `tracestate`) in the
message's headers, every consume continues the trace it finds there, and HTTP requests are
traced by OpenTelemetry's FastAPI instrumentation. An event staged in an outbox keeps the
trace context of the use case that staged it, so the relay that publishes it later continues
the same trace. A publisher from another system that sends a `traceparent` is the parent of
our spans.

A trace also waits in stored data where the platform waits for time or for a person: a callback
keeps the trace context of the use case that scheduled it (its timer fires days later with no
trace of its own), and an SMS question keeps the one of the send that asked it (the citizen's
reply is a new HTTP request). `resumed` continues such a kept context: its span is a child of
the stored one, and the span current at that moment (the reply's request) is kept as a link.

Export follows OpenTelemetry's standard environment variables: spans go out over OTLP when
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, or to the
console when `OTEL_TRACES_EXPORTER=console`; with none of them set nothing is exported and a
span costs only its ids (which the logs still carry). `OTEL_SDK_DISABLED=true` turns it off.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

#: the W3C trace-context headers carried on NATS messages
TRACE_HEADERS = ("traceparent", "tracestate")

_tracer = trace.get_tracer("fengqiao")
_provider: TracerProvider | None = None


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def _exporters() -> list[Any]:
    """The span exporters the standard OTEL_* variables ask for (none when nothing is set)."""
    wanted = [e.strip() for e in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()]
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not wanted:
        wanted = ["otlp"] if endpoint else []
    found: list[Any] = []
    for name in wanted:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            found.append(OTLPSpanExporter())
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            found.append(ConsoleSpanExporter())
    return found


def configure(service: str, *, processors: list[SpanProcessor] | None = None) -> TracerProvider | None:
    """Install the process's tracer provider once (a second call only adds `processors`).

    `processors` is for tests (the SDK's in-memory exporter behind a SimpleSpanProcessor).
    """
    global _provider
    if _env_true("OTEL_SDK_DISABLED"):
        return None
    if _provider is None:
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or f"fengqiao-{service}"})
        _provider = TracerProvider(resource=resource)
        for exporter in _exporters():
            _provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(_provider)
    for processor in processors or []:
        _provider.add_span_processor(processor)
    return _provider


def shutdown() -> None:
    """Flush what the exporters hold (on a service's way out)."""
    if _provider is not None:
        _provider.shutdown()


def inject(headers: dict[str, str] | None = None) -> dict[str, str]:
    """The current trace context as headers, added to `headers` (a context already there is kept)."""
    out = dict(headers or {})
    if "traceparent" in out:
        return out
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    out.update({k: v for k, v in carrier.items() if k in TRACE_HEADERS})
    return out


def current_headers() -> dict[str, str]:
    """The trace context to keep with a staged event, so its later publish continues this trace."""
    return inject()


def current_traceparent() -> str:
    """The current span's W3C `traceparent`, to keep with stored data ("" outside a trace or with tracing off)."""
    return inject().get("traceparent", "")


def in_trace() -> bool:
    """Whether a span is current (a message, a request); a timer's tick has none."""
    return trace.get_current_span().get_span_context().is_valid


def _extract(headers: Mapping[str, str] | None) -> otel_context.Context:
    carrier = {k.lower(): v for k, v in (headers or {}).items() if k.lower() in TRACE_HEADERS}
    return propagate.extract(carrier)


@contextlib.contextmanager
def consuming(headers: Mapping[str, str] | None, subject: str, consumer: str, msg_id: str | None) -> Iterator[Span]:
    """A span for handling one message, a child of the trace its headers carry (if any)."""
    parent = _extract(headers)
    with _tracer.start_as_current_span(
        f"{subject} process",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "nats",
            "messaging.destination.name": subject,
            "messaging.consumer.group.name": consumer,
            **({"messaging.message.id": msg_id} if msg_id else {}),
        },
    ) as span:
        yield span


@contextlib.contextmanager
def publishing(subject: str, msg_id: str, headers: Mapping[str, str] | None) -> Iterator[dict[str, str]]:
    """A span for one publish; yields the headers to send (the trace context the message continues).

    A message staged earlier brings its own context (the use case that caused it): the publish
    span is a child of that, so the relay's later publish belongs to the trace that staged it.
    """
    carried = {k: v for k, v in (headers or {}).items() if k.lower() not in TRACE_HEADERS}
    staged = _extract(headers) if headers and "traceparent" in {k.lower() for k in headers} else None
    with _tracer.start_as_current_span(
        f"{subject} publish",
        context=staged,
        kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "nats", "messaging.destination.name": subject, "messaging.message.id": msg_id},
    ):
        yield inject(carried)


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Span]:
    """An internal span (a use case, a store write)."""
    with _tracer.start_as_current_span(name, attributes={k: v for k, v in attributes.items() if v is not None}) as s:
        yield s


@contextlib.contextmanager
def resumed(traceparent: str | None, name: str, **attributes: Any) -> Iterator[Span]:
    """A span continuing a trace kept with stored data (see the module's doc): a child of `traceparent`,
    linked to the span current now, if any. Without a kept context, an ordinary `span`."""
    if not traceparent:
        with span(name, **attributes) as s:
            yield s
        return
    now = trace.get_current_span().get_span_context()
    with _tracer.start_as_current_span(
        name, context=_extract({"traceparent": traceparent}), links=[Link(now)] if now.is_valid else None,
        attributes={k: v for k, v in attributes.items() if v is not None},
    ) as s:
        yield s


def failed(current: Span, exc: BaseException) -> None:
    """Mark a span as failed without recording the exception's text (it may carry personal data)."""
    current.set_status(Status(StatusCode.ERROR, exc.__class__.__name__))


def log_ids(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: every log line carries the current trace and span ids."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


def instrument_app(app: Any) -> None:
    """Trace every HTTP request of a FastAPI app (server spans, context from `traceparent`)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # the console's sign-in callback carries the provider's one-time code in its query: no span records it
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics,login/oidc/callback")
