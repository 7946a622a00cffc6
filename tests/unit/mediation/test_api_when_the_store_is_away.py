"""Issue 15 §2: with the store away a command is a 503 with Retry-After and one log line, never a 500."""

from __future__ import annotations

import httpx
from pymongo.errors import ServerSelectionTimeoutError
from structlog.testing import capture_logs

from common.clock import FakeClock
from common.fakes import FakePublisher
from common.http import create_app
from common.settings import DEVELOPMENT_TOKEN
from mediation import handlers
from mediation.adapters.store import InMemoryDisputes
from mediation.bootstrap import wire_in_memory
from mediation.entrypoints.api import router
from mediation.settings import MediationSettings
from tests.unit.mediation.test_use_cases import report


class AwayDisputes(InMemoryDisputes):
    away = False

    async def get(self, ident):
        if self.away:
            raise ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused")
        return await super().get(ident)


async def test_a_command_while_the_store_is_away_is_503_and_says_it_was_not_done() -> None:
    disputes = AwayDisputes()
    m = wire_in_memory(MediationSettings(environment="test"), FakeClock(), FakePublisher(), disputes=disputes)
    dispute, _ = await handlers.report_dispute(m, report())
    app = create_app("mediation", m.settings, {}, context=m, routers=(router,))
    disputes.away = True
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers={"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"}) as http:
        with capture_logs() as logged:
            answer = await http.post(f"/v1/disputes/{dispute.dispute_id}/actions",
                                     json={"action": "contact", "actor": "P1001"})
        assert [e["event"] for e in logged] == ["http.dependency_down"]  # one line, no traceback
        assert "exc_info" not in logged[0]
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "5"
        assert answer.json() == {"error": "unavailable", "detail": "a dependency (store or broker) is not reachable; "
                                 "the command was not completed: retry later"}
        disputes.away = False
        done = await http.post(f"/v1/disputes/{dispute.dispute_id}/actions",
                               json={"action": "contact", "actor": "P1001"})
        assert done.status_code == 200 and done.json()["state"] == "mediating"
