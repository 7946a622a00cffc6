"""A real service off a terminal: every line it writes, uvicorn's and a crash's traceback included, is JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fengqiao.embedded import EmbeddedServer, free_port

pytestmark = pytest.mark.integration


def _serve(env: dict[str, str]) -> tuple[subprocess.CompletedProcess, list[dict]]:
    done = subprocess.run([sys.executable, "-m", "fengqiao", "serve", "dispatch"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}\n{done.stderr}")
    return done, parsed


def test_a_service_that_crashes_logs_uvicorn_and_its_traceback_as_json(nats_server: EmbeddedServer) -> None:
    """A store URL that is not one: HTTP is up, then the service cannot be built and the process exits non-zero."""
    done, lines = _serve({
        "FQ_DISPATCH_NATS_URL": nats_server.url, "FQ_DISPATCH_MONGO_URL": "notmongo://13800138000@127.0.0.1",
        "FQ_DISPATCH_HTTP_PORT": str(free_port()), "FQ_DISPATCH_LOG_JSON": "true",
    })
    assert done.returncode != 0
    uvicorn = [line for line in lines if line.get("logger", "").startswith("uvicorn")]
    assert any(line["event"].startswith("Uvicorn running on") for line in uvicorn), lines
    assert any(line["event"] == "Shutting down" for line in uvicorn), lines
    (crashed,) = [line for line in lines if line["event"] == "process.crashed"]
    assert crashed["exception"][-1]["exc_type"] == "InvalidURI"
    assert "13800138000" not in done.stdout + done.stderr


def test_settings_it_cannot_read_are_one_json_line_naming_them() -> None:
    done, lines = _serve({"FQ_DISPATCH_STATION_TIMEZONE": "Mars/Olympus", "FQ_DISPATCH_SWEEP_INTERVAL_S": "-1",
                          "FQ_DISPATCH_LOG_JSON": "true"})
    assert done.returncode == 2
    (line,) = lines
    assert line["event"] == "settings.invalid" and line["level"] == "error"
    assert [e["field"] for e in line["errors"]] == ["FQ_DISPATCH_STATION_TIMEZONE", "FQ_DISPATCH_SWEEP_INTERVAL_S"]
