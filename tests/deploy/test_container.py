"""The image, built and run by a real container engine (podman with runc).

The four services run as containers (`--network host`, HTTP on 127.0.0.1 only) against a
nats-server and the nx-27017 store the test starts on the host; an alert published on the
host is assigned; `podman stop` (SIGTERM) lets each one drain and exit 0. Select with
`-m container`. Skipped, with the reason, only where podman cannot run.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator

import pytest

from common import bus
from fengqiao.embedded import free_port
from fengqiao.services import SERVICES
from fengqiao.up import http_json
from tests.deploy import engine
from tests.deploy.support import ALERT, TOKEN, load_sample_grid, service_env, wait_ready
from tests.support import PUBLISH_TIMEOUT_S, Recorder

pytestmark = [pytest.mark.container, pytest.mark.integration, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    reason = engine.unavailable()
    if reason:
        pytest.skip(f"no container engine: {reason}")
    base_s = engine.ensure_base_image()
    build_s = engine.build_image()
    base = f"made in {base_s:.1f} s" if base_s else "cached"
    print(f"\n[container] base image {base}; image built in {build_s:.1f} s, {engine.image_size_mb():.0f} MB")
    yield engine.IMAGE


def test_the_image_carries_no_embedded_server_and_runs_as_non_root(image: str) -> None:
    probe = ("import importlib.util, os, shutil; print(os.getuid(), importlib.util.find_spec('nx_27017') is None, "
             "shutil.which('nats-server') is None, not os.path.exists('/opt/fengqiao/bin/pip'), "
             "shutil.which('gcc') is None)")
    out = engine.podman("run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", probe).stdout
    assert out.split() == ["10001", "True", "True", "True", "True"]
    config = json.loads(engine.podman("image", "inspect", image).stdout)[0]["Config"]
    assert config["Entrypoint"] == ["fengqiao", "serve"] and config["Cmd"] == ["dispatch"]
    assert "FQ_DISPATCH_HTTP_HOST=0.0.0.0" in config["Env"]


def test_the_four_services_as_containers(image: str, nats_server, store_server, db_name: str) -> None:
    started = time.monotonic()
    run_id = uuid.uuid4().hex[:8]
    ports = {name: free_port() for name in SERVICES}
    names = {name: f"fq-smoke-{run_id}-{name}" for name in SERVICES}
    try:
        for name in SERVICES:
            env = service_env(name, nats_server.url, store_server.url, db_name, ports[name])
            env[f"{SERVICES[name].env_prefix}HTTP_HOST"] = "127.0.0.1"  # host network: loopback only
            flags = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
            # --read-only: as Kubernetes runs it (readOnlyRootFilesystem), podman's tmpfs on /tmp
            engine.podman("run", "-d", "--read-only", "--name", names[name], "--network", "host", *flags, image, name)
        bases = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}

        def exited() -> str | None:
            states = {n: engine.podman("inspect", "--format", "{{.State.Status}}", c).stdout.strip()
                      for n, c in names.items()}
            dead = {n: s for n, s in states.items() if s != "running"}
            return f"containers not running: {dead}\n{_logs(names)}" if dead else None

        wait_ready(bases, timeout=90, alive=exited)
        ready_s = time.monotonic() - started
        for container in names.values():  # the image's HEALTHCHECK, run by podman inside the container,
            failed = []                       # healthy unless it fails its three retries in a row
            while len(failed) < 3 and (run := engine.podman("healthcheck", "run", container, check=False)).returncode:
                failed.append(run.stderr)
            assert len(failed) < 3, (container, failed)

        load_sample_grid(bases["dispatch"])
        async def publish_and_see() -> dict:
            nc = await bus.connect(nats_server.url, name="smoke")
            try:
                seen = await Recorder().start(nc, "alerts.assigned")
                await nc.jetstream().publish("alerts.received", json.dumps(ALERT, ensure_ascii=False).encode(),
                                             timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": ALERT["alert_id"]})
                deadline = time.monotonic() + 20
                while not seen.on("alerts.assigned", alert_id=ALERT["alert_id"]):
                    assert time.monotonic() < deadline, "alerts.assigned not seen"
                    await asyncio.sleep(0.05)
                return seen.on("alerts.assigned", alert_id=ALERT["alert_id"])[0]
            finally:
                await nc.close()

        assigned = asyncio.run(publish_and_see())
        assert (assigned["unit_id"], assigned["reason"]) == ("G1", "zone")
        status, stored = http_json("GET", f"{bases['dispatch']}/v1/alerts/{ALERT['alert_id']}",
                                   token=TOKEN)
        assert (status, stored["state"]) == (200, "assigned")

        stopping = time.monotonic()
        engine.podman("stop", "--time", "30", *names.values(), timeout=120)
        stop_s = time.monotonic() - stopping
        codes = {n: engine.podman("inspect", "--format", "{{.State.ExitCode}}", c).stdout.strip()
                 for n, c in names.items()}
        assert codes == {n: "0" for n in names}, _logs(names)
        for name, container in names.items():
            logs = engine.podman("logs", container).stdout + engine.podman("logs", container).stderr
            assert '"service.stopped"' in logs, (name, logs[-2000:])
        assert stop_s < 30, "a container waited for SIGKILL instead of draining"
        print(f"\n[container] four services ready in {ready_s:.1f} s, stopped (SIGTERM, drained, exit 0) in "
              f"{stop_s:.1f} s; whole run {time.monotonic() - started:.1f} s")
    finally:
        engine.podman("rm", "--force", "--time", "5", *names.values(), check=False, timeout=120)


def _logs(names: dict[str, str]) -> str:
    parts = []
    for name, container in names.items():
        result = engine.podman("logs", "--tail", "30", container, check=False)
        parts.append(f"--- {name}\n{result.stdout}{result.stderr}")
    return "\n".join(parts)
