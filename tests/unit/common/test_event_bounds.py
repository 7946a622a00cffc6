"""Every bound of an inbound event is in its contract (so in its JSON Schema): a violation is an invalid
payload naming the field, dead-lettered at the first delivery, never a retried dependency failure."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from common.contracts.callbacks import CallbackCompleted
from common.contracts.cases import CaseAccepted
from common.contracts.ratings import RatingReceived, RatingRequested
from common.contracts.registry import json_schema
from common.timefmt import week_bounds

PARTY = {"party_id": "p1", "name": "王某", "phone": "13800138001"}
CASE = {"case_id": "A1", "kind": "criminal", "accepted_at": "2026-11-20T10:00:00+08:00", "officer_id": "P1001",
        "parties": [PARTY]}
COMPLETED = {"callback_id": "cb-1", "case_id": "A1", "party_id": "p1", "at": "2026-11-20T10:00:00+08:00",
             "rule": "unsolved_7d", "channel": "phone", "reached": True, "completed_by": "P1001", "late": False}


def field_of(error: ValidationError) -> str:
    return ".".join(str(p) for p in error.errors()[0]["loc"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"parties": [{**PARTY, "party_id": f"p{i}"} for i in range(51)]}, "parties"),
        ({"parties": []}, "parties"),
        ({"officer_id": "P" * 65}, "officer_id"),
        ({"officer_id": "张 三"}, "officer_id"),
        ({"unit_id": "G 1"}, "unit_id"),
        ({"accepted_at": "1999-12-31T23:59:59+00:00"}, "accepted_at"),
        ({"accepted_at": "2100-01-01T00:00:00+00:00"}, "accepted_at"),  # the end is excluded
        ({"accepted_at": "0001-01-01T00:00:00+00:00"}, "accepted_at"),
        ({"parties": [{**PARTY, "name": "名" * 61}]}, "parties.0.name"),
    ],
)
def test_a_case_event_out_of_bounds_names_the_field(change, field):
    with pytest.raises(ValidationError) as refused:
        CaseAccepted.model_validate(CASE | change)
    assert field_of(refused.value) == field


def test_the_edges_of_the_bounds_are_inside():
    assert CaseAccepted.model_validate(CASE | {"accepted_at": "2000-01-01T00:00:00+00:00"})
    assert CaseAccepted.model_validate(CASE | {"accepted_at": "2099-12-31T23:59:59+00:00"})
    assert CaseAccepted.model_validate(CASE | {"parties": [{**PARTY, "party_id": f"p{i}"} for i in range(50)],
                                               "officer_id": "P" * 64})


@pytest.mark.parametrize("value", ["yes", "true", 1, "1", None])
def test_booleans_are_json_booleans(value):
    with pytest.raises(ValidationError) as refused:
        CallbackCompleted.model_validate(COMPLETED | {"reached": value})
    assert field_of(refused.value) == "reached"


def test_weeks_and_times_of_ratings_are_bounded():
    base = {"rating_id": "rt-1", "channel": "sms", "level": "satisfied", "subject_type": "alert", "subject_id": "A1",
            "at": "2026-11-20T10:00:00+08:00", "week": "2026-W47"}
    assert RatingReceived.model_validate(base)
    with pytest.raises(ValidationError):
        RatingReceived.model_validate(base | {"week": "２０２６-W47"})
    with pytest.raises(ValueError, match="ASCII"):
        week_bounds("２０２６-W49", ZoneInfo("UTC"))
    with pytest.raises(ValidationError):
        RatingRequested.model_validate({"request_id": "r", "subject_type": "alert", "subject_id": "A",
                                        "officer_id": "P1", "phone": "13800138000",
                                        "requested_at": "9999-01-01T00:00:00+00:00"})


def test_the_schemas_state_the_bounds():
    schema = json_schema(CaseAccepted)
    props = schema["properties"]
    assert props["parties"]["maxItems"] == 50 and props["parties"]["minItems"] == 1
    assert props["officer_id"]["maxLength"] == 64 and "pattern" in props["officer_id"]
    assert props["accepted_at"]["formatMinimum"] == "2000-01-01T00:00:00Z"
    assert props["accepted_at"]["formatExclusiveMaximum"] == "2100-01-01T00:00:00Z"
    assert schema["$defs"]["Party"]["properties"]["name"]["maxLength"] == 60
