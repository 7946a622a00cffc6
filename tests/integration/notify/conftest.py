"""Helpers of the notify integration tests: what reached JetStream (shared with mediation's), and
standing in for notify's SMS gateway part: read `sms.send`, answer with `sms.delivery`."""

from __future__ import annotations

import pytest

from tests.support import publish


@pytest.fixture
def gateway(nc):
    """Publishes the delivery report the gateway part would, for a `sms.send` the test read."""

    async def report(send: dict, status: str, detail: str = "", at: str = "2026-11-20T10:00:05+08:00") -> None:
        body = {"sms_id": send["sms_id"], "phone": send["phone"], "status": status, "purpose": send["purpose"],
                "requested_by": send["requested_by"], "ref": send["ref"], "at": at, "detail": detail}
        await publish(nc, "sms.delivery.notify", body, f"{send['sms_id']}/{status}")

    return report
