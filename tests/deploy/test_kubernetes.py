"""deploy/k8s/: valid Kubernetes objects, each service probed, bounded and protected from disruption."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fengqiao.deployfiles import EXTERNAL_USER, OPS_USER, password_variable
from fengqiao.services import SERVICES
from tests.deploy.support import ROOT

K8S = ROOT / "deploy" / "k8s"
BIN = Path(sys.executable).parent


def _objects(name: str = "fengqiao.yaml") -> dict[tuple[str, str], dict]:
    docs = yaml.safe_load_all((K8S / name).read_text(encoding="utf-8"))
    return {(d["kind"], d["metadata"]["name"]): d for d in docs if d}


@pytest.mark.parametrize("manifest", ["fengqiao.yaml", "mongodb.yaml"])
def test_the_manifests_are_valid_kubernetes(manifest: str) -> None:
    checked = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "-k", "1.30.0", str(K8S / manifest)],
                             capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "passed" in checked.stdout + checked.stderr


def test_every_service_is_a_probed_bounded_deployment_with_a_disruption_budget() -> None:
    objects = _objects()
    for name, spec in SERVICES.items():
        deployment = objects[("Deployment", name)]["spec"]
        container = deployment["template"]["spec"]["containers"][0]
        assert deployment["replicas"] >= 2 and container["args"] == [name]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["ports"] == [{"name": "http", "containerPort": spec.default_port}]
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and container["resources"]["limits"]
        assert container["securityContext"]["runAsNonRoot"] is True
        assert {"configMapRef": {"name": "fengqiao"}} in container["envFrom"]
        assert {"secretRef": {"name": "fengqiao"}} in container["envFrom"]
        assert deployment["template"]["spec"]["terminationGracePeriodSeconds"] > 10  # SHUTDOWN_GRACE_S default
        budget = objects[("PodDisruptionBudget", name)]["spec"]
        assert budget["minAvailable"] == 1 and budget["selector"] == deployment["selector"]
        assert objects[("Service", name)]["spec"]["ports"][0]["port"] == spec.default_port
        assert objects[("ConfigMap", "fengqiao")]["data"][f"{spec.env_prefix}STREAM_REPLICAS"] == "3"
        nats_url = objects[("Secret", "fengqiao")]["stringData"][f"{spec.env_prefix}NATS_URL"]
        assert nats_url.startswith(f"nats://{name}:")  # its own NATS user
    job = objects[("Job", "fengqiao-init")]["spec"]["template"]["spec"]["containers"][0]
    assert job["command"] == ["fengqiao", "init", "--replicas", "3"]


def test_nats_and_mongodb_come_from_their_official_charts() -> None:
    kinds = {kind for kind, _ in _objects()}
    assert not kinds & {"StatefulSet"}  # not re-invented here
    values = yaml.safe_load((K8S / "helm" / "nats-values.yaml").read_text(encoding="utf-8"))
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3} and values["config"]["jetstream"]["enabled"]
    users = {u["user"]: u for u in values["config"]["merge"]["authorization"]["users"]}
    assert set(users) == {*SERVICES, EXTERNAL_USER, OPS_USER}
    for user in users.values():
        assert user["password"] == f"<< ${password_variable(user['user'])} >>"
        assert password_variable(user["user"]) in values["container"]["env"]
    mongo = _objects("mongodb.yaml")[("MongoDBCommunity", "mongodb")]["spec"]
    assert mongo["members"] == 3 and mongo["type"] == "ReplicaSet"
    roles = {r["db"] for r in mongo["users"][0]["roles"]}
    assert roles == {s.settings_class().model_fields["mongo_db"].default for s in SERVICES.values() if s.keeps_data}
