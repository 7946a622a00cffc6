"""The gateway's use cases on in-memory stores, the fake publisher, the fake clock and the in-memory gateway."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.fakes import FakePublisher
from notify.sms import handlers
from notify.sms.adapters.embedded import EmbeddedGateway, InMemoryRecords
from notify.sms.adapters.port import DeliveryReceipt, OutboundSms, SendResult
from tests.unit.notify_sms.sms_support import PHONE, START, deliveries, question, send_command


async def test_a_send_command_is_sent_and_told_with_what_the_requester_needs(sms, gateway):
    message = await handlers.request_sms(sms, send_command())
    assert message.state == "sent"
    assert gateway.sent == [OutboundSms("S-1", PHONE, send_command().text)]
    [sent] = deliveries(sms)
    assert sent | {"at": None} == {
        "schema_version": 1, "sms_id": "S-1", "phone": PHONE, "status": "sent", "purpose": "callback",
        "requested_by": "notify", "ref": "cb-1", "at": None, "detail": ""}
    assert sms.publisher.msg_ids == ["sms:S-1:sent"]


async def test_one_sms_per_sms_id_also_past_the_brokers_deduplication_window(sms, gateway, clock):
    await handlers.request_sms(sms, send_command())
    clock.advance(hours=3)
    sms.publisher = FakePublisher()  # JetStream no longer remembers the msg id
    await handlers.request_sms(sms, send_command(text="另一条"))
    assert len(gateway.sent) == 1 and gateway.sent[0].text == send_command().text
    assert deliveries(sms) == []


async def test_a_country_prefix_is_one_party_with_the_plain_number(sms, gateway):
    await handlers.request_sms(sms, send_command(phone="+86 138 0013 8001"))
    assert gateway.sent[0].phone == PHONE


async def test_not_sent_before_not_before(sms, gateway, clock):
    morning = START + timedelta(hours=12)
    await handlers.request_sms(sms, send_command(not_before=morning))
    clock.set(morning - timedelta(seconds=1))
    assert await handlers.sweep(sms) == 0 and gateway.sent == []
    clock.set(morning)
    assert await handlers.sweep(sms) == 1
    assert len(gateway.sent) == 1 and deliveries(sms)[0]["status"] == "sent"


async def test_a_gateway_away_is_retried_with_backoff_until_it_is_back(sms, gateway, clock):
    gateway.away = True
    message = await handlers.request_sms(sms, send_command())
    assert (message.state, message.next_try_at) == ("queued", START + timedelta(seconds=30))
    clock.advance(seconds=29)
    assert await handlers.sweep(sms) == 0
    clock.advance(seconds=1)
    await handlers.sweep(sms)  # second try: away again, next in 60 s
    assert (await sms.uow.get("S-1")).next_try_at == clock.now() + timedelta(seconds=60)
    gateway.away = False
    clock.advance(seconds=60)
    await handlers.sweep(sms)
    assert (await sms.uow.get("S-1")).state == "sent" and len(gateway.sent) == 1
    assert [d["status"] for d in deliveries(sms)] == ["sent"]


async def test_a_gateway_away_for_too_long_fails_it_and_says_so(make_sms, gateway, clock):
    sms = make_sms(sms_give_up_after_s=300)
    gateway.away = True
    await handlers.request_sms(sms, send_command())
    for _ in range(10):
        clock.advance(seconds=60)
        await handlers.sweep(sms)
    assert (await sms.uow.get("S-1")).state == "failed"
    [failed] = deliveries(sms)
    assert (failed["status"], failed["detail"], failed["ref"]) == ("failed", "gateway_down_gave_up", "cb-1")


async def test_a_number_refused_for_good_fails_refused(sms, gateway):
    gateway.refuse.add(PHONE)
    await handlers.request_sms(sms, send_command())
    assert [(d["status"], d["detail"]) for d in deliveries(sms)] == [("failed", "refused")]


async def test_an_adapter_that_raises_is_a_retry_not_a_message_stuck_in_flight(make_sms, clock):
    class Broken:
        name = "broken"

        async def send(self, sms: OutboundSms) -> SendResult:
            raise RuntimeError("bug")

    sms = make_sms(gw=Broken())
    message = await handlers.request_sms(sms, send_command())
    assert (message.state, message.next_try_at) == ("queued", START + timedelta(seconds=30))


async def test_an_opted_out_phone_gets_no_sms_and_the_requester_is_told(sms, gateway):
    await handlers.receive_inbound(sms, sender="+8613800138001", to="10690", text="ＴＤ", gateway="kannel")
    await handlers.request_sms(sms, send_command())
    assert gateway.sent == []
    assert [(d["status"], d["detail"], d["purpose"]) for d in deliveries(sms)] == [
        ("failed", "opted_out", "callback")]


async def test_a_reply_that_only_contains_td_does_not_opt_out(sms, gateway):
    await handlers.receive_inbound(sms, sender=PHONE, to=None, text="不满意，退订", gateway="kannel")
    await handlers.request_sms(sms, send_command())
    assert len(gateway.sent) == 1


async def test_an_exempt_purpose_reaches_an_opted_out_phone(make_sms, gateway):
    sms = make_sms(sms_opt_out_exempt=["notice"])
    await handlers.receive_inbound(sms, sender=PHONE, to=None, text="退订", gateway="kannel")
    await handlers.request_sms(sms, send_command("S-1", purpose="notice"))
    await handlers.request_sms(sms, send_command("S-2", purpose="callback"))
    assert [s.sms_id for s in gateway.sent] == ["S-1"]


async def test_no_phone_gets_more_than_the_daily_limit_on_a_local_day(sms, gateway, clock):
    clock.set(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))  # 23:00 in Shanghai
    for n in range(4):
        await handlers.request_sms(sms, send_command(f"S-{n}"))
    await handlers.request_sms(sms, send_command("S-other", phone="13900139000"))
    assert [s.sms_id for s in gateway.sent] == ["S-0", "S-1", "S-2", "S-other"]
    failed = [(d["sms_id"], d["detail"]) for d in deliveries(sms) if d["status"] == "failed"]
    assert failed == [("S-3", "rate_limited")]
    clock.set(datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC))  # 23:59:59 local: the same day
    await handlers.request_sms(sms, send_command("S-4"))
    clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=UTC))  # 00:00 local: a new day, though the same UTC day
    await handlers.request_sms(sms, send_command("S-5"))
    assert [s.sms_id for s in gateway.sent][-2:] == ["S-other", "S-5"]


async def test_a_retried_message_keeps_its_one_place_in_the_day(sms, gateway, clock):
    gateway.away = True
    await handlers.request_sms(sms, send_command("S-0"))
    for _ in range(3):
        clock.advance(minutes=10)
        await handlers.sweep(sms)
    gateway.away = False
    for n in (1, 2):
        await handlers.request_sms(sms, send_command(f"S-{n}"))
    clock.advance(minutes=10)
    await handlers.sweep(sms)
    assert sorted(s.sms_id for s in gateway.sent) == ["S-0", "S-1", "S-2"]


async def test_a_limit_of_zero_sends_nothing(make_sms, gateway):
    sms = make_sms(sms_daily_limit=0)
    await handlers.request_sms(sms, send_command())
    assert gateway.sent == [] and deliveries(sms)[0]["detail"] == "rate_limited"


async def test_receipts_move_it_once_and_a_stray_is_kept_and_counted(sms, clock):
    await handlers.request_sms(sms, send_command())
    receipt = DeliveryReceipt("S-1", "delivered", clock.now())
    assert await handlers.apply_receipt(sms, receipt)
    assert not await handlers.apply_receipt(sms, receipt)
    assert [d["status"] for d in deliveries(sms)] == ["sent", "delivered"]
    assert not await handlers.apply_receipt(sms, DeliveryReceipt("nobody", "delivered", clock.now()))
    assert sms.strays.kept == [("receipt", {"sms_id": "nobody", "status": "delivered"})]
    assert (await sms.uow.get("S-1")).state == "delivered"


async def test_a_failed_receipt_fails_it_undeliverable(sms, clock):
    await handlers.request_sms(sms, send_command())
    await handlers.apply_receipt(sms, DeliveryReceipt("S-1", "failed", clock.now(), "undeliverable"))
    assert [(d["status"], d["detail"]) for d in deliveries(sms)] == [("sent", ""), ("failed", "undeliverable")]


async def test_a_receipt_before_the_senders_save_tells_sent_and_delivered_once(make_sms, clock):
    class Fast:
        """An SMSC that delivers before sendsms has answered."""

        name = "fast"

        async def send(self, sms_out: OutboundSms) -> SendResult:
            await handlers.apply_receipt(sms, DeliveryReceipt(sms_out.sms_id, "delivered", clock.now()))
            return SendResult(True)

    sms = make_sms(gw=Fast())
    message = await handlers.request_sms(sms, send_command())
    assert message.state == "delivered"
    assert [d["status"] for d in deliveries(sms)] == ["sent", "delivered"]


async def test_with_the_broker_away_the_facts_wait_in_the_outbox(sms):
    sms.publisher.away = True
    await handlers.request_sms(sms, send_command())
    assert deliveries(sms) == [] and sms.messages.staged_now("S-1")
    sms.publisher.away = False
    # the relay's grace is wall time (bookkeeping, not a rule)
    assert await sms.uow.relay(now=datetime.now(UTC) + timedelta(minutes=1)) == 1
    assert [d["status"] for d in deliveries(sms)] == ["sent"] and sms.messages.staged_now("S-1") == {}


async def test_a_reply_is_told_as_sms_inbound_and_one_from_an_unknown_phone_is_counted(sms, clock):
    await handlers.request_sms(sms, send_command(question=question()))
    known = await handlers.receive_inbound(sms, sender="+8613800138001", to="10690", text="1", gateway="kannel",
                                           gateway_id="2cfb72c3-d46f-4123-b737-b4ae8a3c4669")
    unknown = await handlers.receive_inbound(sms, sender="13900139000", to="10690", text="满意", gateway="kannel")
    assert (known.matched, unknown.matched) == (True, False)
    told = sms.publisher.on("sms.inbound")
    assert [(t["inbound_id"], t["phone"], t["text"]) for t in told] == [
        ("in:2cfb72c3-d46f-4123-b737-b4ae8a3c4669", PHONE, "1"), (unknown.inbound_id, "13900139000", "满意")]


async def test_a_reply_sent_again_by_the_gateway_is_one_reply(sms):
    for _ in range(2):
        await handlers.receive_inbound(sms, sender=PHONE, to=None, text="TD", gateway="kannel", gateway_id="k-1")
    assert len(sms.publisher.on("sms.inbound")) == 1 and len(sms.inbound.documents) == 1


async def test_a_reply_without_a_phone_is_kept_but_not_told(sms):
    reply = await handlers.receive_inbound(sms, sender="10086-service", to=None, text="TD", gateway="kannel")
    assert reply.phone is None and not reply.opt_out
    assert sms.publisher.on("sms.inbound") == [] and reply.inbound_id in sms.inbound.documents


def test_gateway_ids_become_ids_of_the_one_alphabet():
    assert handlers.inbound_id_for("abc-1") == "in:abc-1"
    long = handlers.inbound_id_for("x" * 100)
    odd = handlers.inbound_id_for("a b/c")
    assert long.startswith("in:") and len(long) <= 64 and odd != "in:a b/c" and odd == handlers.inbound_id_for("a b/c")
    assert handlers.inbound_id_for(None) != handlers.inbound_id_for(None)


async def test_the_embedded_gateway_delivers_after_its_delay_and_fails_the_listed_numbers(make_sms, clock):
    embedded = EmbeddedGateway(InMemoryRecords(), clock, receipt_delay=timedelta(seconds=2),
                               failing_numbers=["+86 139 0013 9000"])
    sms = make_sms(gw=embedded)
    await handlers.request_sms(sms, send_command("S-1"))
    await handlers.request_sms(sms, send_command("S-2", phone="13900139000"))
    clock.advance(seconds=1.9)
    assert await handlers.issue_receipts(sms, embedded) == 0
    clock.advance(seconds=0.1)
    assert await handlers.issue_receipts(sms, embedded) == 2
    assert await handlers.issue_receipts(sms, embedded) == 0  # issued once
    told = {(d["sms_id"], d["status"], d["detail"]) for d in deliveries(sms)}
    assert told == {("S-1", "sent", ""), ("S-1", "delivered", ""), ("S-2", "sent", ""),
                    ("S-2", "failed", "undeliverable")}
    listed = await embedded.records.listing("13900139000", 10)
    assert [(r.sms_id, r.outcome) for r in listed] == [("S-2", "failed")]


async def test_the_save_after_a_send_waits_for_the_store_instead_of_sending_twice(sms, gateway):
    from pymongo.errors import AutoReconnect

    save = sms.messages.save
    failures = iter([True, True])

    async def flaky(stored, events):
        if stored.aggregate.state == "sent" and next(failures, False):
            raise AutoReconnect("the store is away")
        return await save(stored, events)

    sms.messages.save = flaky  # type: ignore[method-assign]
    message = await handlers.request_sms(sms, send_command())
    assert message.state == "sent" and message.attempts == 1 and len(gateway.sent) == 1


def _sends(sms, outcome: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value("fengqiao_sms_sends_total", {"gateway": sms.gateway_name, "outcome": outcome})
    return value or 0.0


class _DiesAfterHandingOver(Exception):
    """The replica stops between the gateway's answer and the save of it (a SIGKILL there)."""


async def _handed_over_then_died(sms, gateway) -> list[str]:
    """A send whose replica dies once the gateway took the SMS: the message stays in flight until its lease ends.
    Every hand-over to the gateway is listed (the in-memory gateway itself keeps one per sms_id)."""
    handed: list[str] = []
    send = gateway.send

    async def counted(sms_out):
        handed.append(sms_out.sms_id)
        return await send(sms_out)

    gateway.send = counted  # type: ignore[method-assign]
    save = sms.messages.save

    async def dies(stored, events):
        if stored.aggregate.state == "sent":
            raise _DiesAfterHandingOver
        return await save(stored, events)

    sms.messages.save = dies  # type: ignore[method-assign]
    with pytest.raises(_DiesAfterHandingOver):
        await handlers.request_sms(sms, send_command())
    sms.messages.save = save  # type: ignore[method-assign]  # the other replica's store
    assert handed == ["S-1"] and (await sms.uow.get("S-1")).in_flight
    return handed


async def test_a_send_whose_replica_died_after_the_hand_over_is_not_sent_twice_when_the_operator_reports(
        sms, gateway, clock):
    handed = await _handed_over_then_died(sms, gateway)
    lost_before = _sends(sms, "lost")
    clock.advance(seconds=sms.settings.sms_send_lease_s)
    assert await handlers.sweep(sms) == 1  # the lease ended: the other replica looks at it ...
    assert handed == ["S-1"]  # ... and waits for the gateway's report instead of sending again
    assert _sends(sms, "lost") == lost_before + 1  # said once (`sms.try_lost`), counted
    assert await handlers.sweep(sms) == 0 and _sends(sms, "lost") == lost_before + 1
    clock.advance(seconds=3)
    assert await handlers.apply_handed_over(sms, "S-1", raw={"sms_id": "S-1", "status": "8"})  # taken by the SMSC
    clock.advance(seconds=sms.settings.sms_lost_try_wait_s)
    assert await handlers.sweep(sms) == 0
    message = await sms.uow.get("S-1")
    assert (message.state, message.attempts, handed) == ("sent", 1, ["S-1"])
    assert [d["status"] for d in deliveries(sms)] == ["sent"]


async def test_a_send_whose_replica_died_is_tried_again_when_nothing_is_heard_of_it(sms, gateway, clock):
    handed = await _handed_over_then_died(sms, gateway)
    clock.advance(seconds=sms.settings.sms_send_lease_s)
    await handlers.sweep(sms)
    clock.advance(seconds=sms.settings.sms_lost_try_wait_s - 1)
    await handlers.sweep(sms)
    assert handed == ["S-1"]
    clock.advance(seconds=1)
    assert await handlers.sweep(sms) == 1  # lease + the wait: the gateway never had it, or never said
    message = await sms.uow.get("S-1")
    assert (message.state, message.attempts, handed) == ("sent", 2, ["S-1", "S-1"])


async def test_a_report_naming_no_message_is_a_stray(sms):
    assert not await handlers.apply_handed_over(sms, "S-404", raw={"sms_id": "S-404", "status": "8"})
    assert sms.strays.kept == [("receipt", {"sms_id": "S-404", "status": "8"})]
