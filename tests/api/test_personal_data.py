"""Issue 11 §4, per role and route: phones and ID numbers whole only for the roles that act on the case
(duty desk, officer, mediator, admin), masked for every other role and in every list."""

from __future__ import annotations

import httpx
import pytest

from common.clock import FakeClock
from common.contracts.alerts import AlertReceived
from common.fakes import FakePublisher
from common.http import create_app
from dispatch import handlers as dispatch_handlers
from dispatch.bootstrap import wire_in_memory
from dispatch.entrypoints.api import router as dispatch_router
from dispatch.settings import DispatchSettings
from mediation import domain
from mediation import handlers as mediation_handlers
from mediation.bootstrap import wire_in_memory as wire_mediation
from mediation.entrypoints.api import router as mediation_router
from mediation.handlers import Report
from mediation.settings import MediationSettings
from tests.support import alert_body, centre, row_grid

TOKENS = {"t-admin": ["admin"], "t-desk": ["duty_desk"], "t-officer": ["officer"], "t-mediator": ["mediator"],
          "t-leader": ["leadership"], "t-viewer": ["viewer"]}
WHOLE, MASKED = "13800138000", "138****8000"


async def _get(app, path: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        return await http.get(path)


@pytest.fixture
async def dispatch_app():
    d = wire_in_memory(DispatchSettings(environment="test", tokens=TOKENS), FakeClock(), FakePublisher())
    await dispatch_handlers.replace_grid(d, row_grid())
    parties = [{"party_id": "p1", "name": "王某", "phone": "13900139000", "id_number": "350322199001011234"}]
    await dispatch_handlers.receive_alert(d, AlertReceived.model_validate(
        alert_body("110-1", *centre(0), caller_phone=WHOLE, parties=parties)))
    return create_app("dispatch", d.settings, {}, context=d, routers=(dispatch_router,))


@pytest.fixture
async def mediation_app():
    m = wire_mediation(MediationSettings(environment="test", tokens=TOKENS), FakeClock(), FakePublisher())
    parties = (domain.Party("p1", "王某", phone=WHOLE, id_number="350322199001011234"),)
    report = Report(source="desk", reported_by="P1", category="neighbour", summary="吵架", parties=parties)
    dispute, _ = await mediation_handlers.report_dispute(m, report)
    app = create_app("mediation", m.settings, {}, context=m, routers=(mediation_router,))
    app.state.dispute_id = dispute.dispute_id
    return app


@pytest.mark.parametrize(("token", "whole"), [("t-admin", True), ("t-desk", True), ("t-officer", True),
                                              ("t-leader", False), ("t-viewer", False)])
async def test_an_alert_shows_the_phones_whole_only_to_those_who_act_on_it(dispatch_app, token, whole) -> None:
    alert = (await _get(dispatch_app, "/v1/alerts/110-1", token)).json()
    assert alert["caller_phone"] == (WHOLE if whole else MASKED)
    assert alert["parties"][0]["id_number"] == ("350322199001011234" if whole else "3503**********1234")
    [listed] = (await _get(dispatch_app, "/v1/alerts", token)).json()
    assert listed["caller_phone"] == MASKED and listed["parties"][0]["phone"] == "139****9000"


@pytest.mark.parametrize(("token", "whole"), [("t-admin", True), ("t-desk", True), ("t-officer", True),
                                              ("t-mediator", True), ("t-leader", False), ("t-viewer", False)])
async def test_a_dispute_shows_the_phones_whole_only_to_those_who_act_on_it(mediation_app, token, whole) -> None:
    dispute_id = mediation_app.state.dispute_id
    party = (await _get(mediation_app, f"/v1/disputes/{dispute_id}", token)).json()["parties"][0]
    assert (party["phone"], party["id_number"]) == ((WHOLE, "350322199001011234") if whole
                                                     else (MASKED, "3503**********1234"))
    [listed] = (await _get(mediation_app, "/v1/disputes", token)).json()
    assert listed["parties"][0]["phone"] == MASKED
