"""The operators' small commands: what `fengqiao up` says without the embedded extra, the HEALTHCHECK."""

from __future__ import annotations

import http.server
import importlib.util
import threading
from collections.abc import Iterator

import pytest

from fengqiao import ops
from fengqiao.cli import main


def test_up_without_the_embedded_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nx_27017" else real(name, *a))
    with pytest.raises(SystemExit) as stopped:
        main(["up", "--data-dir", "/nonexistent/never-made"])
    assert "nx-27017" in str(stopped.value) and "pip install -e '.[embedded]'" in str(stopped.value)


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server interface
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def health_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_healthcheck_asks_the_services_own_port(health_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FQ_RATING_HTTP_PORT", str(health_port))
    assert ops.healthcheck("rating", timeout=2) == 0
    monkeypatch.setenv("FQ_RATING_HTTP_PORT", "1")  # nothing listens there
    assert ops.healthcheck("rating", timeout=2) == 1


def test_healthcheck_finds_the_service_from_the_running_command(tmp_path) -> None:
    for pid, argv in {"1": ["/usr/bin/tini", "--", "fengqiao", "serve"], "7": ["python", "-m", "mediation"]}.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "cmdline").write_bytes("\0".join(argv).encode() + b"\0")
    assert ops._running_service(tmp_path) == "mediation"  # pid 1 is an init process here, not the service
    (tmp_path / "1" / "cmdline").write_bytes(b"fengqiao\0serve\0notify\0")
    assert ops._running_service(tmp_path) == "notify"
