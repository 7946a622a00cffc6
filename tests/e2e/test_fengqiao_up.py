"""`fengqiao up` end to end: the platform comes up, assigns a published alert, and stops leaving nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from common.settings import DEVELOPMENT_TOKEN

pytestmark = pytest.mark.e2e

FENGQIAO = [sys.executable, "-m", "fengqiao"]


def _get(url: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,pgid=,args="], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if str(pid) in line.split()[1:3]]


def test_up_assigns_a_published_alert_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "station"
    up = subprocess.Popen([*FENGQIAO, "up", "--data-dir", str(data)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    try:
        endpoints_file = data / "endpoints.json"
        deadline = time.monotonic() + 90
        while not endpoints_file.exists():
            assert up.poll() is None, up.stdout.read()
            assert time.monotonic() < deadline, "fengqiao up did not get ready"
            time.sleep(0.2)
        endpoints = json.loads(endpoints_file.read_text())
        assert set(endpoints["services"]) == {"dispatch", "mediation", "notify", "rating"}
        for svc in endpoints["services"].values():
            assert _get(f"{svc['base_url']}/readyz")["ready"] is True
        dispatch = endpoints["dispatch_url"]
        units = _get(f"{dispatch}/v1/units")
        assert len(units) >= 4 and all(len(u["officers"]) >= 3 for u in units)
        post = _get(f"{dispatch}/v1/grid")["grid"]["features"][0]["properties"]["post"]

        alert = {"alert_id": "110-E2E-0001", "received_at": "2026-11-23T08:15:00+08:00", "category": "noise",
                 "location": {"lon": post[0], "lat": post[1], "address": "枫亭镇"}, "caller_phone": "13800138000"}
        (tmp_path / "alert.json").write_text(json.dumps(alert, ensure_ascii=False))
        published = subprocess.run([*FENGQIAO, "publish", "alerts.received", str(tmp_path / "alert.json"),
                                    "--data-dir", str(data), "--wait", "2"], capture_output=True, text=True, timeout=60)
        assert published.returncode == 0, published.stderr
        assert '"duplicate": false' in published.stdout
        assert "alerts.assigned" in published.stdout
        placed = _get(f"{dispatch}/v1/alerts/110-E2E-0001")
        assert placed["state"] == "assigned" and placed["reason"] == "zone"
        pids = [up.pid, *_children(up.pid)]
    finally:
        up.send_signal(signal.SIGTERM)
        out, _ = up.communicate(timeout=60)
    assert up.returncode == 0, out
    assert "stopped." in out
    time.sleep(0.5)
    assert [p for p in pids if _alive(p)] == [], "processes left behind"
    assert not (data / "endpoints.json").exists()
