"""A connection that keeps failing to reconnect logs a bounded number of lines."""

from __future__ import annotations

from structlog.testing import capture_logs

from common.bus import throttled_errors


async def test_the_first_error_then_one_line_per_period_with_a_count() -> None:
    now = [0.0]
    on_error = throttled_errors(30.0, clock=lambda: now[0])
    with capture_logs() as logs:
        for _ in range(60):  # nats-py's reconnect loop: one error every 0.5 s for 30 s
            await on_error(ConnectionRefusedError(111, "Connect call failed"))
            now[0] += 0.5
        await on_error(OSError())
    assert [(e["event"], e["errors_since_last_line"]) for e in logs] == [("nats.error", 0), ("nats.error", 59)]
    assert logs[0]["error"] == "[Errno 111] Connect call failed" and logs[1]["error"] == "OSError"
