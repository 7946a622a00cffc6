"""The alert rules and the dashboard shipped in deploy/: valid, unit-tested, naming only metrics that exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from fengqiao.services import SERVICES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yaml"
DASHBOARD = DEPLOY / "grafana" / "fengqiao.json"
#: what Prometheus itself provides
PROMETHEUS_OWN = {"up", "ALERTS", "vector", "scalar"}
_NAME = re.compile(r"\b(fengqiao_[a-z0-9_]+|up)\b")

promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(promtool is None, reason="promtool is not installed (Debian's prometheus package)")


def exposed_names() -> set[str]:
    """Every sample name the platform's services can expose on /metrics."""
    for spec in SERVICES.values():
        spec.build()  # imports the service's modules, which register their metrics
    names: set[str] = set()
    for family in REGISTRY.collect():
        base = family.name
        names.add(base)
        if family.type == "counter":
            names |= {f"{base}_total", f"{base}_created"}
        elif family.type == "histogram":
            names |= {f"{base}_bucket", f"{base}_sum", f"{base}_count", f"{base}_created"}
    return names


def expressions_of_rules() -> list[str]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def expressions_of_dashboard() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


@needs_promtool
def test_the_rules_are_valid() -> None:
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_the_prometheus_configuration_is_valid_and_loads_the_rules() -> None:
    result = subprocess.run([promtool, "check", "config", str(RULES.parent / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout and f"Checking {RULES}" in result.stdout, result.stdout


@needs_promtool
def test_the_rules_unit_tests_pass() -> None:
    result = subprocess.run(
        [promtool, "test", "rules", "rules_test.yaml"], cwd=RULES.parent, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_has_a_severity_and_a_runbook_in_the_operations_guide() -> None:
    operations = (DEPLOY.parent / "docs" / "operations.md").read_text(encoding="utf-8")
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    for rule in (r for g in groups for r in g["rules"]):
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert f'<a id="{anchor}"></a>' in operations, f"{rule['alert']}: no runbook '{anchor}' in docs/operations.md"


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_metric_named_exists(source: str) -> None:
    expressions = expressions_of_rules() if source == "rules" else expressions_of_dashboard()
    named = {m for e in expressions for m in _NAME.findall(e)} - PROMETHEUS_OWN
    assert named, "no metric named at all"
    missing = named - exposed_names()
    assert not missing, f"{source} name metrics no service exposes: {sorted(missing)}"


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"] and panel["datasource"]["type"] == "prometheus", panel["title"]
