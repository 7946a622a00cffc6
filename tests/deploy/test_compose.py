"""deploy/compose.yaml: valid compose, every service twice over R3 streams, and brought up with podman-compose.

The live test runs the compose file itself with podman-compose, with local stand-in images
(no registry is reachable here) and, in place of MongoDB (no installable package here), the
nx-27017 store as `mongo-1` (tests/deploy/compose.standin.yaml).

Prometheus runs from deploy/prometheus/Dockerfile with the shipped rules; only timing is shortened
for the test: a variant of deploy/prometheus/prometheus.yml with 2 s scrape, evaluation and DNS
refresh intervals (same targets, same rules), and dispatch's gauges read every 2 s. The rule the
test fires, FengqiaoAlertsWaiting, has no `for:`; its 60 s threshold is met by an alert received two
minutes before it reaches dispatch (the age counts from receipt), so the test does not wait a minute.
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
from collections import Counter
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from urllib.request import urlopen
from zoneinfo import ZoneInfo

import pytest
import yaml

from fengqiao.embedded import free_port
from fengqiao.services import SERVICES
from tests.deploy import engine
from tests.deploy.support import ALERT, ROOT, TOKEN, nats_server_binary

#: a case the case system accepts; its party's callback SMS goes out through Kannel to the fake phone
CASE = {"case_id": "A2026-0900", "kind": "criminal", "accepted_at": "2026-12-01T10:00:00+08:00",
        "officer_id": "P1001", "unit_id": "G1",
        "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138001"}]}

#: an alert no unit can take (50 km from every post; beyond the 5 km overflow radius), received two minutes
#: before it is published: it waits at the duty desk and its age is already past the page's 60 s
WAITING_FOR_S = 120
WAITING = {**ALERT, "alert_id": "110-DEPLOY-0002", "location": {"lon": 119.30, "lat": 25.60, "address": "辖区外某地"},
           "summary": "辖区外报警"}

COMPOSE = ROOT / "deploy" / "compose.yaml"
PROMETHEUS = ROOT / "deploy" / "prometheus"
#: all the live test changes in deploy/prometheus/prometheus.yml: timing (plus every DNS refresh_interval)
TEST_TIMING = {"scrape_interval": "2s", "scrape_timeout": "2s", "evaluation_interval": "2s"}
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


def test_prometheus_scrapes_every_replica_of_every_service_with_the_rules_on_loopback_only() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["rules.yaml"]
    [job] = config["scrape_configs"]
    assert job["job_name"] == "fengqiao" and job["metrics_path"] == "/metrics"  # the rules' `up{job="fengqiao"}`
    # each service by its compose name, one A record (one target) per replica, on the port it listens on
    found = {(sd["type"], *sd["names"]): sd["port"] for sd in job["dns_sd_configs"]}
    ports = {("A", name): spec.settings_class().model_fields["http_port"].default for name, spec in SERVICES.items()}
    assert found == ports
    assert {"source_labels": ["__meta_dns_name"], "target_label": "service"} in job["relabel_configs"]
    service = _compose()["services"]["prometheus"]
    assert service["ports"] == ["127.0.0.1:${PROMETHEUS_PORT:-9090}:9090"]
    assert service["build"]["context"] == "./prometheus"
    dockerfile = (PROMETHEUS / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY prometheus.yml rules.yaml /etc/prometheus/" in dockerfile and "\nUSER 10003\n" in dockerfile


def prometheus_timing_variant() -> str:
    """deploy/prometheus/prometheus.yml with the test's short intervals: the same targets and rules."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    assert set(config["global"]) == set(TEST_TIMING), "the variant would keep a station's setting unknown here"
    config["global"] = dict(TEST_TIMING)
    for job in config["scrape_configs"]:
        for sd in job["dns_sd_configs"]:
            sd["refresh_interval"] = "2s"
    return yaml.safe_dump(config, sort_keys=False)


def prometheus_api(port: int, path: str) -> dict:
    with urlopen(f"http://127.0.0.1:{port}/api/v1/{path}", timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["status"] == "success", answer
    return answer["data"]


@pytest.mark.parametrize("dockerfile",
                         ["deploy/Dockerfile", "deploy/kannel/Dockerfile", "deploy/prometheus/Dockerfile"])
def test_the_dockerfiles_are_hadolint_clean(dockerfile: str) -> None:
    linted = subprocess.run([str(BIN / "hadolint"), str(ROOT / dockerfile)], capture_output=True, text=True,
                            timeout=120)
    assert linted.returncode == 0, linted.stdout + linted.stderr


# ---------------------------------------------------------------- live, with podman-compose


def _standin_images() -> dict[str, str]:
    """Local images for what compose.yaml pulls from registries; built once, then kept."""
    base = engine.BASE_IMAGE
    images = {"NATS_IMAGE": "localhost/fq-standin-nats:latest", "KANNEL_IMAGE": "localhost/fq-standin-kannel:latest",
              "PROMETHEUS_IMAGE": "localhost/fq-standin-prometheus:latest", "FENGQIAO_IMAGE": engine.IMAGE}
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
    # deploy/kannel/Dockerfile and deploy/prometheus/Dockerfile themselves, on the Debian stand-in (apt reaches
    # the Debian mirror), built every run: their entrypoint, configuration and rules are in the image and a
    # change to them must be what runs (the packages' layers are cached); the image each replaces removed
    for variable, context in (("KANNEL_IMAGE", ROOT / "deploy" / "kannel"), ("PROMETHEUS_IMAGE", PROMETHEUS)):
        before = engine.podman("image", "inspect", "--format", "{{.Id}}", images[variable], check=False)
        engine.podman("build", "--format", "docker", "--network", "host", "--build-arg", f"DEBIAN_IMAGE={base}",
                      "-t", images[variable], str(context), timeout=900)
        after = engine.podman("image", "inspect", "--format", "{{.Id}}", images[variable]).stdout.strip()
        if before.stdout.strip() and before.stdout.strip() != after:
            engine.podman("rmi", before.stdout.strip(), check=False)
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
    prometheus_config = tmp_path / "prometheus.yml"
    prometheus_config.write_text(prometheus_timing_variant(), encoding="utf-8")
    prometheus_config.chmod(0o644)  # read by the image's user, 10003
    prometheus_port = free_port()
    env = {**os.environ, **images, **passwords, "FQ_TOKENS": json.dumps({TOKEN: ["admin"]}),
           "MONGO_URL": "mongodb://mongo-1:27017/?directConnection=true", "FAKE_PHONE_DIR": str(probe_dir),
           "PROMETHEUS_PORT": str(prometheus_port), "PROMETHEUS_TEST_CONFIG": str(prometheus_config)}
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
        received = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(seconds=WAITING_FOR_S)
        waiting = {**WAITING, "received_at": received.isoformat(timespec="seconds")}
        probe_env = [arg for k, v in {**passwords, "TOKEN": TOKEN, "ALERT": json.dumps(ALERT),
                                      "CASE": json.dumps(CASE, ensure_ascii=False),
                                      "WAITING": json.dumps(waiting, ensure_ascii=False)}.items()
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

        # Prometheus (published on loopback) scrapes every replica of every service and has the rules loaded
        prometheus_started = time.monotonic()
        deadline = time.monotonic() + 60
        while True:
            targets = [t for t in prometheus_api(prometheus_port, "targets")["activeTargets"]
                       if t["labels"]["job"] == "fengqiao"]
            health = {(t["labels"]["service"], t["labels"]["instance"]): t["health"] for t in targets}
            if Counter(s for s, _ in health) == Counter({name: 2 for name in SERVICES}) and \
                    set(health.values()) == {"up"}:
                break
            assert time.monotonic() < deadline, [(t["labels"]["service"], t["labels"]["instance"], t["health"],
                                                  t["lastError"]) for t in targets]
            time.sleep(1)
        targets_s = time.monotonic() - prometheus_started
        shipped = yaml.safe_load((PROMETHEUS / "rules.yaml").read_text(encoding="utf-8"))["groups"]
        loaded = prometheus_api(prometheus_port, "rules")["groups"]
        assert [(g["name"], [r["name"] for r in g["rules"]]) for g in loaded] == \
            [(g["name"], [r["alert"] for r in g["rules"]]) for g in shipped]
        rules = {r["name"]: r for g in loaded for r in g["rules"]}
        assert {r["health"] for r in rules.values()} == {"ok"}, rules
        # nothing waits yet: both dispatch replicas (which count the duty desk) say so, and the page is quiet
        query = "query?query=fengqiao_alerts_waiting_oldest_seconds{service='dispatch'}"
        oldest = prometheus_api(prometheus_port, query)["result"]
        assert [s["value"][1] for s in oldest] == ["0", "0"], oldest
        assert rules["FengqiaoAlertsWaiting"]["state"] == "inactive"

        # an alert no unit can take waits at the duty desk: the page fires
        seen, output = probe("wait")
        assert seen and WAITING["alert_id"] in seen["duty_desk"], output[-3000:]
        waiting_started = time.monotonic()
        deadline = time.monotonic() + 60
        while True:
            paged = [a for a in prometheus_api(prometheus_port, "alerts")["alerts"]
                     if a["labels"]["alertname"] == "FengqiaoAlertsWaiting"]
            if paged and paged[0]["state"] == "firing":
                break
            assert time.monotonic() < deadline, paged
            time.sleep(1)
        fire_s = time.monotonic() - waiting_started
        assert paged[0]["labels"] == {"alertname": "FengqiaoAlertsWaiting", "severity": "page"}
        assert float(paged[0]["value"]) >= WAITING_FOR_S  # its age counts from receipt, not from arrival
        assert paged[0]["annotations"]["summary"].startswith("1 alerts wait at the duty desk, the oldest for "), \
            paged[0]
        assert paged[0]["annotations"]["runbook"] == "docs/operations.md#alerts-waiting"
        prometheus_s = time.monotonic() - prometheus_started
        for secret in passwords.values():  # and no secret in any container's log
            for container in [*replicas, f"{project}_kannel-bearerbox_1", f"{project}_kannel-smsbox_1"]:
                logs = engine.podman("logs", container, check=False)
                leaked = [line.replace(secret, "<secret>") for line in (logs.stdout + logs.stderr).splitlines()
                          if secret in line]
                assert not leaked, (container, [k for k, v in passwords.items() if v == secret], leaked[:3])

        stopping = time.monotonic()
        engine.podman("stop", "--time", "30", *replicas, timeout=180)
        stop_s = time.monotonic() - stopping
        codes = {c: engine.podman("inspect", "--format", "{{.State.ExitCode}}", c).stdout.strip() for c in replicas}
        assert set(codes.values()) == {"0"}, codes
        print(f"\n[compose] images ready in {prepared_s:.1f} s; up (3 NATS, stand-in store, Kannel + fake SMSC, "
              f"init, {len(replicas)} service replicas, Prometheus) in {up_s:.1f} s, all ready in {ready_s:.1f} s; "
              f"alert assigned through the cluster; a callback SMS out through Kannel and its reply back in "
              f"{sms_s:.1f} s; "
              f"Prometheus saw the {len(health)} targets up {targets_s:.1f} s after that, a waiting alert fired "
              f"FengqiaoAlertsWaiting in {fire_s:.1f} s (Prometheus' checks {prometheus_s:.1f} s in all); "
              f"{len(replicas)} replicas stopped with exit 0 in {stop_s:.1f} s; "
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
