"""`fengqiao publish` with no NATS to talk to fails in seconds, saying so, and never hangs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fengqiao.embedded import free_port

pytestmark = pytest.mark.integration

ALERT = {"alert_id": "110-NO-NATS-1", "received_at": "2026-11-23T08:15:00+08:00", "category": "dispute",
         "location": {"lon": 118.9651, "lat": 25.2284}, "summary": "没有NATS"}


def _publish(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    (tmp_path / "alert.json").write_text(json.dumps(ALERT, ensure_ascii=False))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "fengqiao", "publish", "alerts.received", str(tmp_path / "alert.json"),
                           "--data-dir", str(tmp_path), *extra], capture_output=True, text=True, timeout=30)
    return done, time.monotonic() - started


def test_nothing_listens_where_endpoints_json_says(tmp_path: Path) -> None:
    """What a `fengqiao up` killed with -9 leaves behind."""
    url = f"nats://127.0.0.1:{free_port()}"
    (tmp_path / "endpoints.json").write_text(json.dumps({"nats_url": url}))
    done, took = _publish(tmp_path)
    assert done.returncode == 1
    assert f"fengqiao publish: cannot reach NATS at {url}:" in done.stderr
    assert "connect call failed" in done.stderr.lower()
    assert done.stdout == ""
    assert took < 5


def test_a_server_that_accepts_and_never_answers(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = f"nats://127.0.0.1:{silent.getsockname()[1]}"
        done, took = _publish(tmp_path, "--nats-url", url)
    finally:
        silent.close()
    assert done.returncode == 1
    assert f"fengqiao publish: cannot reach NATS at {url}:" in done.stderr
    assert took < 8  # two tries of 2 s each, plus the interpreter's start


def test_no_url_and_no_running_platform(tmp_path: Path) -> None:
    done, _ = _publish(tmp_path)
    assert done.returncode == 1 and "is `fengqiao up` running?" in done.stderr
