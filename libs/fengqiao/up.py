"""`fengqiao up`: the whole platform on one machine, on embedded defaults, stopped cleanly by a signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from common.settings import DEVELOPMENT_TOKEN
from fengqiao.embedded import EmbeddedServer, EmbeddedServerError, free_port, start_nats, start_store
from fengqiao.services import SERVICES, ServiceSpec
from fengqiao.supervise import GaveUp, Supervisor


def _port(preferred: int) -> int:
    import socket

    with socket.socket() as s:
        # as the service's server will: a port left in TIME_WAIT by the last run is free to listen on
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


def http_json(method: str, url: str, body: object | None = None, token: str | None = DEVELOPMENT_TOKEN,
              timeout: float = 10.0) -> tuple[int, object]:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@dataclass
class ServiceProcess:
    spec: ServiceSpec
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fengqiao", "serve", self.spec.name],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited ({self.process.returncode}); see {self.log_path}")
            try:
                status, _ = http_json("GET", f"{self.base_url}/readyz", token=None, timeout=2)
                if status == 200:
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.spec.name} not ready after {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@dataclass
class ServerProcess:
    """An embedded server as a child of `up`: started again on the same port and data folder."""

    name: str
    starter: Callable[[int | None], EmbeddedServer]
    server: EmbeddedServer | None = None

    @property
    def process(self) -> subprocess.Popen | None:
        return self.server.process if self.server is not None else None

    @property
    def log_path(self) -> Path:
        assert self.server is not None
        return self.server.log_path

    def start(self) -> None:
        port = None
        if self.server is not None:
            port = self.server.port  # the services were given this URL
            self.server.kill()  # reaps it and stops its companion (the store's checkpointer)
        self.server = self.starter(port)


class Platform:
    def __init__(self, data_dir: Path, token: str = DEVELOPMENT_TOKEN, sample_grid: bool = True,
                 log=print) -> None:
        self.data_dir = data_dir.resolve()
        self.token = token
        self.sample_grid = sample_grid
        self.log = log
        self._nats = ServerProcess("nats-server", lambda port: start_nats(self.data_dir, port))
        self._store = ServerProcess("nx-27017", lambda port: start_store(self.data_dir, port))
        self.services: dict[str, ServiceProcess] = {}
        self.supervisor: Supervisor | None = None

    @property
    def nats(self) -> EmbeddedServer | None:
        return self._nats.server

    @property
    def store(self) -> EmbeddedServer | None:
        return self._store.server

    def start(self) -> dict:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._nats.start()
            self._store.start()
            for spec in SERVICES.values():
                self.services[spec.name] = self._service(spec)
            for svc in self.services.values():
                svc.start()
            for svc in self.services.values():
                svc.wait_ready()
            if self.sample_grid:
                self._load_sample_grid()
            self.supervisor = Supervisor([self._nats, self._store, *self.services.values()], log=self.log)
            return self._write_endpoints()
        except BaseException:
            self.stop()
            raise

    def _service(self, spec: ServiceSpec) -> ServiceProcess:
        assert self.nats and self.store
        p = spec.env_prefix
        fields = spec.settings_class().model_fields
        env = {
            **os.environ,
            f"{p}NATS_URL": self.nats.url,
            f"{p}HTTP_PORT": str(_port(spec.default_port)),
            f"{p}TOKENS": json.dumps(self._tokens(os.environ.get(f"{p}TOKENS"))),
            f"{p}LOG_JSON": "true",
        }
        if "sms_gateway" in fields:  # no SMS leaves a development machine, unless a gateway was chosen
            env.setdefault(f"{p}SMS_GATEWAY", "embedded")
        if spec.keeps_data:
            env[f"{p}MONGO_URL"] = self.store.url
        for other, svc in self.services.items():  # a service that calls others (the console) is told where they are
            if f"{other}_url" in fields:
                env[f"{p}{other.upper()}_URL"] = svc.base_url
        return ServiceProcess(spec, int(env[f"{p}HTTP_PORT"]), env, self.data_dir / "logs" / f"{spec.name}.log")

    def _tokens(self, given: str | None) -> dict[str, list[str]]:
        """The tokens given in the environment (to try the roles), and the development token as admin."""
        tokens: dict[str, list[str]] = {}
        if given:
            try:
                tokens = {str(k): list(v) for k, v in json.loads(given).items()}
            except (ValueError, AttributeError, TypeError) as exc:
                raise RuntimeError(f"the tokens given are not a JSON object of token -> roles: {exc}") from None
        return {**tokens, self.token: ["admin"]}

    def _load_sample_grid(self) -> None:
        base = self.services["dispatch"].base_url
        status, units = http_json("GET", f"{base}/v1/units", token=self.token)
        if status == 200 and units:
            return  # a kept data folder already has a grid: never overwrite the station's own
        grid = json.loads(resources.files("dispatch").joinpath("sample_grid.geojson").read_text(encoding="utf-8"))
        status, body = http_json("PUT", f"{base}/v1/grid", grid, token=self.token)
        if status != 200:
            raise RuntimeError(f"the sample grid was refused: {status} {body}")

    def _write_endpoints(self) -> dict:
        assert self.nats and self.store
        endpoints = {
            "nats_url": self.nats.url,
            "mongo_url": self.store.url,
            "token": self.token,
            "services": {name: {"base_url": s.base_url, "log": str(s.log_path)} for name, s in self.services.items()},
            **{f"{name}_url": s.base_url for name, s in self.services.items()},
            "data_dir": str(self.data_dir),
            "pid": os.getpid(),
        }
        path = self.data_dir / "endpoints.json"
        path.write_text(json.dumps(endpoints, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return endpoints

    def supervise_once(self) -> None:
        """Reap, log and start again the children that exited; GaveUp when one keeps dying."""
        if self.supervisor is not None:
            self.supervisor.check()

    def stop(self) -> None:
        for svc in self.services.values():
            svc.stop()
        for svc in self.services.values():
            svc.wait_stopped(20)
        for server in (self.store, self.nats):
            if server is not None:
                server.stop()
        (self.data_dir / "endpoints.json").unlink(missing_ok=True)


def run_up(data_dir: Path, sample_grid: bool = True) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    platform = Platform(data_dir, sample_grid=sample_grid, log=lambda line: print(line, flush=True))
    print(f"starting Fengqiao in {platform.data_dir} …", flush=True)
    try:
        endpoints = platform.start()
    except (EmbeddedServerError, RuntimeError) as exc:
        print(f"fengqiao up: could not start: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"NATS      {endpoints['nats_url']}")
    print(f"MongoDB   {endpoints['mongo_url']}")
    for name, svc in endpoints["services"].items():
        if name == "console":
            print(f"{name:<9} {svc['base_url']}   (the station's screens: sign in with the token)")
        else:
            print(f"{name:<9} {svc['base_url']}   (docs: {svc['base_url']}/docs)")
    print(f"token     {endpoints['token']}")
    print(f"endpoints {platform.data_dir / 'endpoints.json'}")
    print("ready. Ctrl-C stops everything.", flush=True)
    failure: GaveUp | None = None
    try:
        while not stop.wait(0.25):
            platform.supervise_once()
    except GaveUp as exc:
        failure = exc
        print(f"fengqiao up: {exc}; stopping everything", file=sys.stderr, flush=True)
    finally:
        print("stopping …", flush=True)
        platform.stop()
        print("stopped.", flush=True)
    return 1 if failure else 0
