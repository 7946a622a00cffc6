"""`fengqiao audit` asks every service for its audit trail and prints one list, newest first."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import uvicorn

from common.audit import AuditRecord, MemoryAuditStore
from common.http import create_app
from common.settings import ServiceSettings

ADMIN = "admin-token-0123456789"


def _record(who: str, minute: int, service: str) -> AuditRecord:
    return AuditRecord(who=who, roles=["officer"], kind="personal_data", method="GET", route="/v1/x/{x_id}",
                       ids=[f"x_id={minute}"], status=200, at=datetime(2026, 12, 1, 8, minute, tzinfo=UTC),
                       address="10.0.0.1", service=service)


def _serve(records: list[AuditRecord]) -> tuple[uvicorn.Server, str]:
    app = create_app("t", ServiceSettings(tokens={ADMIN: ["admin"], "viewer-token-0123456789": ["viewer"]}), {})
    app.state.audit.store = MemoryAuditStore(records)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}"


def _audit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fengqiao", "audit", *args], capture_output=True, text=True,
                          timeout=60)


def test_every_service_s_records_in_one_list_newest_first() -> None:
    dispatch, d_url = _serve([_record("officer-a", 1, "dispatch"), _record("officer-b", 3, "dispatch")])
    notify, n_url = _serve([_record("officer-a", 2, "notify")])
    try:
        done = _audit("--url", f"dispatch={d_url}", "--url", f"notify={n_url}", "--token", ADMIN)
        assert done.returncode == 0, done.stderr
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        assert [(r["service"], r["ids"]) for r in lines] == [
            ("dispatch", ["x_id=3"]), ("notify", ["x_id=2"]), ("dispatch", ["x_id=1"])]
        mine = _audit("--url", f"dispatch={d_url}", "--url", f"notify={n_url}", "--token", ADMIN,
                      "--who", "officer-a", "--from", "2026-12-01T08:02:00Z")
        assert [json.loads(line)["ids"] for line in mine.stdout.splitlines()] == [["x_id=2"]]
        refused = _audit("--url", f"dispatch={d_url}", "--token", "viewer-token-0123456789")
        assert refused.returncode == 1 and refused.stderr.strip() == "dispatch: 403"
    finally:
        dispatch.should_exit = notify.should_exit = True
