"""Off a terminal every line is one JSON object, whoever logs it, and phone numbers stay masked."""

from __future__ import annotations

import json
import logging
import sys
import threading
import warnings
from collections.abc import Iterator

import pytest
import structlog

from common.logs import configure_logging

PHONE = "13800138000"


@pytest.fixture
def json_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Logging as a service sets it up off a terminal (in the test itself: onto the captured stderr)."""
    yield capsys
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    logging.captureWarnings(False)
    for handler in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(handler)
    sys.excepthook, threading.excepthook = sys.__excepthook__, threading.__excepthook__


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    captured = capsys.readouterr()
    text = captured.err + captured.out
    assert PHONE not in text
    return [json.loads(line) for line in text.splitlines()]


def test_structlog_uvicorn_stdlib_warnings_and_tracebacks_are_json_lines(json_logging) -> None:
    configure_logging("INFO", json=True, service="dispatch")
    structlog.get_logger("x").info("alert.received", caller=PHONE)
    logging.getLogger("uvicorn.error").info("Uvicorn running on http://127.0.0.1:8101 for %s", PHONE)
    logging.getLogger("uvicorn.access").warning('127.0.0.1 - "GET /v1/alerts?phone=%s" 500', PHONE)
    try:
        raise ValueError(f"bad caller {PHONE}")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        structlog.get_logger("x").exception("handler.failed")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"deprecated for {PHONE}", DeprecationWarning, stacklevel=1)

    lines = _lines(json_logging)

    assert [line["event"] for line in lines[:3]] == [
        "alert.received", "Uvicorn running on http://127.0.0.1:8101 for 138****8000",
        '127.0.0.1 - "GET /v1/alerts?phone=138****8000" 500',
    ]
    assert lines[1]["logger"] == "uvicorn.error" and lines[1]["service"] == "dispatch" and lines[1]["level"] == "info"
    asgi, handler, warning = lines[3], lines[4], lines[5]
    for failed in (asgi, handler):
        (frame_info,) = failed["exception"]
        assert frame_info["exc_type"] == "ValueError" and frame_info["exc_value"] == "bad caller 138****8000"
        assert frame_info["frames"], "the traceback's frames, as data"
    assert warning["logger"] == "py.warnings" and "deprecated for 138****8000" in warning["event"]


def test_an_exception_nobody_caught_is_a_json_line(json_logging) -> None:
    configure_logging("INFO", json=True, service="dispatch")
    try:
        raise RuntimeError(f"crashed on {PHONE}")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    thread = threading.Thread(target=lambda: 1 / 0, name="sweeper")
    thread.start()
    thread.join()

    crashed, in_thread = _lines(json_logging)

    assert crashed["event"] == "process.crashed" and crashed["level"] == "critical"
    assert crashed["exception"][0]["exc_value"] == "crashed on 138****8000"
    assert in_thread["event"] == "thread.crashed" and in_thread["thread"] == "sweeper"
    assert in_thread["exception"][0]["exc_type"] == "ZeroDivisionError"
