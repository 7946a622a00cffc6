"""The use cases of rating on in-memory stores, a fake broker and a fake clock."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from pymongo.errors import AutoReconnect

from common.clock import FakeClock
from common.contracts.alerts import AlertClosed
from common.contracts.callbacks import CallbackCompleted
from common.contracts.objections import ObjectionEscalated
from common.contracts.ratings import RatingRequested
from common.contracts.sms import SmsAnsweredRating, SmsDeliveryRating
from common.errors import Conflict, Invalid, NotFound, Refused
from common.fakes import FakePublisher
from rating import handlers
from rating.adapters.store import ROLLUP, RatingQuery, apply_rollup, mark
from rating.domain import survey_id
from rating.handlers import Evaluation, RatingEntry
from tests.unit.rating.conftest import START, wired

PHONE = "13800138000"
H = timedelta(hours=1)


def closed(alert_id: str = "110-1", phone: str | None = PHONE, at: datetime = START, **changes: Any) -> AlertClosed:
    body = {
        "alert_id": alert_id, "at": at.isoformat(), "received_at": (at - H).isoformat(), "unit_id": "G1",
        "officer_id": "P1001", "officers": ["P1001", "P1002", "P1003"], "disposition": "resolved_on_scene",
        "category": "dispute", "priority": 2, "location": {"lon": 118.9651, "lat": 25.2284},
        "caller_phone": phone,
    }
    return AlertClosed.model_validate(body | changes)


def sms(text: str | bytes, n: int = 1, phone: str = PHONE, at: datetime | None = None, question_id: str = "",
        opt_out: bool = False) -> SmsAnsweredRating:
    """An answer as notify's gateway tells it: matched to a survey (by default the first alert's)."""
    return SmsAnsweredRating.model_construct(
        inbound_id=f"in-{n}", question_id=question_id or SID, kind="survey", subject_id="110-1", phone=phone,
        text=text, received_at=at or START + H, matched_by="latest", opt_out=opt_out,
    )


def sms_out(publisher: FakePublisher) -> list[dict[str, Any]]:
    return publisher.on("sms.send")


async def report(m: Evaluation, scope: str = "officer", week: str = "2026-W48") -> dict[str, Any]:
    rows = await handlers.weekly_report(m, week, scope)
    return {(r.key, r.channel): dataclasses.asdict(r) for r in rows}


async def answered(m: Evaluation, clock: FakeClock, text: str, alert_id: str = "110-1") -> None:
    await handlers.survey_of_alert(m, closed(alert_id))
    clock.advance(H)
    await handlers.answered(m, sms(text, at=clock.now()))


SID = survey_id("alert", "110-1", PHONE)


# --- surveys -------------------------------------------------------------------------------------


async def test_a_closed_alert_sends_the_caller_a_survey_at_once_inside_the_hours(m, publisher) -> None:
    await handlers.survey_of_alert(m, closed())
    survey = await m.survey_uow.get(SID)
    assert (survey.state, survey.sent_at, survey.week) == ("sent", START, "2026-W48")
    [command] = sms_out(publisher)
    assert (command["sms_id"], command["phone"], command["purpose"], command["ref"]) == (
        f"{SID}:survey", PHONE, "survey", SID)
    assert "民警张三" in command["text"] and survey.code in command["text"] and "1满意" in command["text"]
    assert publisher.msg_ids == [f"{SID}/survey_sent/2", f"{SID}:survey"]
    [sent] = publisher.on("ratings.survey_sent")
    assert (sent["survey_id"], sent["week"], sent["subject_id"]) == (SID, "2026-W48", "110-1")
    assert (await report(m))["P1001", "sms"]["surveyed"] == 1


async def test_a_party_reached_by_a_callback_is_surveyed_one_not_reached_or_without_phone_is_not(m, publisher) -> None:
    def completed(callback_id: str, **changes: Any) -> CallbackCompleted:
        body = {"callback_id": callback_id, "case_id": "A2026-0042", "party_id": "p1", "at": START.isoformat(),
                "officer_id": "P1001", "unit_id": "G1", "rule": "solved_3d", "channel": "phone", "reached": True,
                "opinion": "满意", "completed_by": "P1001", "late": False, "phone": PHONE}
        return CallbackCompleted.model_validate(body | changes)

    await handlers.survey_of_callback(m, completed("cb-1"))
    await handlers.survey_of_callback(m, completed("cb-2", reached=False))
    await handlers.survey_of_callback(m, completed("cb-3", phone=None))
    [command] = sms_out(publisher)
    assert command["ref"] == survey_id("callback", "cb-1", PHONE)
    survey = await m.survey_uow.get(command["ref"])
    assert (survey.subject_type, survey.subject_id, survey.officer_id) == ("callback", "cb-1", "P1001")


async def test_a_late_evening_alert_is_surveyed_the_next_morning_by_the_sweep(m, clock, publisher) -> None:
    evening = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 22:30 in the station
    clock.set(evening)
    await handlers.survey_of_alert(m, closed(at=evening))
    assert (await m.survey_uow.get(SID)).state == "scheduled" and sms_out(publisher) == []
    clock.set(datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC))  # 07:59:59
    assert await handlers.sweep_surveys(m) == 0
    clock.set(datetime(2026, 11, 24, 0, 0, tzinfo=UTC))  # 08:00
    assert await handlers.sweep_surveys(m) == 1
    assert [c["not_before"] for c in sms_out(publisher)] == ["2026-11-24T00:00:00Z"]
    assert await handlers.sweep_surveys(m) == 0  # sent: nothing due until it expires


async def test_one_survey_per_subject_and_phone_however_often_or_late_the_event_comes(m, clock, publisher) -> None:
    await handlers.survey_of_alert(m, closed())
    clock.advance(days=2)
    await handlers.survey_of_alert(m, closed())
    await handlers.survey_requested(m, RatingRequested(
        request_id="r-1", subject_type="alert", subject_id="110-1", phone="+86 138-0013-8000", officer_id="P1001",
        requested_at=START))
    assert len(sms_out(publisher)) == 1 and len(m.surveys.documents) == 1


async def test_two_replicas_on_one_store_send_one_survey(m, clock, publisher) -> None:
    other = wired(clock, publisher)
    other.surveys, other.rollups = m.surveys, m.rollups
    other.__post_init__()
    await handlers.survey_of_alert(m, closed())
    await handlers.survey_of_alert(other, closed())
    assert len(sms_out(publisher)) == 1
    assert (await report(m))["P1001", "sms"]["surveyed"] == 1


async def test_an_officer_id_too_long_for_the_events_is_refused_naming_it(m) -> None:
    with pytest.raises(ValidationError) as refused:  # the contract: dead-lettered at the first delivery
        RatingRequested(request_id="r-2", subject_type="service", subject_id="W-1", phone=PHONE, officer_id="P" * 65,
                        requested_at=START)
    assert refused.value.errors()[0]["loc"] == ("officer_id",)
    with pytest.raises(Invalid) as refused_here:  # and the use case, for any other caller
        await handlers.survey_requested(m, RatingRequested.model_construct(
            request_id="r-2", subject_type="service", subject_id="W-1", phone=PHONE, officer_id="P" * 65,
            requested_at=START))
    assert refused_here.value.field == "officer_id" and m.surveys.documents == {}


async def test_a_caller_without_a_phone_is_not_surveyed(m, publisher) -> None:
    await handlers.survey_of_alert(m, closed(phone=None))
    assert m.surveys.documents == {} and publisher.published == []


async def test_a_phone_surveyed_for_another_subject_within_24_hours_is_not_asked_again(m, clock, publisher) -> None:
    await handlers.survey_of_alert(m, closed("110-1"))
    clock.advance(hours=12, minutes=59)  # 20:59
    await handlers.survey_of_alert(m, closed("110-2", at=clock.now()))
    second = await m.survey_uow.get(survey_id("alert", "110-2", PHONE))
    assert (second.state, second.suppressed_reason) == ("suppressed", "cooldown")
    clock.advance(hours=11, minutes=1)  # 08:00 the next morning, 24 h after the first went
    await handlers.survey_of_alert(m, closed("110-3", at=clock.now()))
    assert (await m.survey_uow.get(survey_id("alert", "110-3", PHONE))).state == "sent"
    assert len(sms_out(publisher)) == 2


async def test_an_unanswered_survey_expires_after_72_hours_and_a_later_reply_is_ignored(m, clock) -> None:
    await handlers.survey_of_alert(m, closed())
    clock.advance(hours=72)
    clock.advance(timedelta(milliseconds=-1))
    await handlers.sweep_surveys(m)
    assert (await m.survey_uow.get(SID)).state == "sent"
    clock.advance(timedelta(milliseconds=1))
    await handlers.sweep_surveys(m)
    assert (await m.survey_uow.get(SID)).state == "expired"
    ignored = handlers.IGNORED_REPLIES.labels("closed")._value.get()  # the gateway's question expired too
    await handlers.answered(m, sms("1", at=clock.now()))
    assert handlers.IGNORED_REPLIES.labels("closed")._value.get() == ignored + 1
    assert m.ratings.documents == {}


# --- replies -------------------------------------------------------------------------------------


async def test_a_reply_is_a_rating_counted_in_the_weekly_report(m, clock, publisher) -> None:
    await answered(m, clock, "满意，谢谢民警")
    [received] = publisher.on("ratings.received")
    assert (received["level"], received["channel"], received["comment"]) == ("satisfied", "sms", "满意,谢谢民警")
    rows = await report(m)
    assert (rows["P1001", "all"]["satisfied"], rows["P1001", "all"]["answered"], rows["P1001", "all"]["rated"]) == (
        1, 1, 1)
    assert rows["P1001", "all"]["response_rate"] == 1.0 and rows["P1001", "all"]["satisfaction_rate"] == 1.0
    assert set(await report(m, "unit")) == {("G1", "all"), ("G1", "sms")}
    assert (await report(m, "station"))["FT", "all"]["satisfied"] == 1
    assert publisher.on("ratings.dissatisfied") == [] and m.followups.documents == {}


async def test_a_dissatisfied_reply_opens_a_followup_which_is_flagged_once_when_overdue(m, clock, publisher) -> None:
    await answered(m, clock, "3 态度差")
    [unhappy] = publisher.on("ratings.dissatisfied")
    followup_id = unhappy["followup_id"]
    assert unhappy["comment"] == "态度差" and unhappy["followup_due_at"] == "2026-11-26T01:00:00Z"
    assert [f.followup_id for f in await handlers.followups(m, state="open", limit=10, offset=0)] == [followup_id]
    clock.set(datetime(2026, 11, 26, 1, 0, tzinfo=UTC))
    assert await handlers.sweep_followups(m) == 0  # at the deadline it is still in time
    clock.advance(seconds=1)
    assert await handlers.sweep_followups(m) == 1
    assert await handlers.sweep_followups(m) == 0
    assert [e["followup_id"] for e in publisher.on("ratings.followup_overdue")] == [followup_id]
    done = await handlers.complete_followup(m, followup_id, actor="所长", findings="民警语气生硬", actions="已批评教育")
    assert (done.state, done.outcome) == ("done", "overdue")
    rows = await report(m)
    assert (rows["P1001", "all"]["dissatisfied"], rows["P1001", "all"]["followups_overdue"],
            rows["P1001", "all"]["followups_in_time"]) == (1, 1, 0)


async def test_an_unreadable_reply_gets_one_reprompt_and_a_later_valid_one_counts(m, clock, publisher) -> None:
    await answered(m, clock, "ok")
    await handlers.answered(m, sms("?", n=2, at=clock.now()))
    assert [c["purpose"] for c in sms_out(publisher)] == ["survey", "reprompt"]
    await handlers.answered(m, sms("２ 还行", n=3, at=clock.now()))
    await handlers.answered(m, sms("1", n=4, at=clock.now()))  # the first valid reply counts
    survey = await m.survey_uow.get(SID)
    assert (survey.state, survey.level) == ("answered", "basically")
    assert [r.outcome for r in survey.replies] == ["reprompt", "kept", "rated", "kept"]
    assert [r["level"] for r in publisher.on("ratings.received")] == ["basically"]


async def test_a_redelivered_reply_is_taken_once(m, clock, publisher) -> None:
    await answered(m, clock, "1")
    await handlers.answered(m, sms("1", at=clock.now()))
    survey = await m.survey_uow.get(SID)
    assert len(survey.replies) == 1 and len(m.ratings.documents) == 1
    assert (await report(m))["P1001", "all"]["satisfied"] == 1


async def test_td_stops_every_survey_to_the_phone_for_good(m, clock, publisher) -> None:
    await handlers.survey_of_alert(m, closed())
    await handlers.answered(m, sms("TD", at=clock.now(), opt_out=True))
    assert (await m.survey_uow.get(SID)).state == "opted_out"
    assert await m.optouts.has(PHONE)
    clock.advance(days=3)
    await handlers.survey_of_alert(m, closed("110-9", at=clock.now()))
    later = await m.survey_uow.get(survey_id("alert", "110-9", PHONE))
    assert (later.state, later.suppressed_reason) == ("suppressed", "opted_out")
    assert len(sms_out(publisher)) == 1


@pytest.mark.parametrize("text", ["", "\ud800" * 3, b"\xff\xfe\x00garbage", "滿意" * 1000, "👍🏽" * 500, "\x00\x1b[2J"])
async def test_no_reply_text_crashes_anything(m, clock, text) -> None:
    await handlers.survey_of_alert(m, closed())
    await handlers.answered(m, sms(text, at=clock.now()))
    survey = await m.survey_uow.get(SID)
    assert survey.state in ("reprompted", "answered") and len(survey.replies[0].text) <= 500


async def test_an_answer_to_no_survey_of_ours_is_not_found(m) -> None:
    with pytest.raises(NotFound):  # the gateway matched it to a question rating never asked: dead-lettered
        await handlers.answered(m, sms("1", question_id="sv-unknown"))
    assert m.ratings.documents == {}


async def test_a_survey_that_could_not_be_delivered_leaves_the_surveyed_count(m, clock) -> None:
    await handlers.survey_of_alert(m, closed())
    receipt = dict(sms_id=f"{SID}:survey", phone=PHONE, purpose="survey", requested_by="rating", ref=SID,
                   at=clock.now() + H)
    await handlers.delivery(m, SmsDeliveryRating(status="delivered", **receipt))
    assert (await m.survey_uow.get(SID)).delivered_at == START + H
    await handlers.delivery(m, SmsDeliveryRating(status="failed", detail="absent subscriber", **receipt))
    assert (await m.survey_uow.get(SID)).state == "failed"
    assert (await report(m))["P1001", "all"]["surveyed"] == 0
    await handlers.delivery(m, SmsDeliveryRating(status="failed", **receipt))  # again: nothing more
    assert (await report(m))["P1001", "all"]["surveyed"] == 0


# --- phone and on-site ratings -------------------------------------------------------------------


def entry(**changes: Any) -> RatingEntry:
    fields: dict[str, Any] = dict(channel="on_site", level="basically", subject_type="service", subject_id="W-77",
                                  officer_id="P1002", unit_id="G1", entered_by="窗口辅警李四", phone=PHONE)
    return RatingEntry(**(fields | changes))


async def test_a_rating_entered_by_staff_is_stored_once_per_request_id(m, publisher) -> None:
    first, stored = await handlers.record_rating(m, entry(), "req-1")
    again, stored_again = await handlers.record_rating(m, entry(), "req-1")
    assert (stored, stored_again, again.rating_id, again.level) == (True, False, first.rating_id, "basically")
    with pytest.raises(Refused) as reused:  # the same request_id for another rating: 409 naming it
        await handlers.record_rating(m, entry(level="satisfied"), "req-1")
    assert "request_id req-1" in reused.value.reason
    assert first.entered_by == "窗口辅警李四" and len(publisher.on("ratings.received")) == 1
    assert (await report(m))["P1002", "on_site"]["basically"] == 1
    found = await handlers.find_ratings(m, RatingQuery(subject_id="W-77", officer_id=None, week=None, limit=10,
                                                       offset=0))
    assert [r.rating_id for r in found] == [first.rating_id]


async def test_a_dissatisfied_phone_rating_opens_a_followup(m) -> None:
    rating, _ = await handlers.record_rating(m, entry(channel="phone", level="dissatisfied"))
    [followup] = await handlers.followups(m, state=None, limit=10, offset=0)
    assert followup.rating_id == rating.rating_id and followup.channel == "phone"


async def test_a_rating_in_the_future_is_refused_naming_the_field(m, clock) -> None:
    with pytest.raises(Invalid) as refused:
        await handlers.record_rating(m, entry(at=clock.now() + timedelta(hours=1)))
    assert refused.value.field == "at"


# --- spot checks ---------------------------------------------------------------------------------


async def test_a_denied_spot_check_takes_the_rating_out_of_the_report(m, clock) -> None:
    await answered(m, clock, "1")
    assert await handlers.spot_checks(m, "2026-W48", limit=10, offset=0) == []  # the week is not over
    clock.set(datetime(2026, 11, 29, 16, 0, tzinfo=UTC))  # Monday 00:00 in the station: W48 is over
    [check] = await handlers.spot_checks(m, "2026-W48", limit=10, offset=0)
    assert await handlers.draw_week(m, "2026-W48") == 0  # drawn once
    done = await handlers.record_check(m, check.check_id, outcome="denied", actor="值班民警", note="本人未评价")
    again = await handlers.record_check(m, check.check_id, outcome="denied", actor="值班民警", note="")
    assert done.state == again.state == "denied"
    row = (await report(m))["P1001", "all"]
    assert (row["satisfied"], row["excluded"], row["rated"], row["satisfaction_rate"]) == (0, 1, 0, None)
    with pytest.raises(Refused):
        await handlers.record_check(m, check.check_id, outcome="confirmed", actor="x", note="")


# --- roll-ups: crashes, redelivery, rebuild ------------------------------------------------------


class FlakyRollups:
    """The store goes away between a record's write and its roll-up."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.fail = inner, True

    async def apply(self, *args: Any) -> None:
        if self.fail:
            raise AutoReconnect("the store is away")
        await self.inner.apply(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def staged_rollups(doc: dict[str, Any]) -> list[dict[str, str]]:
    return [entry for entry in doc["outbox"].values() if entry["subject"] == "local:" + ROLLUP]


async def test_a_rollup_lost_to_a_crash_is_applied_once_by_the_next_load_or_the_relay(m, clock, publisher) -> None:
    rollups = m.rollups
    m.rollups = FlakyRollups(rollups)  # type: ignore[assignment]
    m.__post_init__()
    await answered(m, clock, "1")
    assert await report(m) == {}
    rating_id = next(iter(m.ratings.documents))
    assert staged_rollups(m.ratings.documents[rating_id]) != []
    m.rollups.fail = False  # type: ignore[attr-defined]
    await handlers.answered(m, sms("1", at=clock.now()))  # the redelivery: loads, finishes what was staged
    now = datetime.now(UTC) + timedelta(minutes=1)
    for unit in m.units:
        await unit.relay(now=now)
    row = (await report(m))["P1001", "all"]
    assert (row["surveyed"], row["answered"], row["satisfied"]) == (1, 1, 1)
    assert all(d["outbox"] == {} and "outbox_ms" not in d for d in m.ratings.documents.values())


async def test_an_entry_applied_twice_changes_its_cells_once(m, clock) -> None:
    await handlers.record_rating(m, entry())
    doc = next(iter(m.ratings.documents.values()))
    assert staged_rollups(doc) == []
    staged = [{"week": "2026-W48", "scope": "officer", "key": "P1002", "channel": "on_site", "delta": {"basically": 1}}]
    apply = apply_rollup(lambda: m.rollups)
    await apply(f"{doc['_id']}/rollup/1", json.dumps(staged))  # a stale copy of the applied entry, applied again
    assert (await report(m))["P1002", "on_site"]["basically"] == 1


async def test_a_cell_forgets_a_mark_when_its_entry_is_unstaged_and_old_never_while_it_is_staged(m, clock) -> None:
    await handlers.record_rating(m, entry())  # taken by its cells and unstaged
    unstage = m.ratings.unstage

    async def away(*args: Any, **kwargs: Any) -> None:
        raise AutoReconnect("the store went away after the cells took the entry")

    m.ratings.unstage = away  # type: ignore[method-assign]
    with pytest.raises(AutoReconnect):
        await handlers.record_rating(m, entry(subject_id="W-78", phone="13900139000"))
    staged_id = next(i for i, d in m.ratings.documents.items() if staged_rollups(d))
    staged_mark = mark(f"{staged_id}/rollup/1")
    cells = [c for c in m.rollups.marks if c.key == "P1002"]
    assert cells and all(len(m.rollups.marks[c]) == 2 for c in cells)

    await handlers.relay(m)  # marks younger than the setting: all kept
    assert all(len(m.rollups.marks[c]) == 2 for c in cells)
    m.settings = m.settings.model_copy(update={"rollup_marks_kept_s": -1.0})  # every mark old enough
    await handlers.relay(m)
    assert all(m.rollups.marks[c] == {staged_mark: m.rollups.marks[c][staged_mark]} for c in cells)

    m.ratings.unstage = unstage  # type: ignore[method-assign]
    for unit in m.units:  # the relay finds the entry left staged: its cells are marked, nothing is added twice
        await unit.relay(now=datetime.now(UTC) + timedelta(minutes=1))
    assert staged_rollups(m.ratings.documents[staged_id]) == []
    await handlers.relay(m)
    assert all(m.rollups.marks[c] == {} for c in cells)
    assert (await report(m))["P1002", "on_site"]["basically"] == 2


async def test_rebuilt_rollups_equal_the_incremental_ones(m, clock) -> None:
    await answered(m, clock, "3 太慢")
    await answered(m, clock, "ok", alert_id="110-2")  # cooldown: suppressed, not counted
    clock.advance(days=1)
    await handlers.survey_of_alert(m, closed("110-3", phone="13900139000", at=clock.now()))
    await handlers.record_rating(m, entry())
    await handlers.record_rating(m, entry(level="dissatisfied", officer_id=None))
    [followup, _] = await handlers.followups(m, state=None, limit=10, offset=0)
    await handlers.complete_followup(m, followup.followup_id, actor="所长", findings="a", actions="b")
    clock.set(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
    await handlers.sweep_surveys(m)
    await handlers.sweep_followups(m)
    [check] = await handlers.spot_checks(m, "2026-W48", limit=10, offset=0)
    await handlers.record_check(m, check.check_id, outcome="denied", actor="x", note="")
    incremental = {c: r for c, r in m.rollups.cells.items() if any(r.counts.values())}
    station = {c.channel: r for c, r in incremental.items() if c.scope == "station"}
    assert (station["sms"].surveyed, station["sms"].excluded, station["sms"].followups_in_time) == (2, 1, 1)
    assert station["on_site"].followups_overdue == 1
    cells = await handlers.rebuild_rollups(m, batch=2)
    assert cells == len(incremental) and m.rollups.cells == incremental


async def test_with_the_broker_away_the_survey_is_kept_and_its_sms_sent_later(m, publisher) -> None:
    publisher.away = True
    await handlers.survey_of_alert(m, closed())
    assert (await m.survey_uow.get(SID)).state == "sent"
    publisher.away = False
    await handlers.relay(m)
    assert publisher.published == []  # within the grace the save's own publish is still expected
    await m.survey_uow.relay(now=datetime.now(UTC) + timedelta(minutes=1))
    assert [p.msg_id for p in publisher.published] == [f"{SID}/survey_sent/2", f"{SID}:survey"]


async def test_an_unknown_receipt_or_record_is_not_found(m) -> None:
    from common.errors import NotFound

    with pytest.raises(NotFound):
        await handlers.delivery(m, SmsDeliveryRating(sms_id="x:survey", phone=PHONE, status="failed",
                                                     purpose="survey", requested_by="rating", ref="sv-unknown",
                                                     at=START))
    await handlers.delivery(m, SmsDeliveryRating(sms_id="cb-1", phone=PHONE, status="failed", purpose="callback",
                                                 requested_by="notify", ref="cb-1", at=START))  # not a survey's
    with pytest.raises(NotFound):
        await handlers.complete_followup(m, "fu-none", actor="a", findings="b", actions="c")


async def test_a_survey_another_replica_sent_meanwhile_is_left_as_it_is_not_refused(m, clock, publisher) -> None:
    """Found by the platform fault test: the sweep of one replica sent it, the other's request found it sent."""
    await handlers.survey_of_alert(m, closed())
    clock.advance(hours=1)
    survey = await handlers._send_or_expire(m, SID)  # before its 72 h: nothing to do, no refusal
    assert survey.state == "sent" and len(sms_out(publisher)) == 1
    clock.advance(hours=72)
    assert (await handlers._send_or_expire(m, SID)).state == "expired"


# --- a callback's answer is its rating --------------------------------------------------------------


def callback_done(callback_id: str = "cb-1", **changes: Any) -> CallbackCompleted:
    body = {"callback_id": callback_id, "case_id": "A2026-0042", "party_id": "p1", "at": (START + H).isoformat(),
            "officer_id": "P1001", "unit_id": "G1", "rule": "unsolved_7d", "channel": "sms", "reached": True,
            "opinion": "3 处理太慢", "completed_by": "party-sms-reply", "late": False, "phone": PHONE,
            "level": "dissatisfied", "objection": True}
    return CallbackCompleted.model_validate(body | changes)


async def test_a_callback_answered_by_sms_is_its_rating_and_no_survey_follows(m, publisher) -> None:
    await handlers.callback_completed(m, callback_done())
    await handlers.callback_completed(m, callback_done())  # redelivered: still one
    [received] = publisher.on("ratings.received")
    assert (received["rating_id"], received["subject_type"], received["subject_id"], received["channel"],
            received["level"], received["officer_id"], received["comment"]) == (
        "rt-cb-1", "callback", "cb-1", "sms", "dissatisfied", "P1001", "3 处理太慢")
    assert sms_out(publisher) == [] and m.surveys.documents == {}
    row = (await report(m))["P1001", "all"]
    assert (row["dissatisfied"], row["rated"]) == (1, 1)
    [followup] = await handlers.followups(m, state="open", limit=10, offset=0)
    assert (followup.rating_id, followup.reason) == ("rt-cb-1", "dissatisfied")


async def test_an_sms_answer_without_a_level_asks_nothing_more(m, publisher) -> None:
    await handlers.callback_completed(m, callback_done(level=None, objection=False, opinion="??"))
    assert sms_out(publisher) == [] and m.ratings.documents == {} and m.surveys.documents == {}


@pytest.mark.parametrize(("channel", "rated_as"), [("phone", "phone"), ("visit", "on_site")])
async def test_a_level_the_officer_recorded_is_the_rating_by_its_channel(m, publisher, channel, rated_as) -> None:
    await handlers.callback_completed(m, callback_done(channel=channel, level="satisfied", opinion="谢谢",
                                                       completed_by="P1001", objection=False))
    [received] = publisher.on("ratings.received")
    assert (received["channel"], received["entered_by"], received["level"]) == (rated_as, "P1001", "satisfied")
    assert sms_out(publisher) == [] and m.followups.documents == {}


async def test_a_comment_stating_a_problem_or_a_suggestion_opens_a_followup(m) -> None:
    await handlers.callback_completed(m, callback_done("cb-1", level="basically", opinion="2 处理有点慢"))
    await handlers.callback_completed(m, callback_done("cb-2", level="satisfied", opinion="1 建议多巡逻"))
    await handlers.callback_completed(m, callback_done("cb-3", level="satisfied", opinion="1 谢谢民警"))
    found = {f.rating_id: f.reason for f in await handlers.followups(m, state="open", limit=10, offset=0)}
    assert found == {"rt-cb-1": "problem", "rt-cb-2": "suggestion"}


async def test_an_escalated_objection_is_leaderships_follow_up_once(m) -> None:
    escalated = ObjectionEscalated.model_validate({
        "objection_id": "ob-1", "callback_id": "cb-1", "case_id": "A2026-0042", "officer_id": "P1001",
        "at": (START + 4 * H).isoformat(), "why": "still_objects"})
    with pytest.raises(Conflict):  # the callback's completion is not here yet: redelivered later, not dead
        await handlers.objection_escalated(m, escalated)
    await handlers.callback_completed(m, callback_done(level="satisfied", opinion="1", objection=True))
    assert m.followups.documents == {}
    await handlers.objection_escalated(m, escalated)
    await handlers.objection_escalated(m, escalated)
    [followup] = await handlers.followups(m, state="open", limit=10, offset=0)
    assert (followup.rating_id, followup.reason) == ("rt-cb-1", "objection")
