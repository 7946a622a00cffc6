"""No secret in any output of any service: a token, a NATS password and a MongoDB password are configured;
a 500, a consumer failure, a store outage and a NATS connection failure are provoked; none of the three is
in any log line or HTTP response, and no log line is over the cap.

Each registered service runs as `fengqiao serve` would in a container (a real process, JSON logs):
- with the MongoDB password in its URL (a store that cannot check it: the service waits for the store,
  logging why, while its NATS with a password is there), then
- on a store it reaches, where a bad message fails its consumer, the store is stopped under a request
  (503) and NATS is stopped (reconnecting).
The 500 is provoked in the process (no input of a service gives one): a route failing with the settings
among its local variables, the way the 540 KB line of issue 18 was written.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import structlog
from fastapi import Request

from common.http import create_app
from common.logs import MAX_LINE_BYTES, configure_logging, register_secrets
from fengqiao.deployfiles import offline_parts
from fengqiao.embedded import binary, free_port, start_store, wait_for_port
from fengqiao.services import SERVICES

TOKEN = "tok-4c2f9e7a1b3d5f60"
NATS_PASSWORD = "natspw-8e1d2c3b4a59"
MONGO_PASSWORD = "mongopw-71a2b3c4d5e6"
SECRETS = (TOKEN, NATS_PASSWORD, MONGO_PASSWORD)


def _clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret in {where}"


class Nats:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        (self.folder / "js").mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary("nats-server"), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.folder / "js"),
             "--user", "fq", "--pass", NATS_PASSWORD],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, 10, self.process, "nats-server")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    @property
    def url(self) -> str:
        return f"nats://fq:{NATS_PASSWORD}@127.0.0.1:{self.port}"


def _http(method: str, url: str, body: bytes | None = None, token: str | None = TOKEN) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, str(exc)


def _serve(name: str, nats_url: str, mongo_url: str, log: Path, port: int) -> subprocess.Popen:
    p = SERVICES[name].env_prefix
    env = {**os.environ, f"{p}NATS_URL": nats_url, f"{p}MONGO_URL": mongo_url, f"{p}HTTP_PORT": str(port),
           f"{p}MONGO_DB": f"secrets_{name}", f"{p}TOKENS": json.dumps({TOKEN: ["admin"]}), f"{p}LOG_JSON": "true",
           f"{p}LOG_LEVEL": "DEBUG", f"{p}SHUTDOWN_GRACE_S": "2", f"{p}MAX_DELIVER": "2",
           "FQ_NOTIFY_SMS_GATEWAY": "embedded"}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "fengqiao", "serve", name], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _a_read_route(name: str) -> str:
    schema = offline_parts(name).app.openapi()
    return next(p for p, ops in schema["paths"].items()
                if p.startswith("/v1/") and "{" not in p and "get" in ops and p != "/v1/audit")


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", [n for n in SERVICES if n != "console"])  # the console: no API route to read
def test_no_secret_in_any_log_or_response(name: str, tmp_path: Path) -> None:
    nats = Nats(tmp_path / "nats")
    nats.start()
    store = start_store(tmp_path / "store")
    log = tmp_path / f"{name}.log"
    responses: list[str] = []
    base = None
    try:
        # 1. the MongoDB password in the URL, and a store that cannot check it: waiting, saying why
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with_password = store.url.replace("mongodb://", f"mongodb://fq:{MONGO_PASSWORD}@")
        served = _serve(name, nats.url, with_password, log, port)
        assert _wait(lambda: "mongodb" in log.read_text(encoding="utf-8", errors="replace")
                     if log.exists() else False, 30), "no line about the store"
        for path in ("/readyz", _a_read_route(name)):
            responses.append(_http("GET", base + path)[1])
        _stop(served)

        # 2. a store it reaches: a consumer failure, the store away under a request, NATS away
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        served = _serve(name, nats.url, store.url, log, port)
        assert _wait(lambda: _http("GET", base + "/readyz")[0] == 200, 60), log.read_text()
        subject = offline_parts(name).consumers[0].subject.replace(">", "x").replace("*", "x")
        nats_pub = subprocess.run(
            [sys.executable, "-c", "import asyncio, nats, sys\n"
             "async def main():\n"
             "    nc = await nats.connect(sys.argv[1]); js = nc.jetstream()\n"
             "    await js.publish(sys.argv[2], b'{not json', headers={'Nats-Msg-Id': 'bad-1'})\n"
             "    await nc.close()\n"
             "asyncio.run(main())", nats.url, subject], capture_output=True, text=True, timeout=30)
        assert nats_pub.returncode == 0, nats_pub.stderr
        assert _wait(lambda: "deadletter" in log.read_text(encoding="utf-8", errors="replace"), 30), "no dead letter"
        store.stop()
        status, body = _http("GET", base + _a_read_route(name))
        responses.append(body)
        assert status == 503, (status, body)
        nats.stop()
        time.sleep(3)  # the client reconnecting, the readiness failing
        responses.append(_http("GET", base + "/readyz")[1])
        _stop(served)
    finally:
        nats.stop()
        store.stop()

    text = log.read_text(encoding="utf-8", errors="replace")
    _clean(text, f"{name}'s log")
    for body in responses:
        _clean(body, f"a response of {name}")
    lines = text.splitlines()
    assert lines and all(len(line.encode()) <= MAX_LINE_BYTES for line in lines)
    assert any('"level": "warning"' in line or '"level":"warning"' in line for line in lines)


async def test_a_500_logs_no_local_and_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    """Every service's settings class; one logging set-up (its loggers keep the stream they were made on)."""
    import httpx

    configure_logging("INFO", json=True, service="any")
    try:
        for name in SERVICES:
            settings = SERVICES[name].settings_class()(
                tokens={TOKEN: ["admin"]}, nats_url=f"nats://fq:{NATS_PASSWORD}@127.0.0.1:4222",
                mongo_url=f"mongodb://fq:{MONGO_PASSWORD}@127.0.0.1:27017")
            register_secrets(*settings.secret_values())
            app = create_app(name, settings, {})

            @app.get("/v1/broken")
            async def broken(request: Request) -> None:
                held = request.app.state.settings  # noqa: F841 - a local a traceback with locals would print
                raise RuntimeError(f"bug while talking to {held.nats_url.get_secret_value()}")

            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
                response = await client.get("/v1/broken", headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 500
            _clean(response.text, f"{name}'s 500 response")
            logged = capsys.readouterr().err
            _clean(logged, f"{name}'s 500 log")
            [line] = [json.loads(x) for x in logged.splitlines() if "http.failed" in x]
            assert all("locals" not in frame for frame in line["exception"][0]["frames"])
            assert "***" in line["exception"][0]["exc_value"]
            assert all(len(x.encode()) <= MAX_LINE_BYTES for x in logged.splitlines())
    finally:
        structlog.reset_defaults()
        for handler in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(handler)
