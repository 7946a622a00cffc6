"""The SMS gateway through a real Kannel (bearerbox + smsbox) and a fake SMSC standing in for the phones.

Skipped only when Kannel is not installed (`.ci/run` installs the Debian package `kannel`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fengqiao.embedded import free_port
from tests.integration.notify_sms.facts import told
from tests.integration.notify_sms.kannel_harness import FakeSmsc, Kannel, kannel_binaries
from tests.support import Recorder, eventually, publish

pytestmark = pytest.mark.integration

PHONE = "13800138001"
STATION = "10690"
TEXT = "您好，枫亭派出所回访：案件A2026-0042已受理，民警P1001，电话0594-7654321。回复1满意 2基本满意 3不满意，TD退订"
KANNEL_TOKEN = "kannel-token-0123456789"
TOKENS = {"dev-token": ["admin"], KANNEL_TOKEN: ["integration"]}


@pytest.fixture
def notify_port() -> int:
    return free_port()


@pytest.fixture
def kannel(tmp_path: Path, notify_port: int) -> Iterator[Kannel]:
    binaries = kannel_binaries()
    if binaries is None:
        pytest.skip("Kannel is not installed (bearerbox/smsbox not found): apt-get install -y kannel, as .ci/run does")
    box = Kannel(tmp_path, inbound_url=f"http://kannel:{KANNEL_TOKEN}@127.0.0.1:{notify_port}/v1/sms/inbound")
    try:
        box.start(binaries)
        yield box
    finally:
        box.stop()


async def test_chinese_out_replies_in_and_receipts_through_kannel(run_sms, nc, kannel, notify_port):
    recorder = await Recorder().start(nc, "sms.>")
    settings = {
        "tokens": TOKENS, "sms_gateway": "kannel", "sms_kannel_url": kannel.sendsms_url,
        "sms_kannel_username": kannel.username, "sms_kannel_password": kannel.password,
        "sms_kannel_from": STATION, "sms_callback_url": f"http://127.0.0.1:{notify_port}",
        "sms_callback_token": KANNEL_TOKEN,
    }
    phones = FakeSmsc(kannel.smsc_port)
    async with run_sms(http_port=notify_port, **settings) as svc:
        try:
            await phones.connect()
            await _serving(svc)
            await publish(nc, "sms.send", {
                "sms_id": "cb-A2026-0042-p1", "phone": PHONE, "text": TEXT, "purpose": "callback",
                "requested_by": "notify", "ref": "cb-1", "requested_at": datetime.now(UTC).isoformat()},
                "cb-A2026-0042-p1")

            # the Chinese callback SMS (71 characters: two parts) reaches the phone intact
            sms = await phones.receive()
            assert (sms.sender, sms.receiver, sms.kind, sms.parts, sms.text) == (STATION, PHONE, "udh", 2, TEXT)

            # Kannel's delivery report moves it to delivered, told on sms.delivery
            await eventually(lambda: told(recorder, "cb-A2026-0042-p1") == ["sent", "delivered"])
            delivered = recorder.on("sms.delivery.notify", status="delivered")[0]
            assert (delivered["sms_id"], delivered["ref"], delivered["purpose"]) == ("cb-A2026-0042-p1", "cb-1",
                                                                                     "callback")
            assert (await svc.sms.messages.get("cb-A2026-0042-p1")).aggregate.state == "delivered"

            # the phone's reply reaches sms.inbound through Kannel's get-url
            await phones.send(PHONE, STATION, "基本满意，谢谢民警")
            await eventually(lambda: recorder.on("sms.inbound"))
            [reply] = recorder.on("sms.inbound")
            assert (reply["phone"], reply["to"], reply["text"], reply["gateway"]) == (
                PHONE, STATION, "基本满意，谢谢民警", "kannel")
            assert reply["inbound_id"].startswith("in:")

            # a short one goes as one UCS-2 SMS
            await publish(nc, "sms.send", {
                "sms_id": "sv-1", "phone": PHONE, "text": "请回复：1满意", "purpose": "survey",
                "requested_by": "rating", "requested_at": datetime.now(UTC).isoformat()}, "sv-1")
            short = await phones.receive()
            assert (short.kind, short.parts, short.text) == ("ucs-2", 1, "请回复：1满意")
        except BaseException:
            print(kannel.logs())
            raise
        finally:
            await phones.close()


async def _serving(svc) -> None:
    """The service's HTTP port answers (Kannel calls it back)."""
    async def ready() -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", svc.runtime.settings.http_port)
        except OSError:
            return False
        writer.close()
        return True

    await eventually(ready)
