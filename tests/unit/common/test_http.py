"""Readiness answers 503 when a dependency is down; errors are JSON naming the field."""

from __future__ import annotations

import httpx
import pytest
from fastapi import Depends
from pydantic import BaseModel
from pymongo.errors import ServerSelectionTimeoutError

from common.errors import Conflict, Invalid, NotFound, Refused
from common.http import create_app, require
from common.settings import ServiceSettings


class Body(BaseModel):
    unit_id: str


def _app(fail: bool):
    async def ok() -> None:
        return None

    async def down() -> None:
        raise ConnectionError("store unreachable")

    app = create_app("t", ServiceSettings(), {"nats": ok, "mongodb": down if fail else ok})

    @app.post("/v1/things/{thing}", dependencies=[Depends(require("duty_desk"))])
    async def thing(thing: str, body: Body) -> dict:
        if thing == "missing":
            raise NotFound("thing", thing)
        if thing == "closed":
            raise Refused("thing is closed")
        if thing == "busy":
            raise Conflict("thing is being changed by someone else: try again")
        if thing == "far":
            raise Invalid("unit_id", "too far away")
        if thing == "storeless":
            raise ServerSelectionTimeoutError("127.0.0.1:27017: connection refused")
        if thing == "buggy":
            raise KeyError("bug")
        return {"ok": body.unit_id}

    return app


async def _call(app, method: str, path: str, headers: dict | None = None, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        headers = {"Authorization": "Bearer dev-token", **(headers or {})}
        return await http.request(method, path, headers=headers, **kwargs)


async def test_readiness_is_503_naming_what_is_down() -> None:
    response = await _call(_app(fail=True), "GET", "/readyz")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "checks": {"nats": "ok", "mongodb": "failed: ConnectionError"}}
    assert (await _call(_app(fail=False), "GET", "/readyz")).status_code == 200


async def test_errors_are_json_with_the_field() -> None:
    app = _app(fail=False)
    invalid = await _call(app, "POST", "/v1/things/a", json={"unit": "G1"})
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["field"] == "unit_id"
    assert (await _call(app, "POST", "/v1/things/missing", json={"unit_id": "G1"})).status_code == 404
    refused = await _call(app, "POST", "/v1/things/closed", json={"unit_id": "G1"})
    assert refused.status_code == 409 and refused.json() == {"error": "refused", "detail": "thing is closed"}
    busy = await _call(app, "POST", "/v1/things/busy", json={"unit_id": "G1"})
    assert busy.status_code == 409 and busy.json()["error"] == "conflict"
    far = await _call(app, "POST", "/v1/things/far", json={"unit_id": "G1"})
    assert far.status_code == 422
    assert far.json()["detail"] == [{"field": "unit_id", "msg": "too far away", "type": "value_error"}]


async def test_a_dependency_down_is_503_with_retry_after_and_a_bug_is_500_json() -> None:
    app = _app(fail=False)
    down = await _call(app, "POST", "/v1/things/storeless", json={"unit_id": "G1"})
    assert down.status_code == 503
    assert down.headers["Retry-After"] == "5"
    assert down.json()["error"] == "unavailable" and "not completed" in down.json()["detail"]
    bug = await _call(app, "POST", "/v1/things/buggy", json={"unit_id": "G1"})
    assert bug.status_code == 500 and bug.json()["error"] == "internal"
    assert "KeyError" not in bug.text


async def test_a_body_over_the_limit_is_413_whether_declared_or_streamed() -> None:
    from common.http import MAX_BODY_BYTES

    app = _app(fail=False)
    big = b'{"unit_id": "' + b"x" * MAX_BODY_BYTES + b'"}'
    declared = await _call(app, "POST", "/v1/things/a", content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413 and declared.json()["error"] == "too_large"

    async def chunks():
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    streamed = await _call(app, "POST", "/v1/things/a", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["error"] == "too_large"


async def test_every_error_has_one_shape_even_an_unparsable_or_deeply_nested_body() -> None:
    app = _app(fail=False)
    nested = b'{"unit_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    answer = await _call(app, "POST", "/v1/things/a", content=nested, headers={"Content-Type": "application/json"})
    assert answer.status_code in (400, 422) and set(answer.json()) == {"error", "detail"}
    unauthorized = await _call(app, "POST", "/v1/things/a", json={"unit_id": "G1"}, headers={"Authorization": ""})
    assert unauthorized.status_code == 401 and unauthorized.json()["error"] == "unauthorized"


def test_personal_data_is_masked_for_roles_that_do_not_act_and_in_lists() -> None:
    from common.http import Principal, personal

    data = {"caller_phone": "13800138000", "parties": [{"phone": "+8613912345678", "id_number": "350322199001011234",
                                                       "name": "王某"}], "note": "call 13800138000"}
    viewer, desk = Principal("v…", frozenset({"viewer"})), Principal("d…", frozenset({"duty_desk"}))
    assert personal(data, desk) == data
    hidden = personal(data, viewer)
    assert hidden["caller_phone"] == "138****8000"
    assert hidden["parties"][0] == {"phone": "+86139****5678", "id_number": "3503**********1234", "name": "王某"}
    assert hidden["note"] == "call 138****8000"
    assert personal(data, desk, listing=True) == hidden


@pytest.mark.parametrize(("key", "value", "shown"), [
    ("id_number", "123456789", "1234*6789"),  # the shortest kept at both ends: 9 characters
    ("id_number", "12345678", "********"),  # 8 or fewer: nothing of it kept
    ("id_number", "350322199001011234", "3503**********1234"),
    ("phone", "02012345678", "020****5678"),  # not a mobile number: its first 3 and last 4 kept all the same
    ("phone", "13800138000", "138****8000"),
    ("phone", "", ""),  # empty stays empty, not "****"
    ("caller_phone", None, None),
    ("phone", 13800138000, 13800138000),  # not text: left to the schema, never raised on
])
def test_a_personal_field_is_masked_to_its_edges(key: str, value: object, shown: object) -> None:
    from common.personal import masked

    assert masked({key: value, "name": "王某"}) == {key: shown, "name": "王某"}


def test_personal_data_is_found_at_any_depth_and_only_under_its_keys() -> None:
    from common.personal import has_personal_data

    assert has_personal_data({"case": {"caller_phone": "13800138000"}})
    assert has_personal_data({"parties": [{"id_number": "350322199001011234"}]})
    assert has_personal_data([{"phone": "13800138000"}])
    assert not has_personal_data({"phone": "", "name": "王某", "parties": [{"note": "x"}]})
    assert not has_personal_data("call 13800138000")  # free text is masked, not a record shown whole
    assert not has_personal_data([])


def test_a_route_s_own_roles_see_whole_and_a_record_without_ids_is_noted_so() -> None:
    from common.http import Principal, personal

    data = {"caller_phone": "13800138000"}
    leader, viewer = Principal("l…", frozenset({"leader"})), Principal("v…", frozenset({"viewer"}))
    assert personal(data, leader, whole_for=frozenset({"leader"})) == data
    assert leader.shown_whole == ["(no id)"]
    assert personal(data, viewer, whole_for=frozenset({"leader"})) == {"caller_phone": "138****8000"}
    assert viewer.shown_whole == []
    desk = Principal("d…", frozenset({"duty_desk"}))  # a role that acts, but not the route's own
    assert personal(data, desk, whole_for=frozenset({"leader"})) == {"caller_phone": "138****8000"}
