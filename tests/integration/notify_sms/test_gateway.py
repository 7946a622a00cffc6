"""The SMS gateway on real nats-server and nx-27017: sms.send in, the embedded gateway, facts out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from notify.sms import handlers
from notify.sms.domain.rate_limit import day_key
from tests.integration.notify_sms.facts import facts, told
from tests.support import Recorder, eventually, publish

pytestmark = pytest.mark.integration

PHONE = "13800138001"


def command(sms_id: str, phone: str = PHONE, **extra) -> dict:
    return {"sms_id": sms_id, "phone": phone, "text": "您好，枫亭派出所回访：您的案件已受理。回复TD退订",
            "purpose": "survey", "requested_by": "rating", "ref": f"sv-{sms_id}",
            "requested_at": datetime.now(UTC).isoformat(), **extra}


async def in_state(svc, sms_id: str, state: str) -> bool:
    stored = await svc.sms.messages.get(sms_id)
    return stored is not None and stored.aggregate.state == state


async def test_a_send_command_is_sent_delivered_and_told(run_sms, nc):
    recorder = await Recorder().start(nc, "sms.delivery.rating")
    async with run_sms() as svc:
        await publish(nc, "sms.send", command("S-1"), "S-1")
        await eventually(lambda: told(recorder, "S-1") == ["sent", "delivered"])
        delivered = recorder.on("sms.delivery.rating", status="delivered")[0]
        assert (delivered["purpose"], delivered["requested_by"], delivered["ref"]) == ("survey", "rating", "sv-S-1")
        assert list(facts(recorder, "sent")) + list(facts(recorder, "delivered")) == [
            "sms:S-1:sent", "sms:S-1:delivered"]
        outbox = (await svc.http.get("/v1/sms/outbox", params={"phone": PHONE})).json()
        assert [(o["sms_id"], o["text"]) for o in outbox] == [("S-1", command("S-1")["text"])]


async def test_a_republished_command_under_a_new_msg_id_is_one_sms(run_sms, nc):
    async with run_sms() as svc:
        await publish(nc, "sms.send", command("S-1"), "S-1")
        await publish(nc, "sms.send", command("S-1"), "S-1-again")  # past the broker's de-duplication
        await eventually(lambda: in_state(svc, "S-1", "delivered"))
        await asyncio.sleep(0.5)
        assert len((await svc.http.get("/v1/sms/outbox")).json()) == 1


async def test_a_malformed_command_is_dead_lettered_with_the_reason(run_sms, nc):
    recorder = await Recorder().start(nc, "deadletter.>")
    async with run_sms():
        await publish(nc, "sms.send", {"sms_id": "bad id with spaces", "phone": "x", "text": ""}, "bad-1")
        await publish(nc, "sms.send", b"\xff not json", "bad-2")
        await eventually(lambda: len(recorder.on("deadletter.sms.send")) == 2)
        assert all(b["reason"] == "invalid payload" for b in recorder.on("deadletter.sms.send"))


async def test_two_replicas_send_each_message_once_and_keep_the_daily_limit_together(run_sms, nc):
    recorder = await Recorder().start(nc, "sms.delivery.rating")
    async with run_sms() as one, run_sms() as two:
        for n in range(12):
            await publish(nc, "sms.send", command(f"M-{n}", phone=f"139001390{n:02d}"), f"M-{n}")
        for n in range(6):
            await publish(nc, "sms.send", command(f"L-{n}"), f"L-{n}")  # one phone: 3 a day
        # both replicas sweep the same store and both consume: each message is tried by one of them
        await asyncio.gather(_sweep(one), _sweep(two))
        # the refusals over the limit are told in their own time: wait for every fact, not only the receipts
        await eventually(lambda: len(facts(recorder, "delivered")) == 15 and len(facts(recorder, "failed")) >= 3,
                         timeout=20)
        await asyncio.sleep(0.5)
        assert await one.runtime.db["sms_embedded_outbox"].count_documents({}) == 15
        assert len(facts(recorder, "sent")) == 15
        assert {(b["sms_id"][0], b["detail"]) for b in facts(recorder, "failed").values()} == {("L", "rate_limited")}
        assert len(facts(recorder, "failed")) == 3
        info = await nc.jetstream().stream_info("SMS", subjects_filter="sms.delivery.rating")
        assert info.state.subjects == {"sms.delivery.rating": 15 + 15 + 3}
        key = day_key(PHONE, datetime.now(UTC), one.sms.settings.zone)
        counter = await one.runtime.db["sms_daily_counts"].find_one({"_id": key})
        assert counter["count"] == 3 and len(counter["ids"]) == 3


async def _sweep(svc) -> None:
    await handlers.sweep(svc.sms)


async def test_a_reply_is_told_and_an_opt_out_stops_the_next_sms(run_sms, nc):
    recorder = await Recorder().start(nc, "sms.>")
    async with run_sms() as svc:
        reply = await svc.http.get("/v1/sms/inbound", params={"from": f"+86{PHONE}", "to": "10690", "text": "退订",
                                                               "coding": "0", "charset": "UTF-8", "id": "k-1"})
        assert reply.status_code == 202 and reply.json()["opt_out"] is True
        await eventually(lambda: recorder.on("sms.inbound"))
        inbound = recorder.on("sms.inbound")[0]
        assert (inbound["phone"], inbound["text"], inbound["inbound_id"]) == (PHONE, "退订", "in:k-1")
        await publish(nc, "sms.send", command("S-9"), "S-9")
        await eventually(lambda: told(recorder, "S-9") == ["failed"])
        assert recorder.on("sms.delivery.rating", sms_id="S-9")[0]["detail"] == "opted_out"
        stray = await svc.http.get("/v1/sms/dlr", params={"sms_id": "nobody", "status": "1"})
        assert stray.status_code == 202
        assert await svc.runtime.db["sms_strays"].count_documents({"kind": "receipt"}) == 1


async def test_every_fact_leaves_the_outbox(run_sms, nc):
    async with run_sms() as svc:
        await publish(nc, "sms.send", command("S-1"), "S-1")
        await eventually(lambda: in_state(svc, "S-1", "delivered"))
        stored = await svc.sms.messages.get("S-1")
        assert stored is not None and stored.outbox == {}
