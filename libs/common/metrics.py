"""Prometheus metrics shared by every service (served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES = Counter(
    "fengqiao_messages_total",
    "Messages handled by a consumer, by outcome (acked, deadlettered, retried).",
    ["consumer", "outcome"],
)
MESSAGE_SECONDS = Histogram(
    "fengqiao_message_handling_seconds",
    "Time to handle one message.",
    ["consumer"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
DEADLETTERS = Counter(
    "fengqiao_deadletters_total", "Messages moved to a dead-letter subject.", ["subject", "reason"]
)
HTTP_REQUESTS = Counter("fengqiao_http_requests_total", "HTTP requests.", ["method", "route", "status"])
HTTP_SECONDS = Histogram("fengqiao_http_request_seconds", "HTTP request time.", ["method", "route"])
OUTBOX_PUBLISHED = Counter("fengqiao_outbox_published_total", "Events published from an outbox.", ["collection"])
AUDIT_RECORDS = Counter("fengqiao_audit_records_total", "Audit records written (personal data shown whole, commands).")
AUDIT_DROPPED = Counter(
    "fengqiao_audit_dropped_total", "Audit records dropped because the store stayed away past the pending bound."
)
