"""`fengqiao up` notices a child that dies: restarts it, or stops everything when it keeps dying."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.up import FENGQIAO, Up, alive, until, zombie

pytestmark = pytest.mark.e2e


def test_a_killed_nats_server_is_reaped_logged_and_restarted(tmp_path: Path) -> None:
    up = Up(tmp_path / "station")
    try:
        old = up.child("nats-server")
        assert old is not None
        os.kill(old, signal.SIGKILL)
        killed = time.monotonic()

        new = until(lambda: (pid := up.child("nats-server")) and pid != old and pid, timeout=20)
        assert not zombie(old) and not alive(old), "the dead nats-server was not reaped"
        assert f"-p {up.endpoints['nats_url'].rsplit(':', 1)[1]} " in Path(f"/proc/{new}/cmdline").read_bytes() \
            .replace(b"\0", b" ").decode(), "started again on the URL the services were given"
        until(up.all_ready, timeout=30)
        print(f"\nplatform ready again {time.monotonic() - killed:.2f} s after SIGKILL of nats-server")

        alert = {"alert_id": "110-E2E-AFTER-KILL", "received_at": "2026-11-23T08:15:00+08:00", "category": "dispute",
                 "location": {"lon": 118.9651, "lat": 25.2284}, "summary": "重启后的警情"}
        (tmp_path / "alert.json").write_text(json.dumps(alert, ensure_ascii=False))
        published = subprocess.run([*FENGQIAO, "publish", "alerts.received", str(tmp_path / "alert.json"),
                                    "--data-dir", str(up.data), "--wait", "3"], capture_output=True, text=True,
                                   timeout=60)
        assert published.returncode == 0, published.stderr
        assert until(lambda: up.call("GET", "dispatch", "/v1/alerts/110-E2E-AFTER-KILL")[0] == 200)
    finally:
        out = up.stop()
    assert f"nats-server (pid {old}) was killed by SIGKILL; starting it again in 0.5 s" in out
    assert f"nats-server started again (pid {new})" in out


def test_a_child_that_keeps_dying_stops_the_platform_with_the_reason(tmp_path: Path) -> None:
    up = Up(tmp_path / "station")
    port = int(up.endpoints["nats_url"].rsplit(":", 1)[1])
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the TIME_WAIT of its connections
    try:
        old = up.child("nats-server")
        assert old is not None
        os.kill(old, signal.SIGKILL)
        # someone else takes nats-server's port: every start of it fails
        until(lambda: _bound(squatter, port), timeout=5)
        squatter.listen()
        out, _ = up.process.communicate(timeout=90)
    finally:
        squatter.close()
        if up.process.poll() is None:
            up.process.kill()
            up.process.wait()
    assert up.process.returncode == 1, out
    assert "fengqiao up: nats-server" in out and "5 times in 60 s: giving up" in out, out
    assert "address already in use" in out, "the reason from nats-server's own log"
    assert "stopped." in out
    time.sleep(0.5)
    assert [p for p in up.pids if alive(p)] == [], "processes left behind"


def _bound(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True
