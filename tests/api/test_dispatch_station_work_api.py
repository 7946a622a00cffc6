"""Orders, assists and the on-scene form over HTTP: who may, the bounds, a 4xx naming the field, and the
caller's phone whole in the answer to those who act on the alert."""

from __future__ import annotations

import httpx
import pytest

from common.clock import FakeClock
from common.contracts.alerts import AlertReceived
from common.fakes import FakePublisher
from common.http import create_app
from dispatch import handlers
from dispatch.bootstrap import wire_in_memory
from dispatch.entrypoints.api import router
from dispatch.settings import DispatchSettings
from tests.api.test_personal_data import TOKENS, WHOLE
from tests.support import alert_body, centre, row_grid

ORDER = {"unit_id": "G2", "reason": "熟悉当事人", "by": "D001"}
ASSIST = {"role": "community_officer", "officer_id": "P9001", "by": "P1001"}


@pytest.fixture
async def app():
    d = wire_in_memory(DispatchSettings(environment="test", tokens=TOKENS), FakeClock(), FakePublisher())
    await handlers.replace_grid(d, row_grid())
    await handlers.receive_alert(d, AlertReceived.model_validate(alert_body("110-1", *centre(0), caller_phone=WHOLE)))
    return create_app("dispatch", d.settings, {}, context=d, routers=(router,))


async def _post(app, path: str, body: dict, token: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        return await http.post(path, json=body)


@pytest.mark.parametrize(("token", "status"), [("t-desk", 200), ("t-admin", 200), ("t-officer", 403),
                                               ("t-leader", 403), ("t-viewer", 403), ("t-mediator", 403)])
async def test_only_the_duty_desk_and_admin_may_order(app, token, status) -> None:
    assert (await _post(app, "/v1/alerts/110-1/assign", ORDER, token)).status_code == status


@pytest.mark.parametrize(("token", "status"), [("t-desk", 200), ("t-officer", 200), ("t-admin", 200),
                                               ("t-leader", 403), ("t-viewer", 403), ("t-mediator", 403)])
async def test_the_desk_and_the_officers_on_the_scene_record_who_joined(app, token, status) -> None:
    answer = await _post(app, "/v1/alerts/110-1/assist", ASSIST, token)
    assert answer.status_code == status
    if status == 200:
        assert answer.json()["caller_phone"] == WHOLE


@pytest.mark.parametrize(("path", "body", "field"), [
    ("assign", {**ORDER, "reason": "x" * 501}, "reason"),
    ("assign", {**ORDER, "reason": "   "}, "reason"),
    ("assign", {**ORDER, "by": ""}, "by"),
    ("assign", {**ORDER, "unit_id": "G 2"}, "unit_id"),
    ("assign", {**ORDER, "unit_id": "G9"}, "unit_id"),  # not in the grid
    ("assign", {**ORDER, "force": "maybe"}, "force"),
    ("assign", {**ORDER, "extra": 1}, "extra"),
    ("assist", {**ASSIST, "role": "volunteer"}, "role"),
    ("assist", {**ASSIST, "officer_id": None}, "officer_id"),
    ("assist", {"role": "village_cadre", "by": "P1001"}, "name"),
    ("assist", {"role": "village_cadre", "name": "林" * 61, "by": "P1001"}, "name"),
    ("close", {"unit_id": "G1", "officer_id": "P1", "disposition": "no_action", "refused_to_sign": ["judge"]},
     "refused_to_sign.0"),
    ("close", {"unit_id": "G1", "officer_id": "P1", "disposition": "settled_somehow"}, "disposition"),
])
async def test_a_bad_request_is_refused_naming_the_field(app, path, body, field) -> None:
    answer = await _post(app, f"/v1/alerts/110-1/{path}", body, "t-desk")
    assert answer.status_code == 422
    assert field in [d["field"] for d in answer.json()["detail"]]


async def test_a_refusal_of_the_rules_is_a_409_with_the_reason_and_the_view_masks_for_the_reader(app) -> None:
    close = {"unit_id": "G1", "officer_id": "P1", "disposition": "help_given_on_scene", "signatures": {"officer": "P1"}}
    answer = await _post(app, "/v1/alerts/110-1/close", close, "t-officer")
    assert answer.status_code == 409 and "witness" in answer.json()["detail"]
    assert (await _post(app, "/v1/alerts/110-1/assign", {**ORDER, "unit_id": "G1"}, "t-desk")).status_code == 409
    assert (await _post(app, "/v1/alerts/nobody/assign", ORDER, "t-desk")).status_code == 404
    ordered = (await _post(app, "/v1/alerts/110-1/assign", ORDER, "t-desk")).json()
    assert ordered["caller_phone"] == WHOLE and ordered["actions"][-1]["actor"] == "D001"
