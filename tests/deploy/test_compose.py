"""deploy/compose.yaml: valid compose, every service twice over R3 streams, and brought up with podman-compose.

The live test runs the compose file itself with podman-compose, with local stand-in images
(no registry is reachable here) and, in place of MongoDB (no installable package here), the
nx-27017 store as `mongo-1` (tests/deploy/compose.standin.yaml).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path

import pytest
import yaml

from fengqiao.services import SERVICES
from tests.deploy import engine
from tests.deploy.support import ALERT, ROOT, TOKEN, nats_server_binary

#: a case the case system accepts; its party's callback SMS goes out through Kannel to the fake phone
CASE = {"case_id": "A2026-0900", "kind": "criminal", "accepted_at": "2026-12-01T10:00:00+08:00",
        "officer_id": "P1001", "unit_id": "G1",
        "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138001"}]}

COMPOSE = ROOT / "deploy" / "compose.yaml"
STANDIN = ROOT / "tests" / "deploy" / "compose.standin.yaml"
BIN = Path(sys.executable).parent


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    checked = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE),
                              str(STANDIN)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_service_runs_twice_with_its_own_nats_user_on_r3_streams() -> None:
    services = _compose()["services"]
    for name, spec in SERVICES.items():
        service = services[name]
        env = service["environment"]
        assert service["command"] == [name] and service["deploy"]["replicas"] == 2
        assert env[f"{spec.env_prefix}STREAM_REPLICAS"] == "3"
        assert env[f"{spec.env_prefix}ENVIRONMENT"] == "production"
        assert all(url.startswith(f"nats://{name}:${{NATS_PASSWORD_{name.upper()}}}@nats-")
                   for url in env[f"{spec.env_prefix}NATS_URL"].split(","))
        assert service["depends_on"] == {"init": {"condition": "service_completed_successfully"}}
    assert services["init"]["entrypoint"] == ["fengqiao", "init", "--replicas", "3"]
    assert {f"nats-{i}" for i in (1, 2, 3)} | {f"mongo-{i}" for i in (1, 2, 3)} <= set(services)
    assert {"kannel-bearerbox", "kannel-smsbox", "fake-smsc", "mongo-init"} <= set(services)


def test_every_fq_variable_in_the_deploy_files_is_a_setting() -> None:
    """A misspelt variable is ignored by the service: the deploy files may name real settings only."""
    known = {f"{s.env_prefix}{f.upper()}" for s in SERVICES.values() for f in s.settings_class().model_fields}
    known.add("FQ_NATS_URL")  # where `fengqiao deadletters` connects (the ops user)
    named: set[str] = set()
    for service in _compose()["services"].values():
        named |= {k for k in (service.get("environment") or {}) if k.startswith("FQ_")}
    for path in (ROOT / "deploy" / "k8s").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc.get("kind") in ("ConfigMap", "Secret"):
                named |= {k for k in {**doc.get("data", {}), **doc.get("stringData", {})} if k.startswith("FQ_")}
    assert named and named - known == set()


def test_every_password_the_compose_file_needs_is_in_the_example_env() -> None:
    example = (ROOT / "deploy" / ".env.example").read_text(encoding="utf-8")
    text = COMPOSE.read_text(encoding="utf-8")
    for user in (*SERVICES, "publisher", "ops"):
        assert f"NATS_PASSWORD_{user.upper()}=" in example and f"NATS_PASSWORD_{user.upper()}" in text
    assert "FQ_TOKENS=" in example


def test_notify_sends_real_sms_through_kannel_and_kannel_authenticates_back() -> None:
    services = _compose()["services"]
    env = services["notify"]["environment"]
    assert env["FQ_NOTIFY_SMS_GATEWAY"] == "kannel"
    assert env["FQ_NOTIFY_SMS_KANNEL_URL"] == "http://kannel-smsbox:13013"
    assert env["FQ_NOTIFY_SMS_KANNEL_PASSWORD"].startswith("${KANNEL_SENDSMS_PASSWORD:?")
    assert env["FQ_NOTIFY_SMS_CALLBACK_TOKEN"].startswith("${KANNEL_NOTIFY_TOKEN:?")
    for box in ("kannel-bearerbox", "kannel-smsbox"):
        assert set(services[box]["environment"]) == {"KANNEL_ADMIN_PASSWORD", "KANNEL_SENDSMS_PASSWORD",
                                                     "KANNEL_NOTIFY_TOKEN"}
    conf = (ROOT / "deploy" / "kannel" / "kannel.conf.in").read_text(encoding="utf-8")
    assert 'get-url = "http://kannel:@KANNEL_NOTIFY_TOKEN@@notify:8103/v1/sms/inbound?' in conf
    assert "password = @KANNEL_SENDSMS_PASSWORD@" in conf and "staging-" not in conf  # no secret in the image
    example = (ROOT / "deploy" / ".env.example").read_text(encoding="utf-8")
    assert all(f"{k}=" in example for k in ("KANNEL_ADMIN_PASSWORD", "KANNEL_SENDSMS_PASSWORD", "KANNEL_NOTIFY_TOKEN"))


def test_kubernetes_wires_kannel_with_notify_s_secrets() -> None:
    from fengqiao.deployfiles import kubernetes_objects

    objects = {(o["kind"], o["metadata"]["name"]): o for o in kubernetes_objects()}
    assert objects[("ConfigMap", "fengqiao")]["data"]["FQ_NOTIFY_SMS_GATEWAY"] == "kannel"
    secret = objects[("Secret", "fengqiao")]["stringData"]
    assert {"FQ_NOTIFY_SMS_KANNEL_PASSWORD", "FQ_NOTIFY_SMS_CALLBACK_TOKEN", "KANNEL_ADMIN_PASSWORD"} <= set(secret)
    boxes = objects[("Deployment", "kannel")]["spec"]["template"]["spec"]["containers"]
    keys = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in boxes[0]["env"]}
    assert keys["KANNEL_NOTIFY_TOKEN"] == "FQ_NOTIFY_SMS_CALLBACK_TOKEN"  # one token, given once
    assert ("Service", "kannel-smsbox") in objects and ("Service", "kannel-bearerbox") in objects


def test_every_service_in_the_image_listens_beyond_its_container() -> None:
    """On loopback (the settings' default) a replica is out of the reach of Prometheus and the reverse proxy."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    for name, spec in SERVICES.items():
        assert f"    {spec.env_prefix}HTTP_HOST=0.0.0.0" in dockerfile, name
        assert str(spec.settings_class().model_fields["http_port"].default) in dockerfile.split("\nEXPOSE ")[1], name


@pytest.mark.parametrize("dockerfile", ["deploy/Dockerfile", "deploy/kannel/Dockerfile"])
def test_the_dockerfiles_are_hadolint_clean(dockerfile: str) -> None:
    linted = subprocess.run([str(BIN / "hadolint"), str(ROOT / dockerfile)], capture_output=True, text=True,
                            timeout=120)
    assert linted.returncode == 0, linted.stdout + linted.stderr


# ---------------------------------------------------------------- live, with podman-compose


def _standin_images() -> dict[str, str]:
    """Local images for what compose.yaml pulls from registries; built once, then kept."""
    base = engine.BASE_IMAGE
    images = {"NATS_IMAGE": "localhost/fq-standin-nats:latest", "KANNEL_IMAGE": "localhost/fq-standin-kannel:latest",
              "FENGQIAO_IMAGE": engine.IMAGE}
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        if engine.podman("image", "exists", images["NATS_IMAGE"], check=False).returncode != 0:
            shutil.copy(nats_server_binary(), ctx / "nats-server")
            (ctx / "Containerfile").write_text(f"FROM {base}\nCOPY nats-server /usr/local/bin/nats-server\n"
                                               'ENTRYPOINT ["nats-server"]\n')
            engine.podman("build", "-t", images["NATS_IMAGE"], str(ctx), timeout=600)
        if engine.podman("image", "exists", "localhost/fq-standin-store:latest", check=False).returncode != 0:
            (ctx / "Containerfile").write_text(f"FROM {base}\nRUN pip install --no-cache-dir 'nx-27017>=0.8.1,<0.9'\n")
            engine.podman("build", "--network", "host", "-v", "/etc/ssl/certs:/etc/ssl/certs:ro",
                          "-t", "localhost/fq-standin-store:latest", str(ctx), timeout=900)
    if engine.podman("image", "exists", images["KANNEL_IMAGE"], check=False).returncode != 0:
        # deploy/kannel/Dockerfile itself, on the Debian stand-in (apt reaches the Debian mirror)
        engine.podman("build", "--format", "docker", "--network", "host", "--build-arg", f"DEBIAN_IMAGE={base}",
                      "-t", images["KANNEL_IMAGE"], str(ROOT / "deploy" / "kannel"), timeout=900)
    return images


@pytest.mark.container
@pytest.mark.timeout(1500)
def test_compose_up_with_podman_compose(tmp_path: Path) -> None:
    reason = engine.unavailable()
    if reason:
        pytest.skip(f"no container engine: {reason}")
    started = time.monotonic()
    engine.ensure_base_image()
    engine.build_image()
    images = _standin_images()
    prepared_s = time.monotonic() - started
    project = f"fqc{uuid.uuid4().hex[:6]}"
    passwords = {f"NATS_PASSWORD_{u.upper()}": f"{u}-{uuid.uuid4().hex[:12]}"
                 for u in (*SERVICES, "publisher", "ops")}
    passwords |= {f"KANNEL_{k}": f"kannel-{uuid.uuid4().hex[:16]}" for k in ("ADMIN_PASSWORD", "SENDSMS_PASSWORD",
                                                                              "NOTIFY_TOKEN")}
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    env = {**os.environ, **images, **passwords, "FQ_TOKENS": json.dumps({TOKEN: ["admin"]}),
           "MONGO_URL": "mongodb://mongo-1:27017/?directConnection=true", "FAKE_PHONE_DIR": str(probe_dir)}
    compose = [str(BIN / "podman-compose"), "-p", project, "-f", str(COMPOSE), "-f", str(STANDIN)]

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*compose, *args], env=env, capture_output=True, text=True, timeout=timeout)

    shutil.copy(ROOT / "tests" / "deploy" / "compose_probe.py", probe_dir / "probe.py")
    shutil.copy(ROOT / "tests" / "deploy" / "fake_phone.py", probe_dir / "fake_phone.py")
    (probe_dir / "sample_grid.geojson").write_text(
        resources.files("dispatch").joinpath("sample_grid.geojson").read_text(encoding="utf-8"), encoding="utf-8")
    try:
        # --no-deps: podman 4.3 cannot start a container whose `--requires` have their own (every service
        # here); the services still start in dependency order and wait for the init job to succeed
        up = run("up", "-d", "--no-build", "--no-deps", timeout=600)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        up_s = time.monotonic() - started - prepared_s
        init = engine.podman("wait", f"{project}_init_1", timeout=300).stdout.strip()  # its exit code
        init_log = engine.podman("logs", f"{project}_init_1")
        assert init == "0", init_log.stdout + init_log.stderr
        declared = [json.loads(line) for line in init_log.stdout.splitlines() if line.startswith("{")]
        assert [(d["service"], d["stream_replicas"]) for d in declared] == [(n, 3) for n in SERVICES]

        replicas = [f"{project}_{name}_{i}" for name in SERVICES for i in (1, 2)]
        deadline = time.monotonic() + 120
        probe_env = [arg for k, v in {**passwords, "TOKEN": TOKEN, "ALERT": json.dumps(ALERT),
                                      "CASE": json.dumps(CASE, ensure_ascii=False)}.items()
                     for arg in ("-e", f"{k}={v}")]

        def probe(*args: str) -> tuple[dict | None, str]:
            result = engine.podman("run", "--rm", "--network", f"{project}_default", "-v", f"{probe_dir}:/probe:ro",
                                   *probe_env, "--entrypoint", "python", images["FENGQIAO_IMAGE"],
                                   "/probe/probe.py", *args, check=False, timeout=120)
            return (json.loads(result.stdout) if result.returncode == 0 else None), result.stdout + result.stderr

        while True:  # until every service answers /readyz through the compose network
            seen, output = probe()
            if seen and all(code == 200 for code in seen["ready"].values()):
                break
            assert time.monotonic() < deadline, output[-3000:]
            time.sleep(2)
        ready_s = time.monotonic() - started - prepared_s
        seen, output = probe("publish")
        assert seen, output[-3000:]
        assert seen["alerts_replicas"] == 3 and seen["alerts_cluster"] == 3
        assert "dispatch-alerts-received" in seen["consumers"] and "mediation-alerts-closed" in seen["consumers"]
        assert seen["kannel_fake_smsc_online"] and seen["grid"] == 200
        assert seen["assigned"] == [[ALERT["alert_id"], "G1", "zone"]]
        for container in replicas:
            state = engine.podman("inspect", "--format", "{{.State.Status}}", container).stdout.strip()
            assert state == "running", container

        # an SMS out and back through Kannel: the callback SMS reaches the phone, its reply completes it
        sms_started = time.monotonic()
        seen, output = probe("callback")
        assert seen, output[-3000:]
        phone_log = engine.podman("logs", f"{project}_fake-smsc_1").stdout
        phone_said = [json.loads(line) for line in phone_log.splitlines() if line.startswith("{")]
        callbacks = seen["callbacks"]
        assert callbacks and [c["state"] for c in callbacks] == ["done"], (callbacks, phone_log[-2000:])
        received = [m for m in phone_said if m.get("to") == CASE["parties"][0]["phone"]]
        text = "".join(m["text"] for m in received)
        assert received and received[0]["from"] == "10690", phone_log[-2000:]
        assert text.startswith("【枫亭派出所】王某") and CASE["case_id"] in text and "回复TD退订" in text, text
        assert {"replied": "1", "from": CASE["parties"][0]["phone"]} in phone_said
        sms_s = time.monotonic() - sms_started
        for secret in passwords.values():  # and no secret in any container's log
            for container in [*replicas, f"{project}_kannel-bearerbox_1", f"{project}_kannel-smsbox_1"]:
                logs = engine.podman("logs", container, check=False)
                assert secret not in logs.stdout + logs.stderr, container

        stopping = time.monotonic()
        engine.podman("stop", "--time", "30", *replicas, timeout=180)
        stop_s = time.monotonic() - stopping
        codes = {c: engine.podman("inspect", "--format", "{{.State.ExitCode}}", c).stdout.strip() for c in replicas}
        assert set(codes.values()) == {"0"}, codes
        print(f"\n[compose] images ready in {prepared_s:.1f} s; up (3 NATS, stand-in store, Kannel + fake SMSC, "
              f"init, 8 service replicas) in {up_s:.1f} s, all ready in {ready_s:.1f} s; alert assigned through "
              f"the cluster; a callback SMS out through Kannel and its reply back in {sms_s:.1f} s; "
              f"8 replicas stopped with exit 0 in {stop_s:.1f} s; "
              f"whole test {time.monotonic() - started:.1f} s")
    finally:
        run("down", "--volumes", "--timeout", "5", timeout=300)
        # a container restarting (restart: unless-stopped) while `down` runs can outlive it
        left = engine.podman("ps", "-aq", "--filter", f"label=io.podman.compose.project={project}", check=False)
        if left.stdout.split():
            engine.podman("rm", "--force", "--time", "0", *left.stdout.split(), check=False)
        engine.podman("network", "rm", "--force", f"{project}_default", check=False)
        for volume in engine.podman("volume", "ls", "-q", "--filter", f"label=io.podman.compose.project={project}",
                                    check=False).stdout.split():
            engine.podman("volume", "rm", "--force", volume, check=False)
