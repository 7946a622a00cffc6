"""`fengqiao serve` answers HTTP at once, connects in the background, and stops on SIGTERM in every state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fengqiao.embedded import EmbeddedServer, free_port, start_nats

pytestmark = pytest.mark.integration

GRACE_S = 5.0
#: the interpreter's start and imports (1-2.5 s on the shared machine): HTTP comes right after them, before NATS
STARTUP_S = 15.0


class Served:
    def __init__(self, tmp_path: Path, nats_url: str, mongo_url: str, db: str, grace_s: float = GRACE_S) -> None:
        self.grace_s = grace_s
        self.port = free_port()
        self.log_path = tmp_path / "dispatch.log"
        env = {
            **os.environ,
            "FQ_DISPATCH_NATS_URL": nats_url, "FQ_DISPATCH_MONGO_URL": mongo_url, "FQ_DISPATCH_MONGO_DB": db,
            "FQ_DISPATCH_HTTP_PORT": str(self.port), "FQ_DISPATCH_LOG_JSON": "true",
            "FQ_DISPATCH_SHUTDOWN_GRACE_S": str(grace_s),
        }
        self.started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "fengqiao", "serve", "dispatch"], env=env,
                                            stdout=log, stderr=subprocess.STDOUT)

    def get(self, path: str) -> tuple[int, dict] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=1) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())
        except OSError:
            return None

    def until(self, path: str, status: int, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.get(path)
            if answer is not None and answer[0] == status:
                return answer[1]
            time.sleep(0.05)
        raise AssertionError(f"{path} did not answer {status} within {timeout} s; log:\n{self.log()}")

    def terminate(self) -> tuple[int, float]:
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(self.grace_s + 10)
        return code, time.monotonic() - sent

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_lines(self) -> list[str]:
        return [line for line in self.log().splitlines() if line.strip()]


@pytest.fixture
def served(tmp_path: Path, store_server: EmbeddedServer, db_name: str) -> Iterator:
    started: list[Served] = []

    def start(nats_url: str, mongo_url: str | None = None, grace_s: float = GRACE_S) -> Served:
        svc = Served(tmp_path, nats_url, mongo_url or store_server.url, db_name, grace_s)
        started.append(svc)
        return svc

    yield start
    for svc in started:
        if svc.process.poll() is None:
            svc.process.kill()
            svc.process.wait()


def test_without_nats_it_is_alive_not_ready_then_ready_when_nats_comes(served, tmp_path: Path) -> None:
    nats_port = free_port()
    svc = served(f"nats://127.0.0.1:{nats_port}")
    assert svc.until("/healthz", 200, timeout=STARTUP_S) == {"status": "alive"}
    ready = svc.until("/readyz", 503, timeout=10)
    assert ready["ready"] is False
    assert ready["checks"] == {"nats": "failed: NotConnectedYet", "mongodb": "failed: NotConnectedYet",
                               "start": "failed: StillStarting"}
    elsewhere = svc.get("/v1/units")
    assert elsewhere is not None and elsewhere[0] == 503 and "waiting for nats" in elsewhere[1]["detail"]

    time.sleep(5.0)
    lines = svc.log_lines()
    waiting = [ln for ln in lines if '"service.waiting"' in ln]
    # backoff 0.5, 1, 2, 4 s: four tries in five seconds (the old loop logged ten lines), nothing else repeated
    assert 3 <= len(waiting) <= 5, lines
    assert len(lines) <= len(waiting) + 4, lines

    nats: EmbeddedServer = start_nats(tmp_path / "nats", port=nats_port)
    try:
        came = time.monotonic()
        ready = svc.until("/readyz", 200, timeout=12.0)
        assert ready["checks"] == {"nats": "ok", "mongodb": "ok"}
        print(f"\nready {time.monotonic() - came:.2f} s after nats-server came up")
        assert svc.get("/v1/units")[0] == 401  # the service's own routes now, behind its token
        code, took = svc.terminate()
    finally:
        nats.stop()
    assert code == 0, svc.log()
    assert took < GRACE_S, took
    assert '"service.stopped"' in svc.log()


def test_sigterm_while_nats_is_still_away_stops_it_at_once(served) -> None:
    svc = served(f"nats://127.0.0.1:{free_port()}", grace_s=30)
    svc.until("/healthz", 200, timeout=STARTUP_S)
    code, took = svc.terminate()
    assert code == 0, svc.log()
    stopped = [json.loads(line) for line in svc.log_lines() if '"service.stopped"' in line]
    # nothing in hand to finish: cancelled at once, the grace not waited out (a time bound alone would
    # measure the shared machine's load as much as the service)
    assert [line.get("before") for line in stopped] == ["running"], svc.log()
    assert took < 15, took  # far from the 30 s of grace it would have waited out


def test_without_the_store_it_names_the_store_and_still_stops(served, nats_server: EmbeddedServer) -> None:
    svc = served(nats_server.url, mongo_url=f"mongodb://127.0.0.1:{free_port()}/?directConnection=true")
    svc.until("/healthz", 200, timeout=STARTUP_S)
    ready = svc.until("/readyz", 503, timeout=10)
    deadline = time.monotonic() + 10
    while ready["checks"]["nats"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.1)
        ready = svc.get("/readyz")[1]
    assert ready["checks"] == {"nats": "ok", "mongodb": "failed: NotConnectedYet", "start": "failed: StillStarting"}
    code, took = svc.terminate()  # while a ping of the store is waiting for its server
    assert code == 0, svc.log()
    assert took < 5.0, took  # the ping not waited out (the store's server selection timeout is 5 s)
