"""Audit trail benchmark: what recording a whole-personal-data read costs on a read route.

    .venv/bin/python bench/audit.py [--requests 100] [--rounds 30]

notify's `GET /v1/callbacks/{id}` (in-memory callbacks, driven over ASGI) in three ways, taking turns:
  masked    a viewer's read: masked, no audit record (the baseline)
  audited   an officer's read: whole, one record noted; the background writer inserts what gathered
            in its 0.25 s window into nx-27017 with one insert_many
  stored    the same, and the writer awaited after each request (the cost had it been on the response path)
Starts its own nx-27017 on a free loopback port. Prints the median time per request of each and the
ratios against the baseline of this run, with the records the audit collection holds at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "libs"), str(ROOT / "services"), str(ROOT)]

import httpx  # noqa: E402

from common import mongo  # noqa: E402
from common.audit import AuditTrail, MongoAuditStore  # noqa: E402
from common.clock import FakeClock  # noqa: E402
from common.contracts.cases import CaseAccepted  # noqa: E402
from common.fakes import FakePublisher  # noqa: E402
from common.http import create_app  # noqa: E402
from fengqiao.embedded import start_store  # noqa: E402
from notify import handlers  # noqa: E402
from notify.adapters.store import InMemoryCallbacks, memory_cases  # noqa: E402
from notify.domain import callback_id_for  # noqa: E402
from notify.entrypoints.api import router  # noqa: E402
from notify.handlers import Notify  # noqa: E402
from notify.settings import NotifySettings  # noqa: E402
from tests.unit.notify.station_time import sh  # noqa: E402

TOKENS = {"officer-token-0001": ["officer"], "viewer-token-0001": ["viewer"]}


async def run(requests: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = start_store(Path(tmp))
        client = mongo.client(store.url)
        try:
            n = Notify(NotifySettings(tokens=TOKENS), FakeClock(sh(2026, 11, 20, 10, 0)), FakePublisher(),
                       InMemoryCallbacks(), memory_cases())
            await handlers.case_accepted(n, CaseAccepted.model_validate({
                "case_id": "A2026-0042", "kind": "criminal", "accepted_at": "2026-11-20T10:00:00+08:00",
                "officer_id": "P1001", "unit_id": "G1",
                "parties": [{"party_id": "p1", "name": "王某", "phone": "13800138001"}]}))
            app = create_app("notify", n.settings, {}, context=n, routers=(router,))
            trail = AuditTrail(MongoAuditStore(mongo.database(client, "bench_audit"), 180), service="notify")
            await trail.store.ensure_indexes()
            app.state.audit = trail
            path = f"/v1/callbacks/{callback_id_for('A2026-0042', 'p1', 'unsolved_7d')}"
            results: dict[str, list[float]] = {"masked": [], "audited": [], "stored": []}
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as http:
                for _ in range(rounds):
                    for way, token in (("masked", "viewer-token-0001"), ("audited", "officer-token-0001"),
                                       ("stored", "officer-token-0001")):
                        headers = {"Authorization": f"Bearer {token}"}
                        started = time.perf_counter()
                        for _ in range(requests):
                            response = await http.get(path, headers=headers)
                            assert response.status_code == 200
                            if way == "stored":
                                await trail.idle()
                        results[way].append((time.perf_counter() - started) / requests)
                        await trail.idle()
            kept = await mongo.database(client, "bench_audit").audit.count_documents({})
        finally:
            client.close()
            store.stop()
    base = statistics.median(results["masked"])
    print(f"requests per round: {requests}, rounds: {rounds}; audit records stored: {kept}")
    for way, times in results.items():
        median = statistics.median(times)
        print(f"{way:<8} {median * 1e6:8.0f} µs/request   {median / base:5.2f}× the masked read")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    # short rounds taking turns: the three ways see the same noise of a shared machine
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.rounds))
