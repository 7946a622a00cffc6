"""Survey, rating and follow-up records: every transition, every refusal, the round trip to the store,
and which survey a reply answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rating.domain import events as ev
from rating.domain.model import Followup, Rating, RatingRefused, Survey
from rating.domain.reply import parse_reply
from rating.domain.surveys import SurveyPolicy

CST = ZoneInfo("Asia/Shanghai")
CLOSED = datetime(2026, 11, 23, 10, 0, tzinfo=CST)  # a Monday, 10:00
H = timedelta(hours=1)


def refused(command: Callable[[], object], *fragments: str) -> None:
    with pytest.raises(RatingRefused) as caught:
        command()
    for fragment in fragments:
        assert fragment in caught.value.reason


def scheduled(**overrides: Any) -> Survey:
    fields: dict[str, Any] = {
        "subject_type": "alert",
        "subject_id": "110-20261123-000123",
        "phone": "+86 13800138000",
        "officer_id": "P1001",
        "unit_id": "G1",
        "requested_at": CLOSED,
        "now": CLOSED,
    }
    return Survey.schedule(**(fields | overrides))


def sent(at: datetime = CLOSED, **overrides: Any) -> Survey:
    survey = scheduled(requested_at=at, now=at, **overrides)
    survey.mark_sent(now=survey.send_at)
    survey.events.clear()
    return survey


# --- survey -------------------------------------------------------------------------------


def test_schedule_inside_hours() -> None:
    survey = scheduled()
    assert (survey.state, survey.send_at, survey.phone) == ("scheduled", CLOSED, "13800138000")
    assert survey.events == [ev.SurveyScheduled(at=CLOSED, survey_id=survey.survey_id, send_at=CLOSED)]
    assert survey.next_due_at == CLOSED
    late = scheduled(requested_at=CLOSED.replace(hour=22, minute=30), now=CLOSED.replace(hour=22, minute=30))
    assert late.send_at == datetime(2026, 11, 24, 8, 0, tzinfo=CST)


def test_a_late_event_is_due_when_handled_not_when_it_happened() -> None:
    survey = scheduled(requested_at=CLOSED - timedelta(days=2), now=CLOSED)
    assert survey.send_at == CLOSED and survey.state == "scheduled"
    stale = scheduled(requested_at=CLOSED - timedelta(days=8), now=CLOSED)
    assert (stale.state, stale.suppressed_reason) == ("suppressed", "stale")


def test_suppressed_surveys_say_why_and_wait_for_nothing() -> None:
    survey = scheduled(opted_out=True)
    assert (survey.state, survey.suppressed_reason, survey.next_due_at) == ("suppressed", "opted_out", None)
    assert survey.events == [ev.SurveySuppressed(at=CLOSED, survey_id=survey.survey_id, reason="opted_out")]
    cooled = scheduled(last_surveyed_at=CLOSED - 2 * H)
    assert cooled.suppressed_reason == "cooldown"
    refused(lambda: cooled.mark_sent(now=CLOSED), "cannot send", "suppressed")


def test_same_subject_and_phone_give_the_same_survey() -> None:
    assert scheduled().survey_id == scheduled(phone="13800138000", now=CLOSED + H).survey_id
    assert scheduled().code == scheduled(phone="13800138000").code


def test_mark_sent_starts_the_72_hours() -> None:
    survey = scheduled()
    refused(lambda: survey.mark_sent(now=CLOSED - timedelta(seconds=1)), "not to be sent before")
    survey.mark_sent(now=CLOSED)
    assert (survey.state, survey.sent_at, survey.expires_at) == ("sent", CLOSED, CLOSED + 72 * H)
    assert survey.week == "2026-W48" and survey.next_due_at == CLOSED + 72 * H
    assert isinstance(survey.events[-1], ev.SurveySent) and survey.events[-1].week == "2026-W48"
    refused(lambda: survey.mark_sent(now=CLOSED), "it is sent")


def test_week_of_sending_is_in_the_station_zone() -> None:
    sunday_night_utc = datetime(2026, 11, 29, 16, 30, tzinfo=ZoneInfo("UTC"))  # Monday 00:30 in Shanghai
    survey = scheduled(requested_at=sunday_night_utc, now=sunday_night_utc)
    survey.mark_sent(now=survey.send_at)
    assert survey.week == "2026-W49"


def test_first_valid_reply_counts_later_ones_are_comments() -> None:
    survey = sent()
    assert survey.receive(parse_reply("3 态度差"), now=CLOSED + H, message_id="m1") == "rated"
    assert (survey.state, survey.level, survey.comment, survey.answered_at) == (
        "answered",
        "dissatisfied",
        "态度差",
        CLOSED + H,
    )
    assert survey.events == [ev.SurveyAnswered(CLOSED + H, survey.survey_id, "dissatisfied", "P1001", "G1", "2026-W48")]
    assert survey.receive(parse_reply("1"), now=CLOSED + 2 * H) == "kept"
    assert survey.level == "dissatisfied"
    assert [r.outcome for r in survey.replies] == ["rated", "kept"]
    assert survey.replies[0].message_id == "m1" and survey.replies[1].text == "1"
    assert survey.next_due_at is None and survey.accepts_replies


def test_one_reprompt_then_comments_and_a_later_valid_reply_still_counts() -> None:
    survey = sent()
    assert survey.receive(parse_reply("ok"), now=CLOSED + H) == "reprompt"
    assert (survey.state, survey.reprompted_at) == ("reprompted", CLOSED + H)
    assert survey.events == [ev.SurveyReprompted(CLOSED + H, survey.survey_id)]
    assert survey.receive(parse_reply("嗯"), now=CLOSED + 2 * H) == "kept"
    assert survey.state == "reprompted" and survey.level is None
    assert survey.expires_at == CLOSED + 72 * H  # the re-prompt does not extend it
    assert survey.receive(parse_reply("2"), now=CLOSED + 3 * H) == "rated"
    assert survey.level == "basically"
    assert [r.outcome for r in survey.replies] == ["reprompt", "kept", "rated"]


def test_replies_refused_after_expiry_for_opt_outs_and_before_sending() -> None:
    survey = sent()
    refused(lambda: survey.receive(parse_reply("1"), now=CLOSED + 72 * H), "expired")
    survey.receive(parse_reply("1"), now=CLOSED + 72 * H - timedelta(seconds=1))
    refused(lambda: survey.receive(parse_reply("TD"), now=CLOSED + H), "opt-out")
    refused(lambda: scheduled().receive(parse_reply("1"), now=CLOSED), "it is scheduled")


def test_expire_at_72_hours_not_before() -> None:
    survey = sent()
    refused(lambda: survey.expire(now=CLOSED + 72 * H - timedelta(seconds=1)), "not before")
    survey.expire(now=CLOSED + 72 * H)
    assert survey.state == "expired" and survey.next_due_at is None and not survey.accepts_replies
    assert survey.events == [ev.SurveyExpired(CLOSED + 72 * H, survey.survey_id)]
    answered = sent()
    answered.receive(parse_reply("1"), now=CLOSED)
    refused(lambda: answered.expire(now=CLOSED + 100 * H), "it is answered")
    reprompted = sent()
    reprompted.receive(parse_reply("?"), now=CLOSED)
    reprompted.expire(now=CLOSED + 72 * H)
    assert reprompted.state == "expired"


def test_opt_out_stops_scheduled_and_open_surveys_only() -> None:
    for survey in (scheduled(), sent()):
        survey.opt_out(now=CLOSED + H)
        assert survey.state == "opted_out" and survey.next_due_at is None
        assert isinstance(survey.events[-1], ev.SurveyOptedOut)
    answered = sent()
    answered.receive(parse_reply("1"), now=CLOSED)
    refused(lambda: answered.opt_out(now=CLOSED + H), "cannot opt out")


def test_history_records_each_step() -> None:
    survey = sent()
    survey.receive(parse_reply("?"), now=CLOSED + H)
    survey.receive(parse_reply("1"), now=CLOSED + 2 * H)
    assert [(h.action, h.from_state, h.to_state) for h in survey.history] == [
        ("schedule", None, "scheduled"),
        ("send", "scheduled", "sent"),
        ("reply: reprompt", "sent", "reprompted"),
        ("reply: rated", "reprompted", "answered"),
    ]


def test_survey_round_trip_and_naive_datetimes_read_as_utc() -> None:
    survey = sent()
    survey.receive(parse_reply("3 慢"), now=CLOSED + H, message_id="m1")
    doc = survey.to_dict()
    assert doc["next_due_at"] is None and "events" not in doc
    back = Survey.from_dict(doc | {"_id": "ignored"})
    assert back.to_dict() == doc
    naive = {
        k: (v.astimezone(ZoneInfo("UTC")).replace(tzinfo=None) if isinstance(v, datetime) else v)
        for k, v in doc.items()
    }
    naive["replies"] = [r | {"at": r["at"].astimezone(ZoneInfo("UTC")).replace(tzinfo=None)} for r in doc["replies"]]
    naive["history"] = [h | {"at": h["at"].astimezone(ZoneInfo("UTC")).replace(tzinfo=None)} for h in doc["history"]]
    again = Survey.from_dict(naive)
    assert again.sent_at == survey.sent_at and again.replies[0].at == CLOSED + H
    assert again.history[0].at == CLOSED and again.sent_at.tzinfo is not None


# --- rating -------------------------------------------------------------------------------


def test_rating_from_an_answered_survey() -> None:
    survey = sent()
    refused(lambda: Rating.from_survey(survey, zone=CST), "has no rating", "sent")
    survey.receive(parse_reply("3 态度差"), now=CLOSED + H)
    rating = Rating.from_survey(survey, zone=CST)
    assert rating.rating_id == "rt-" + survey.survey_id[3:]
    assert (rating.channel, rating.level, rating.comment, rating.week) == ("sms", "dissatisfied", "态度差", "2026-W48")
    assert (rating.phone, rating.entered_by, rating.survey_id) == ("13800138000", None, survey.survey_id)
    assert [type(e) for e in rating.events] == [ev.RatingRecorded, ev.RatingDissatisfied]
    assert rating.events[1].comment == "态度差"


def entered(**overrides: Any) -> Rating:
    fields: dict[str, Any] = {
        "rating_id": "r-1",
        "channel": "on_site",
        "level": "satisfied",
        "subject_type": "service",
        "subject_id": "W-9",
        "officer_id": "P1002",
        "unit_id": "G2",
        "at": CLOSED,
        "zone": CST,
        "entered_by": "desk-1",
    }
    return Rating.record(**(fields | overrides))


def test_entered_ratings_need_who_entered_them_and_valid_values() -> None:
    rating = entered()
    assert rating.entered_by == "desk-1" and rating.phone is None
    assert [type(e) for e in rating.events] == [ev.RatingRecorded]
    assert rating.events[0].entered_by == "desk-1"
    refused(lambda: entered(entered_by=None), "entered_by")
    refused(lambda: entered(channel="phone", entered_by="  "), "phone rating needs entered_by")
    refused(lambda: entered(channel="sms"), "survey_id")
    refused(lambda: entered(channel="fax"), "unknown channel")
    refused(lambda: entered(level="great"), "unknown level")
    refused(lambda: entered(subject_type="visit"), "unknown subject_type")
    refused(lambda: entered(comment="x" * 501), "comment")
    entered(comment="x" * 500)
    assert entered(channel="sms", survey_id="sv-1").entered_by is None
    assert entered(phone="+86 13800138000").phone == "13800138000"
    with pytest.raises(ValueError):
        entered(at=CLOSED.replace(tzinfo=None))


def test_rating_week_is_the_station_week_across_a_year_end() -> None:
    assert entered(at=datetime(2027, 1, 1, 9, 0, tzinfo=CST)).week == "2026-W53"
    assert entered(at=datetime(2026, 12, 31, 16, 30, tzinfo=ZoneInfo("UTC"))).week == "2026-W53"  # Jan 1, 00:30 CST
    assert entered(at=datetime(2027, 1, 3, 16, 0, tzinfo=ZoneInfo("UTC"))).week == "2027-W01"  # Mon Jan 4, 00:00 CST
    assert entered(at=datetime(2027, 1, 3, 15, 59, 59, tzinfo=ZoneInfo("UTC"))).week == "2026-W53"


def test_exclude_once() -> None:
    rating = entered(level="dissatisfied")
    rating.events.clear()
    rating.exclude(now=CLOSED + H, actor="leader", check_id="sc-r-1")
    assert (rating.state, rating.excluded_by_check) == ("excluded", "sc-r-1")
    assert rating.events == [
        ev.RatingExcluded(CLOSED + H, "r-1", "sc-r-1", "on_site", "dissatisfied", "P1002", "G2", "2026-W48")
    ]
    refused(lambda: rating.exclude(now=CLOSED + 2 * H, actor="x", check_id="sc"), "it is excluded")
    assert Rating.from_dict(rating.to_dict()).to_dict() == rating.to_dict()


# --- follow-up ----------------------------------------------------------------------------


def followup(**policy: Any) -> Followup:
    f = Followup.open(entered(level="dissatisfied"), now=CLOSED, policy=SurveyPolicy(**policy))
    f.events.clear()
    return f


def test_only_dissatisfied_opens_a_followup_due_in_three_days() -> None:
    refused(lambda: Followup.open(entered(level="basically"), now=CLOSED), "only 不满意")
    f = Followup.open(entered(level="dissatisfied"), now=CLOSED)
    assert (f.followup_id, f.due_at, f.state, f.week, f.channel) == (
        "fu-r-1",
        CLOSED + 72 * H,
        "open",
        "2026-W48",
        "on_site",
    )
    assert f.events == [ev.FollowupOpened(CLOSED, "fu-r-1", "r-1", CLOSED + 72 * H)]
    assert f.next_due_at == CLOSED + 72 * H and f.outcome is None
    assert followup(followup_within=timedelta(days=1)).due_at == CLOSED + 24 * H


def test_overdue_once_after_the_deadline() -> None:
    f = followup()
    assert f.check_deadline(CLOSED + 72 * H) == []  # at the deadline: still in time
    due = f.check_deadline(CLOSED + 72 * H + timedelta(seconds=1))
    assert [type(e) for e in due] == [ev.FollowupOverdue] and f.events == due
    assert (f.state, f.outcome, f.next_due_at) == ("overdue", "overdue", None)
    assert f.check_deadline(CLOSED + 100 * H) == []
    f.complete(now=CLOSED + 100 * H, actor="leader", findings="民警态度生硬", actions="批评教育，向群众道歉")
    assert (f.state, f.outcome) == ("done", "overdue")
    assert [type(e) for e in f.events] == [ev.FollowupOverdue, ev.FollowupCompleted]
    assert f.events[-1].in_time is False


def test_complete_in_time_at_the_deadline() -> None:
    f = followup()
    refused(lambda: f.complete(now=CLOSED, actor="leader", findings=" ", actions="道歉"), "findings")
    refused(lambda: f.complete(now=CLOSED, actor="leader", findings="查明", actions=""), "actions")
    f.complete(now=CLOSED + 72 * H, actor="leader", findings="查明", actions="道歉")
    assert (f.state, f.outcome, f.done_by, f.findings, f.actions) == ("done", "in_time", "leader", "查明", "道歉")
    assert [type(e) for e in f.events] == [ev.FollowupCompleted] and f.events[0].in_time
    refused(lambda: f.complete(now=CLOSED, actor="x", findings="a", actions="b"), "it is done")
    assert f.check_deadline(CLOSED + 100 * H) == []
    assert Followup.from_dict(f.to_dict()).to_dict() == f.to_dict()


def test_done_late_before_any_sweep_counts_overdue_once() -> None:
    f = followup()
    f.complete(now=CLOSED + 73 * H, actor="leader", findings="a", actions="b")
    assert [type(e) for e in f.events] == [ev.FollowupOverdue, ev.FollowupCompleted]
    assert f.outcome == "overdue" and f.overdue


# --- delivery receipts ----------------------------------------------------------------------


def test_a_survey_that_could_not_be_delivered_fails_and_leaves_the_surveyed_count() -> None:
    survey = sent()
    survey.fail(now=CLOSED + H, detail="absent subscriber")
    assert (survey.state, survey.next_due_at, survey.accepts_replies) == ("failed", None, False)
    assert survey.events == [
        ev.SurveyFailed(at=CLOSED + H, survey_id=survey.survey_id, officer_id="P1001", unit_id="G1",
                        week="2026-W48", detail="absent subscriber")
    ]
    refused(lambda: survey.fail(now=CLOSED + 2 * H), "cannot fail", "it is failed")
    refused(lambda: scheduled().fail(now=CLOSED), "allowed when sent")
    answered = sent()
    answered.receive(parse_reply("1"), now=CLOSED + H)
    refused(lambda: answered.fail(now=CLOSED + 2 * H), "it is answered")
    assert Survey.from_dict(survey.to_dict()).to_dict() == survey.to_dict()


def test_a_delivery_is_noted_once_without_changing_the_state() -> None:
    survey = sent()
    survey.delivered(now=CLOSED + H)
    survey.delivered(now=CLOSED + 2 * H)
    assert (survey.state, survey.delivered_at, survey.events) == ("sent", CLOSED + H, [])
    assert [h.action for h in survey.history] == ["schedule", "send", "delivered"]
    refused(lambda: scheduled().delivered(now=CLOSED), "cannot note the delivery")
    assert Survey.from_dict(survey.to_dict()).delivered_at == CLOSED + H
