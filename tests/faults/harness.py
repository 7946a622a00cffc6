"""Real processes on 127.0.0.1 to break on purpose: nats-server (one node or a 3-node cluster),
the store, and replicas of the services, each started, SIGKILLed and restarted by name on its
own port and data folder. Every fault is printed with the time it was injected.

    with Harness(tmp_path) as h:
        h.start_nats()                      # or h.start_nats(cluster=3)
        h.start_store()
        h.start_service("dispatch", 2, FQ_DISPATCH_ACK_TIMEOUT_S="5")
        # or several services at once: h.start_services({"rating": (2, {"SEND_FROM": "00:00"}), ...})
        h.kill("dispatch-1"); h.restart("dispatch-1")
        h.kill("nats"); ...; h.restart("nats")
        await h.kill_stream_leader("ALERTS", outage_s=3)   # in a cluster

Beside it, what both fault tests use: a publisher that retries with the same msg id, the officers'
side of `alerts.assigned`, capacity snapshots from dispatch's store, a stream read back whole, and
the work a service's durable consumers still hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError

from common.contracts.subjects import ALERTS_ASSIGNED
from common.settings import DEVELOPMENT_TOKEN
from fengqiao.embedded import EmbeddedServer, binary, free_port, start_store, wait_for_port
from fengqiao.services import SERVICES
from fengqiao.up import ServiceProcess
from tests.support import PUBLISH_TIMEOUT_S

AUTH = {"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"}


class Clock:
    """Seconds since the harness started: what the fault log and the test's prints are stamped with."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.started


@dataclass
class Fault:
    at: float
    what: str


def _popen(cmd: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)


def _sigkill(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(5)


def _sigterm(proc: subprocess.Popen | None, timeout: float = 15.0) -> int | None:
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


@dataclass
class NatsNode:
    """One nats-server with JetStream; in a cluster, with its route port and the others' routes."""

    name: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    cluster_port: int | None = None
    routes: list[str] = field(default_factory=list)
    cluster_name: str = "C1"
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        cmd = [binary("nats-server"), "-n", self.name, "-a", "127.0.0.1", "-p", str(self.port),
               "-m", str(self.monitor_port), "-js", "-sd", str(self.data_dir / "jetstream")]
        if self.cluster_port is not None:
            cmd += ["--cluster", f"nats://127.0.0.1:{self.cluster_port}", "--cluster_name", self.cluster_name,
                    "--routes", ",".join(self.routes)]
        self.proc = _popen(cmd, self.data_dir / "nats-server.log")
        wait_for_port(self.port, timeout, self.proc, f"nats-server {self.name}")
        wait_for_port(self.monitor_port, timeout, self.proc, f"nats-server {self.name} monitor")

    def wait_healthy(self, timeout: float = 20.0) -> None:
        """Until the node says JetStream is ready (in a cluster: it has a meta leader and is current)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.monitor("/healthz").get("status") == "ok":
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"nats-server {self.name} not healthy within {timeout}s; see {self.data_dir}")

    def monitor(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}{path}", timeout=2) as response:
            return json.loads(response.read())

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def nats_nodes(data_dir: Path, size: int) -> list[NatsNode]:
    """One node, or `size` nodes routed to each other (INFRA.md's command line)."""
    if size == 1:
        return [NatsNode("nats", data_dir / "nats")]
    cluster_ports = [free_port() for _ in range(size)]
    nodes = []
    for i in range(size):
        routes = [f"nats://127.0.0.1:{p}" for j, p in enumerate(cluster_ports) if j != i]
        nodes.append(NatsNode(f"nats-{i + 1}", data_dir / f"nats-{i + 1}", cluster_port=cluster_ports[i],
                              routes=routes))
    return nodes


@dataclass
class Store:
    """The MongoDB-wire store, SIGKILLed and restarted on its port with its data kept."""

    data_dir: Path
    server: EmbeddedServer | None = None
    port: int | None = None

    def start(self) -> None:
        self.server = start_store(self.data_dir, port=self.port)
        self.port = self.server.port

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def kill(self) -> None:
        if self.server is not None:
            self.server.kill()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@dataclass
class Replica(ServiceProcess):
    """One process of a service (`python -m fengqiao serve NAME`), as `fengqiao up` runs it, killable."""

    name: str = ""

    def kill(self) -> None:
        _sigkill(self.process)

    def terminate(self) -> int | None:
        return _sigterm(self.process, 20.0)

    def log_lines(self, event: str) -> int:
        """How many log lines of this replica (all its lives) are this event: a JSON line's event name,
        or a plain line (a traceback's header) as it is."""
        if not self.log_path.exists():
            return 0
        needle = f'"event": "{event}"'
        return sum(1 for line in self.log_path.read_text(errors="replace").splitlines()
                   if needle in line or line == event)

    def log_events(self, event: str) -> list[dict]:
        """This replica's JSON log lines (all its lives) of this event."""
        if not self.log_path.exists():
            return []
        needle = f'"event": "{event}"'
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if needle in line:
                with contextlib.suppress(ValueError):
                    found.append(json.loads(line))
        return found

    def failures(self) -> list[str]:
        """What this replica logged as a crash of its process or a request that failed (a 500), one line
        each: the exception and the deepest frame of the project's own code."""
        return [f"{event['event']} {event.get('method', '')} {event.get('path', '')}: {_exception(event)}".replace(
            "  ", " ") for kind in ("process.crashed", "http.failed") for event in self.log_events(kind)]


def _exception(event: dict) -> str:
    chain = event.get("exception")
    if not isinstance(chain, list) or not chain:
        return str(chain or "")[-300:]
    first = chain[0]
    ours = [f for f in first.get("frames", []) if "site-packages" not in f.get("filename", "")
            and "/lib/python3" not in f.get("filename", "") and not f.get("filename", "").startswith("<")]
    where = f" in {_short(ours[-1]['filename'], 3)}:{ours[-1]['lineno']} {ours[-1]['name']}" if ours else ""
    deepest = first.get("frames", [{}])[-1] if first.get("frames") else {}
    return (f"{first.get('exc_type')}: {first.get('exc_value')}{where}"
            f" (raised in {_short(deepest.get('filename', '?'), 2)}:{deepest.get('lineno')})")


def _short(path: str, parts: int) -> str:
    return "/".join(path.split("/")[-parts:])


class Harness:
    """The processes of one fault test; `stop()` (or leaving the `with`) stops every one of them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clock = Clock()
        self.faults: list[Fault] = []
        self.nats: list[NatsNode] = []
        self.store: Store | None = None
        self.replicas: dict[str, Replica] = {}
        #: replicas that exited without being killed or stopped by the harness, with when and how
        self.died: list[str] = []
        self._killed: set[str] = set()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- starting -----------------------------------------------------------------------------

    def start_nats(self, cluster: int = 1) -> None:
        self.nats = nats_nodes(self.root, cluster)
        for node in self.nats:
            node.start()
        for node in self.nats:
            node.wait_healthy()

    @property
    def nats_url(self) -> str:
        return ",".join(node.url for node in self.nats)

    async def client(self, name: str):
        """A NATS connection of the test's own that rides out the outages it injects, quietly."""
        async def quiet(exc: Exception) -> None:
            pass

        return await nats.connect(servers=[node.url for node in self.nats], name=name, max_reconnect_attempts=-1,
                                  reconnect_time_wait=0.3, error_cb=quiet)

    def start_store(self) -> None:
        self.store = Store(self.root / "store")
        self.store.start()

    def start_service(self, service: str, replicas: int, **env: str) -> list[Replica]:
        """Start `replicas` processes of a service on the harness's NATS and store, and wait until ready."""
        return self.start_services({service: (replicas, env)})[service]

    def start_services(self, wanted: dict[str, tuple[int, dict[str, str]]]) -> dict[str, list[Replica]]:
        """Start every service's replicas at once (service -> (replicas, its env)), then wait until all are ready.

        `env` names are the settings without the service's prefix ("SWEEP_INTERVAL_S"), or whole
        variables when they already carry it."""
        assert self.store is not None and self.nats, "start NATS and the store first"
        started: dict[str, list[Replica]] = {}
        for service, (replicas, env) in wanted.items():
            spec = SERVICES[service]
            prefix = spec.env_prefix
            own = {k if k.startswith(prefix) else prefix + k: v for k, v in env.items()}
            shared = {**os.environ, f"{prefix}NATS_URL": self.nats_url, f"{prefix}MONGO_URL": self.store.url,
                      f"{prefix}LOG_JSON": "true", f"{prefix}ENVIRONMENT": "test",
                      "FQ_NOTIFY_SMS_GATEWAY": "embedded", **own}
            for n in range(1, replicas + 1):
                name = f"{service}-{n}"
                port = free_port()
                replica = Replica(spec, port, {**shared, f"{prefix}HTTP_PORT": str(port)},
                                  self.root / "logs" / f"{name}.log", name=name)
                replica.start()
                self.replicas[name] = replica
                started.setdefault(service, []).append(replica)
        for replicas_of_one in started.values():
            for replica in replicas_of_one:
                replica.wait_ready()
        return started

    # --- faults -------------------------------------------------------------------------------

    def note(self, what: str) -> None:
        fault = Fault(self.clock.now(), what)
        self.faults.append(fault)
        print(f"[fault +{fault.at:6.2f}s] {what}", flush=True)

    def kill(self, name: str) -> None:
        """SIGKILL a process by name: a replica ("dispatch-1"), "store", or a NATS node ("nats", "nats-2")."""
        if name == "store":
            assert self.store is not None
            self.store.kill()
        elif name in self.replicas:
            self._killed.add(name)
            self.replicas[name].kill()
        else:
            _sigkill(self._node(name).proc)
        self.note(f"SIGKILL {name}")

    def restart(self, name: str, wait_ready: bool = True) -> None:
        """Start a killed process again on the same port and data folder."""
        if name == "store":
            assert self.store is not None
            self.store.start()
        elif name in self.replicas:
            replica = self.replicas[name]
            replica.start()
            self._killed.discard(name)
            if wait_ready:
                replica.wait_ready()
        else:
            self._node(name).start()
        self.note(f"restarted {name}")

    async def watch_replicas(self, every_s: float = 0.5) -> None:
        """Until cancelled: note every replica that exits by itself (not SIGKILLed by the harness)."""
        told: set[tuple[str, int]] = set()
        while True:
            for name, replica in self.replicas.items():
                process = replica.process
                if name in self._killed or process is None or process.poll() is None:
                    continue
                if (name, process.pid) not in told:
                    told.add((name, process.pid))
                    died = f"{name} exited {process.returncode} by itself at +{self.clock.now():.1f}s"
                    self.died.append(died)
                    print(f"[+{self.clock.now():6.2f}s] {died}", flush=True)
            await asyncio.sleep(every_s)

    def process_problems(self, exit_codes: dict[str, int | None]) -> list[str]:
        """What the replicas did wrong as processes: exits by themselves, a non-zero exit on SIGTERM
        (`stop()`'s codes), crashes and 500s in their logs."""
        problems = list(self.died)
        problems += [f"{name} exited {code} on SIGTERM" for name, code in exit_codes.items()
                     if code != 0 and not any(d.startswith(f"{name} ") for d in self.died)]
        problems += [f"{name}: {failure}" for name, r in self.replicas.items() for failure in r.failures()]
        return problems

    def _node(self, name: str) -> NatsNode:
        for node in self.nats:
            if node.name == name:
                return node
        raise KeyError(f"no process named {name!r}")

    def stream_leader(self, stream: str) -> str | None:
        """The name of the NATS node leading a stream's raft group, as a live node's monitoring tells it."""
        for node in self.nats:
            if not node.alive:
                continue
            try:
                jsz = node.monitor("/jsz?streams=true")
            except OSError:
                continue
            for account in jsz.get("account_details", []):
                for detail in account.get("stream_detail", []):
                    if detail.get("name") == stream:
                        leader = (detail.get("cluster") or {}).get("leader")
                        if leader:
                            return leader
        return None

    async def kill_stream_leader(self, stream: str, outage_s: float) -> str:
        """SIGKILL the node leading a stream, and start it again `outage_s` later; its name."""
        leader = self.stream_leader(stream)
        assert leader is not None, f"no node says who leads the {stream} stream"
        print(f"  {leader} leads the {stream} stream", flush=True)
        self.kill(leader)
        await asyncio.sleep(outage_s)
        await asyncio.to_thread(self.restart, leader)
        return leader

    # --- stopping -----------------------------------------------------------------------------

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every replica (then the store and NATS); returns each replica's exit code."""
        codes = {name: r.terminate() for name, r in self.replicas.items()}
        if self.store is not None:
            self.store.stop()
        for node in self.nats:
            _sigterm(node.proc, 10.0)
        return codes


async def read_stream(nc, stream: str, tries: int = 5) -> list[tuple[int, str, str | None, dict]]:
    """Every message of a stream, oldest first: (stream sequence, subject, Nats-Msg-Id, JSON body).

    Read again from the start when the cluster answers "unavailable" or not at all (a node that just
    came back may still be catching up, and an ephemeral consumer can be refused meanwhile)."""
    for n in range(1, tries + 1):
        try:
            return await _read_stream(nc, stream)
        except (APIError, NatsTimeoutError, TimeoutError):
            if n == tries:
                raise
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable")


async def _read_stream(nc, stream: str) -> list[tuple[int, str, str | None, dict]]:
    js = nc.jetstream()
    info = await js.stream_info(stream)
    last = info.state.last_seq
    config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=60)
    sub = await js.pull_subscribe(info.config.subjects[0], durable=None, stream=stream, config=config)
    found: list[tuple[int, str, str | None, dict]] = []
    try:
        while info.state.messages and (not found or found[-1][0] < last):
            for msg in await sub.fetch(500, timeout=5):
                body = json.loads(msg.data) if msg.data else {}
                found.append((msg.metadata.sequence.stream, msg.subject, (msg.headers or {}).get("Nats-Msg-Id"), body))
    finally:
        await sub.unsubscribe()
    return found


async def publish_retrying(nc, subject: str, body: dict, msg_id: str, within_s: float = 30.0) -> None:
    """A publisher that retries with the same msg id until JetStream acknowledges (the broker may be away)."""
    data = json.dumps(body, ensure_ascii=False).encode()
    deadline = time.monotonic() + within_s
    while True:
        try:
            await nc.jetstream().publish(subject, data, timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": msg_id})
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def unfinished_work(js, streams: list[str], skip: tuple[str, ...] = ()) -> dict[str, int]:
    """Per durable consumer of these streams (but those named in `skip`): messages not yet delivered or
    not yet acknowledged, where there are any."""
    found: dict[str, int] = {}
    for stream in streams:
        for consumer in await js.consumers_info(stream):
            name = consumer.name
            if name in skip or not consumer.config.durable_name:
                continue
            left = (consumer.num_pending or 0) + (consumer.num_ack_pending or 0)
            if left:
                found[name] = left
    return found


async def follow_assignments(nc, durable: str, on_new: Callable[[str, str, int], None]) -> None:
    """The officers' side of `alerts.assigned`, through a durable consumer of our own (it keeps our place
    through broker outages; from the stream's start, so nothing told before it is made is missed):
    `on_new(alert_id, unit_id, attempt)` once per attempt, until cancelled."""
    config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, ack_wait=10)
    sub = await nc.jetstream().pull_subscribe(ALERTS_ASSIGNED, durable=durable, stream="ALERTS", config=config)
    seen: set[tuple[str, int]] = set()
    while True:
        try:
            msgs = await sub.fetch(50, timeout=1)
        except (TimeoutError, NatsTimeoutError):
            continue
        except Exception:  # the broker is away: the durable consumer keeps our place
            await asyncio.sleep(0.3)
            continue
        for msg in msgs:
            body = json.loads(msg.data)
            key = (body["alert_id"], body["attempt"])
            if key not in seen:
                seen.add(key)
                on_new(body["alert_id"], body["unit_id"], body["attempt"])
            with contextlib.suppress(Exception):  # not acked: told again, and `seen` drops it
                await msg.ack()


class CapacityWatch(Protocol):
    snapshots: int
    over_capacity: list[str]


async def capacity_snapshots(db, capacity: dict[str, int], watch: CapacityWatch, every_s: float = 0.5) -> None:
    """Every `every_s`, from dispatch's store: how many alerts each unit holds, against its capacity."""
    while True:
        try:
            held = Counter([d["unit_id"] async for d in db.alerts.find(
                {"state": {"$in": ["assigned", "acknowledged"]}}, {"unit_id": 1})])
            watch.snapshots += 1
            watch.over_capacity += [f"{u} held {n} > {capacity[u]}" for u, n in held.items() if n > capacity[u]]
        except Exception:  # the store is down: no snapshot this time
            pass
        await asyncio.sleep(every_s)
