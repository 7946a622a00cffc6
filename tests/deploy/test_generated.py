"""The files generated from the code are in step with it, and say what the code does."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from pydantic import Field

from common.contracts.registry import CONTRACTS, schema_filename
from common.settings import ServiceSettings
from fengqiao import deployfiles
from fengqiao.cli import main
from tests.deploy.support import ROOT

ASYNCAPI_SCHEMA = ROOT / "tests" / "deploy" / "schemas" / "asyncapi-3.0.0.json"


def test_the_generated_files_match_the_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert deployfiles.stale(ROOT) == [], "run `fengqiao deployfiles`"
    assert main(["deployfiles", "--check", "--root", str(ROOT)]) == 0


def test_check_names_a_drifted_file(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    deployfiles.write(tmp_path)
    (tmp_path / "contracts" / "asyncapi.yaml").write_text("asyncapi: 3.0.0\n")
    assert main(["deployfiles", "--check", "--root", str(tmp_path)]) == 1
    assert "contracts/asyncapi.yaml" in capsys.readouterr().err


def test_the_readme_links_the_configuration_table() -> None:
    # tests/unit/common/test_readme.py checks the table names every setting of every service
    assert "[docs/configuration.md](docs/configuration.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_a_setting_without_a_description_fails_the_table() -> None:
    class Undocumented(ServiceSettings):
        quiet: int = Field(default=1)

    with pytest.raises(ValueError, match="Undocumented.quiet has no Field"):
        deployfiles._description(Undocumented, "quiet", Undocumented.model_fields["quiet"])


def test_who_publishes_and_consumes_what_is_read_from_the_services() -> None:
    topo = deployfiles.topology()
    dispatch, mediation = topo["dispatch"], topo["mediation"]
    assert [(c.durable, c.subject, c.stream) for c in dispatch.consumers] == [
        ("dispatch-alerts-received", "alerts.received", "ALERTS"),
        ("dispatch-weekly-satisfaction", "ratings.weekly_satisfaction", "RATINGS")]
    assert {"alerts.assigned", "alerts.closed", "units.status_changed", "grid.replaced",
            "dispatch.internal.unit_load"} <= dispatch.publishes
    assert "alerts.received" not in dispatch.publishes  # its consumer's model is not something it publishes
    assert dispatch.subscribes == {"dispatch.internal.unit_load", "units.status_changed", "grid.replaced"}
    # a threat raises an alert; closed disputes come through a mapping, not a call
    assert {"alerts.received", "disputes.opened", "disputes.closed"} <= mediation.publishes
    assert "alerts.closed" not in mediation.publishes
    assert mediation.deadletters == ["deadletter.alerts.closed", "deadletter.visits.recorded"]


def test_every_consumed_subject_has_a_publisher() -> None:
    """A subject a service consumes that nobody is found to publish means the scan missed a publisher
    (or the permissions would refuse it); contracts not yet published by any code are listed empty."""
    doc = deployfiles.asyncapi_document()
    for channel in doc["channels"].values():
        if channel.get("x-consumers"):
            assert channel["x-publishers"], channel["address"]


def test_the_asyncapi_document_is_valid_asyncapi_3() -> None:
    doc = yaml.safe_load((ROOT / "contracts" / "asyncapi.yaml").read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text(encoding="utf-8")))
    assert [e.message for e in validator.iter_errors(doc)] == []
    broken = {**doc, "operations": {"x": {"action": "publish", "channel": {"$ref": "#/channels/alerts_received"}}}}
    assert list(validator.iter_errors(broken))  # the schema does refuse a 2.x-style operation


def test_the_asyncapi_document_covers_every_contract_with_its_schema_file() -> None:
    doc = yaml.safe_load((ROOT / "contracts" / "asyncapi.yaml").read_text(encoding="utf-8"))
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {c.subject for c in CONTRACTS if "<" not in c.subject} | {"deadletter.{original_subject}"} == addresses
    for contract in CONTRACTS:
        message = doc["components"]["messages"][contract.__name__]
        ref = message["payload"]["schema"]["$ref"]
        assert ref == f"./schemas/{schema_filename(contract)}" and (ROOT / "contracts" / ref).exists()
        assert message["headers"]["required"] == ["Nats-Msg-Id"]
    received = doc["operations"]
    assert received["external_send_alerts_received"]["action"] == "send"
    assert received["dispatch_receive_alerts_received"]["action"] == "receive"
    assert received["mediation_send_alerts_received"]["action"] == "send"
