"""Logging set-up: JSON lines off a terminal, phone numbers masked, secrets never written.

Every line a service writes goes through here: structlog's own, every standard-library
logger's (uvicorn, uvicorn.error, uvicorn.access, nats, pymongo, asyncio …) through a
structlog `ProcessorFormatter` on the root handler, Python warnings (`py.warnings`), and
an exception nobody caught (`sys.excepthook`, `threading.excepthook`). Off a terminal
each is one JSON object with its traceback as structured data (`dict_tracebacks`); on a
terminal, structlog's console renderer. Phone numbers are masked in every field,
tracebacks included.

No secret reaches a line: tracebacks carry no local variables (a frame's locals held the
settings, tokens and URLs with passwords); the password of a URL (`nats://user:pw@host`) is
written `***`; every value the service registered as secret (`register_secrets`: its tokens and
passwords) is replaced wherever it appears; and a line longer than `MAX_LINE_BYTES` is cut, saying so.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from types import TracebackType
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

from common import tracing

#: a mainland mobile number, alone or after the country code (+86, 0086, 86): a number is not a
#: phone when more digits stand right before or after it
_PHONE = re.compile(r"(?<!\d)((?:\+|00)?86[\s-]?)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
#: scheme://user:password@ — the password part, in any URL written into any text
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@\"']*:)[^\s@/\"']+(?=@)")
#: the longest line a service writes; a longer one is cut and says how long it was
MAX_LINE_BYTES = 16 * 1024
#: what a secret is replaced with
REDACTED = "***"
_SECRETS: set[str] = set()
#: shorter values could be ordinary words; settings refuse secrets that short in production
_SHORTEST_SECRET = 6


def mask_phones(text: str) -> str:
    """13800138000 -> 138****8000 (the form Chinese police systems print); +8613800138000 ->
    +86138****8000."""
    return _PHONE.sub(r"\1\2****\4", text)


def register_secrets(*values: str) -> None:
    """Values never to be written in a log line (tokens, passwords); kept for the process's life."""
    _SECRETS.update(v for v in values if v and len(v) >= _SHORTEST_SECRET)


def redact(text: str) -> str:
    """`text` with URL passwords and registered secrets replaced by ***."""
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phones(redact(value))
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask(v) for v in value)
    return value


def _mask_processor(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: _mask(v) for k, v in event_dict.items()}


class _Capped:
    """The renderer, then the line redacted once more (a secret split across fields is rendered whole
    only here) and cut to `MAX_LINE_BYTES`: a cut JSON line is still one JSON object, saying it was cut."""

    def __init__(self, renderer: Any, as_json: bool) -> None:
        self.renderer = renderer
        self.as_json = as_json

    def __call__(self, logger: Any, name: str, event_dict: dict[str, Any]) -> str:
        kept = {k: event_dict.get(k) for k in ("timestamp", "level", "event", "service", "logger") if k in event_dict}
        line = redact(str(self.renderer(logger, name, event_dict)))
        size = len(line.encode("utf-8"))
        if size <= MAX_LINE_BYTES:
            return line
        note = f"line of {size} bytes cut to {MAX_LINE_BYTES}"
        head = line.encode("utf-8")[: MAX_LINE_BYTES // 2].decode("utf-8", "ignore")
        if not self.as_json:
            return head + f" …[{note}]"
        kept["event"] = str(kept.get("event", ""))[:512]
        return redact(json.dumps({**kept, "cut": note, "head": head}, ensure_ascii=False, default=str))


class _StandardError:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was set up: a stream swapped
    later (a test's capture, a daemon's redirect) gets the lines, and a closed one is never written to."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure_logging(level: str = "INFO", json: bool | None = None, service: str | None = None) -> None:
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if as_json else structlog.dev.ConsoleRenderer()
    )
    stamped: list[Any] = [
        structlog.contextvars.merge_contextvars,
        tracing.log_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # the console renderer prints an exception itself; JSON gets it as data in the same line. Never a
    # frame's local variables: they held settings, tokens and connection URLs
    tracebacks = structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
    if not as_json:
        renderer = structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
            if structlog.dev.rich is not None else structlog.dev.plain_traceback)
    rendered: list[Any] = [*([tracebacks] if as_json else []), _mask_processor, _Capped(renderer, as_json)]

    handler = logging.StreamHandler(_StandardError())
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*stamped, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendered],
    ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()  # theirs would print plain text: ours, through the root
        logging.getLogger(name).propagate = True
        logging.getLogger(name).setLevel(logging.NOTSET)  # the service's level, whatever uvicorn set before
    for noisy in ("uvicorn.access", "nats"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(False)  # set up afresh: a second call must not keep an earlier showwarning
    logging.captureWarnings(True)

    structlog.configure(
        processors=[*stamped, *rendered],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_StandardError()),  # type: ignore[arg-type]
        # not cached: a module's logger follows the configuration in force (a second set-up, a test's
        # capture_logs) instead of freezing the first; the cost is a few microseconds per line
        cache_logger_on_first_use=False,
    )
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    if as_json:
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    structlog.get_logger("fengqiao").critical("process.crashed", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    structlog.get_logger("fengqiao").error(
        "thread.crashed", thread=getattr(args.thread, "name", None),
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
