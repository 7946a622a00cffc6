"""The public contract: schema files in step with the models, and validation that explains itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from common.contracts.alerts import AlertReceived
from common.contracts.registry import CONTRACTS, rendered_schemas
from common.contracts.subjects import STREAMS, stream_for

SCHEMAS = Path(__file__).resolve().parents[3] / "contracts" / "schemas"

SPEC_EXAMPLE = (
    '{"alert_id": "110-20261123-000123", "received_at": "2026-11-23T08:15:00+08:00",'
    ' "category": "dispute", "priority": 2,'
    ' "location": {"lon": 118.9651, "lat": 25.2284, "address": "枫亭镇某村"},'
    ' "caller_phone": "13800138000", "summary": "邻居因烧烤排烟争吵", "source": "110"}'
)


def test_checked_in_schemas_match_the_models() -> None:
    rendered = rendered_schemas()
    on_disk = {p.name for p in SCHEMAS.glob("*.json")}
    assert on_disk == set(rendered), "run `fengqiao schemas` to regenerate contracts/schemas/"
    for name, text in rendered.items():
        assert (SCHEMAS / name).read_text(encoding="utf-8") == text, f"{name} drifted: run `fengqiao schemas`"


def test_the_spec_example_is_valid() -> None:
    event = AlertReceived.model_validate_json(SPEC_EXAMPLE)
    assert event.business_id == "110-20261123-000123"
    assert event.received_at.utcoffset().total_seconds() == 8 * 3600


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"category": "murder"}, "category"),
        ({"priority": 0}, "priority"),
        ({"received_at": "2026-11-23T08:15:00"}, "received_at"),
        ({"location": {"lon": 200, "lat": 25}}, "location.lon"),
        ({"caller_phone": "call me"}, "caller_phone"),
        ({"alert_id": ""}, "alert_id"),
        ({"schema_version": 2}, "schema_version"),
    ],
)
def test_a_bad_field_is_named(patch: dict, field: str) -> None:
    import json

    body = {**json.loads(SPEC_EXAMPLE), **patch}
    with pytest.raises(ValidationError) as info:
        AlertReceived.model_validate(body)
    assert [".".join(map(str, e["loc"])) for e in info.value.errors()] == [field]


def test_optional_fields_a_publisher_adds_are_ignored_and_phones_normalized() -> None:
    import json

    body = {**json.loads(SPEC_EXAMPLE), "caller_phone": "138-0013 8000", "weather": "rain"}
    assert AlertReceived.model_validate(body).caller_phone == "13800138000"


def test_every_contract_subject_has_a_stream() -> None:
    for contract in CONTRACTS:
        if "<" not in contract.subject:
            assert stream_for(contract.subject) in STREAMS
    assert stream_for("deadletter.alerts.received") == "DEADLETTER"


@pytest.mark.parametrize("alert_id", ["110-20261123-000123", "A", "D-110.2:x_y", "9" * 64])
def test_ids_of_the_alphabet_are_accepted(alert_id: str) -> None:
    body = {"alert_id": alert_id, "received_at": "2026-11-23T08:15:00+08:00", "category": "dispute",
            "location": {"lon": 118.96, "lat": 25.23}}
    assert AlertReceived.model_validate(body).alert_id == alert_id


@pytest.mark.parametrize(
    "alert_id", ["a/b/7", "-leading-dash", ".hidden", "x y", "$x", "警情1", "9" * 65, "a?b", "a%2F"]
)
def test_ids_outside_the_alphabet_are_refused_naming_the_field(alert_id: str) -> None:
    body = {"alert_id": alert_id, "received_at": "2026-11-23T08:15:00+08:00", "category": "dispute",
            "location": {"lon": 118.96, "lat": 25.23}}
    with pytest.raises(ValidationError) as refused:
        AlertReceived.model_validate(body)
    assert [e["loc"] for e in refused.value.errors()] == [("alert_id",)]
