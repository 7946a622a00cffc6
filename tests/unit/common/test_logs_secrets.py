"""No secret in a log line: no locals in tracebacks, URL passwords and registered secrets redacted,
a line capped at MAX_LINE_BYTES and saying it was cut."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog

from common import logs
from common.logs import MAX_LINE_BYTES, configure_logging, redact, register_secrets
from common.settings import ServiceSettings

TOKEN = "tok-0123456789abcdef-secret"
NATS_PASSWORD = "nats-pw-4f1b2c"
MONGO_PASSWORD = "mongo-pw-9a8b7c"


@pytest.fixture
def json_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    saved = set(logs._SECRETS)
    yield capsys
    logs._SECRETS.clear()
    logs._SECRETS.update(saved)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    for handler in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(handler)
    sys.excepthook, threading.excepthook = sys.__excepthook__, threading.__excepthook__


def _lines_of(text: str, *events: str) -> list[dict]:
    """The JSON lines this test logged, in order: the root handler is the process's, so a line another
    test's leftover (a thread, a task collected just now) logs meanwhile may be captured beside ours."""
    ours = []
    for line in text.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue  # not a line of the handler's (Python's own "Exception ignored in ..." note)
        if isinstance(parsed, dict) and parsed.get("event") in events:
            ours.append(parsed)
    return ours


def _settings() -> ServiceSettings:
    return ServiceSettings(
        tokens={TOKEN: ["admin"]}, nats_url=f"nats://dispatch:{NATS_PASSWORD}@nats-1:4222",
        mongo_url=f"mongodb://fq:{MONGO_PASSWORD}@mongo-1:27017/?replicaSet=rs0")


def test_settings_never_render_their_secrets() -> None:
    settings = _settings()
    for text in (repr(settings), str(settings), repr(settings.tokens), str(settings.model_dump())):
        assert TOKEN not in text and NATS_PASSWORD not in text and MONGO_PASSWORD not in text
    assert settings.tokens[TOKEN] == ["admin"]  # still a table to look tokens up in
    assert {TOKEN, f"nats://dispatch:{NATS_PASSWORD}@nats-1:4222"} <= set(settings.secret_values())


@pytest.mark.parametrize(("text", "expected"), [
    ("nats://dispatch:pw@nats-1:4222", "nats://dispatch:***@nats-1:4222"),
    ("a,nats://u:p@h1:4222,nats://u:q@h2:4222 b", "a,nats://u:***@h1:4222,nats://u:***@h2:4222 b"),
    ("mongodb://fq:s3cr%40t@m:27017/?x=1", "mongodb://fq:***@m:27017/?x=1"),
    ("http://127.0.0.1:8103/v1/sms/dlr", "http://127.0.0.1:8103/v1/sms/dlr"),  # a port is not a password
    ("http://kannel:tok@notify:8103/v1", "http://kannel:***@notify:8103/v1"),
    ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
    ("nats://u:pa:ss@h:4222", "nats://u:***@h:4222"),  # a colon in the password: all of it, from the first
])
def test_url_passwords_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_failure_logs_no_local_variable_and_no_secret(json_logging) -> None:
    register_secrets(*_settings().secret_values())
    configure_logging("INFO", json=True, service="dispatch")
    settings = _settings()

    def connect(url: str) -> None:
        tokens = dict(settings.tokens)  # noqa: F841 - a local a traceback with locals would print
        raise ConnectionError(f"cannot reach {url}; token {TOKEN}")

    try:
        connect(f"nats://dispatch:{NATS_PASSWORD}@nats-1:4222")
    except ConnectionError:
        structlog.get_logger("x").exception("nats.failed", settings=repr(settings))
        logging.getLogger("nats").error("stdlib too", exc_info=True)
    text = json_logging.readouterr().err
    for secret in (TOKEN, NATS_PASSWORD, MONGO_PASSWORD):
        assert secret not in text
    lines = _lines_of(text, "nats.failed", "stdlib too")
    assert [line["event"] for line in lines] == ["nats.failed", "stdlib too"]
    for line in lines:
        frames = line["exception"][0]["frames"]
        assert frames and all("locals" not in frame for frame in frames)
        assert "***" in line["exception"][0]["exc_value"]


def test_a_long_line_is_cut_to_the_cap_and_says_so(json_logging) -> None:
    configure_logging("INFO", json=True, service="notify")
    structlog.get_logger("x").info("big.one", body="宽" * 200_000)
    structlog.get_logger("x").info("small.one", body="x" * 100)
    text = json_logging.readouterr().err
    assert all(len(line.encode()) <= MAX_LINE_BYTES for line in text.splitlines())
    big, small = _lines_of(text, "big.one", "small.one")
    assert big["event"] == "big.one" and big["level"] == "info" and big["service"] == "notify"
    assert big["cut"].startswith("line of ") and big["cut"].endswith(f"cut to {MAX_LINE_BYTES}")
    assert "cut" not in small and small["body"] == "x" * 100


def test_the_console_renderer_is_capped_and_redacted_too(json_logging) -> None:
    register_secrets(TOKEN)
    configure_logging("INFO", json=False)
    structlog.get_logger("x").info("big.one", body="y" * 50_000, token=TOKEN)
    text = json_logging.readouterr().err
    assert TOKEN not in text and "cut to" in text and len(text.encode()) < MAX_LINE_BYTES + 200


class _Renderer:
    """A renderer that hands back a line of our making, and remembers what it was called with."""

    def __init__(self, line: str) -> None:
        self.line, self.calls = line, []

    def __call__(self, logger: object, name: str, event_dict: dict) -> str:
        self.calls.append((logger, name, event_dict))
        return self.line


@pytest.mark.parametrize(("extra", "cut"), [(0, False), (1, True)])
def test_a_line_of_exactly_the_cap_is_kept_whole_one_byte_more_is_cut(extra: int, cut: bool) -> None:
    line = "宽" * (MAX_LINE_BYTES // 3) + "x" * (MAX_LINE_BYTES % 3 + extra)
    assert len(line.encode()) == MAX_LINE_BYTES + extra  # counted in UTF-8 bytes, not characters
    renderer, logger, event = _Renderer(line), object(), {"event": "big.one"}
    written = logs._Capped(renderer, as_json=True)(logger, "info", event)
    assert renderer.calls == [(logger, "info", event)]
    assert (written != line) is cut
    if cut:
        assert json.loads(written)["cut"] == f"line of {MAX_LINE_BYTES + 1} bytes cut to {MAX_LINE_BYTES}"


def test_a_cut_json_line_keeps_the_named_fields_a_short_event_and_half_the_cap() -> None:
    stamp = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)  # not JSON itself: written as text
    event = {"timestamp": stamp, "level": "info", "event": "出" * 600, "service": "notify", "logger": "x",
             "body": "b", "other": 1}
    cut = json.loads(logs._Capped(_Renderer("a" * (MAX_LINE_BYTES + 1)), as_json=True)(None, "info", event))
    assert cut == {"timestamp": str(stamp), "level": "info", "event": "出" * 512, "service": "notify", "logger": "x",
                   "cut": f"line of {MAX_LINE_BYTES + 1} bytes cut to {MAX_LINE_BYTES}",
                   "head": "a" * (MAX_LINE_BYTES // 2)}
    line = logs._Capped(_Renderer("a" + "宽" * MAX_LINE_BYTES), as_json=True)(None, "info", {})
    assert "宽" in line  # not escaped to \\u5bbd
    nameless = json.loads(line)
    assert nameless["event"] == ""  # no event: an empty one
    assert nameless["head"] == "a" + "宽" * ((MAX_LINE_BYTES // 2 - 1) // 3)  # a character split in two is dropped


def test_a_secret_is_registered_from_six_characters(json_logging) -> None:
    register_secrets("s3cr3", "s3cr3t", "")
    assert redact("s3cr3 and s3cr3t") == "s3cr3 and ***"
    assert "" not in logs._SECRETS
