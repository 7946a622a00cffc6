"""`fengqiao up` as a subprocess on a data folder of the test's own, and what the e2e tests ask of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fengqiao.up import http_json

FENGQIAO = [sys.executable, "-m", "fengqiao"]


class Up:
    def __init__(self, data: Path, env: dict[str, str] | None = None) -> None:
        self.data = data
        self.process = subprocess.Popen([*FENGQIAO, "up", "--data-dir", str(data)], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 120
        while not (data / "endpoints.json").exists():
            assert self.process.poll() is None, self.process.stdout.read()
            assert time.monotonic() < deadline, "fengqiao up did not get ready"
            time.sleep(0.2)
        self.endpoints = json.loads((data / "endpoints.json").read_text())
        self.pids = [self.process.pid, *children(self.process.pid)]

    def url(self, service: str, path: str) -> str:
        return self.endpoints[f"{service}_url"] + path

    def call(self, method: str, service: str, path: str, body: object | None = None, *,
             token: str | None = None) -> tuple[int, object]:
        return http_json(method, self.url(service, path), body, token=token or self.endpoints["token"])

    def publish(self, folder: Path, subject: str, body: dict) -> str:
        """`fengqiao publish` of `body` on `subject` (validated against its contract); what it printed."""
        path = folder / f"{subject}.json"
        path.write_text(json.dumps(body, ensure_ascii=False))
        done = subprocess.run([*FENGQIAO, "publish", subject, str(path), "--data-dir", str(self.data), "--wait", "1"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def child(self, command_part: str) -> int | None:
        """The pid of up's child whose command line holds `command_part` (e.g. 'nats-server')."""
        found = [p for p in children(self.process.pid) if command_part in command_line(p)]
        return found[0] if found else None

    def all_ready(self) -> bool:
        for name in self.endpoints["services"]:
            try:
                status, _ = http_json("GET", self.url(name, "/readyz"), token=None, timeout=2)
            except OSError:
                return False
            if status != 200:
                return False
        return True

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=90)
        assert self.process.returncode == 0, out
        return out


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    return [int(p) for p, pp in (line.split() for line in out.splitlines()) if int(pp) == pid]


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def until(probe, timeout: float = 45.0):  # tells a failure from a loaded machine; returns as soon as true
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return value
