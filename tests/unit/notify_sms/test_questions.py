"""Questions and answers: the gateway matches each reply once, to one open question, and tells its owner only."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from common.http import create_app
from notify.sms import handlers
from notify.sms.domain.questions import Question, choose, codes_named
from notify.sms.entrypoints.api import router
from tests.unit.notify_sms.sms_support import PHONE, START, notify_of, question, send_command


def asked(key: str, *, code: str = "A7K2", at_min: int = 0, expires_h: int = 72) -> Question:
    at = START + timedelta(minutes=at_min)
    return Question.asked(owner="rating", question_id=key, kind="survey", subject_id=key, phone=PHONE, code=code,
                          sms_id=f"{key}:survey", asked_at=at, expires_at=at + timedelta(hours=expires_h))


NOW = START + timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "expected", "by"),
    [
        ("1", "new", "latest"),  # no code: the newest open question
        ("1 a7k2", "old", "code"),  # a code picks its question, any case
        ("A7K2，3 太慢", "old", "code"),
        ("3 B5M9", "new", "code"),
        ("1 ZZZ9", "new", "latest"),  # a code of no open question is no code
        ("A7K23", "new", "latest"),  # part of a longer token is not the code
    ],
)
def test_a_reply_goes_to_the_question_its_code_names_else_the_newest(text, expected, by):
    old, new = asked("old", code="A7K2"), asked("new", code="B5M9", at_min=10)
    match = choose([old, new], text, NOW)
    assert match is not None and (match.question.key, match.by) == (f"rating:{expected}", by)


def test_no_open_question_is_a_stray():
    expired = asked("gone", expires_h=1)
    assert choose([expired], "1", START + timedelta(hours=1)) is None  # expiry is exclusive
    assert choose([expired], "1", START + timedelta(hours=1) - timedelta(seconds=1)) is not None
    future = asked("later", at_min=120)
    assert choose([future], "1", NOW) is None  # not asked yet (its SMS waits for the allowed hours)
    assert choose([], "1", NOW) is None


def test_an_answered_question_takes_no_second_answer_until_asked_again():
    q = asked("q")
    assert q.take("in:1", NOW) and q.take("in:1", NOW)  # the same reply again (a retry) keeps it
    assert not q.take("in:2", NOW) and choose([q], "1", NOW) is None
    assert choose([q], "1", NOW, "in:1").question is q  # the reply that took it finds it again
    assert not q.ask_again(sms_id="q:survey", asked_at=NOW, expires_at=NOW)  # a redelivered send asks nothing
    assert q.ask_again(sms_id="q:reprompt", asked_at=NOW, expires_at=NOW + timedelta(hours=72))
    assert q.is_open(NOW) and q.take("in:2", NOW) and q.answered_by == "in:2"


def test_codes_named_are_the_tokens_upper_case():
    assert codes_named("3，a7k2 太慢!B5M9") == {"3", "A7K2", "B5M9"}


async def test_with_a_callback_and_a_survey_open_one_reply_answers_exactly_one(sms, clock):
    await handlers.request_sms(sms, send_command("cb-1.1", question=question()))
    clock.advance(timedelta(minutes=5))
    await handlers.request_sms(sms, send_command(
        "sv-1:survey", purpose="survey", requested_by="rating", ref="sv-1",
        question=question("sv-1", owner="rating", kind="survey", code="B5M9", subject_id="alert-1")))
    first = await handlers.receive_inbound(sms, sender=PHONE, to=None, text="1 满意", gateway="kannel")
    assert (first.owner, first.question_id, first.matched_by) == ("rating", "sv-1", "latest")
    second = await handlers.receive_inbound(sms, sender=PHONE, to=None, text="A7K2 3 处理太慢", gateway="kannel")
    assert (second.owner, second.question_id, second.matched_by) == ("notify", "cb-1", "code")
    third = await handlers.receive_inbound(sms, sender=PHONE, to=None, text="谢谢", gateway="kannel")
    assert not third.matched and third.owner is None  # both answered: a stray
    [rating] = sms.publisher.on("sms.answered.rating")
    [notify] = sms.publisher.on("sms.answered.notify")
    assert (rating["question_id"], rating["kind"], rating["subject_id"], rating["text"]) == (
        "sv-1", "survey", "alert-1", "1 满意")
    assert (notify["question_id"], notify["kind"], notify["phone"], notify["opt_out"]) == (
        "cb-1", "callback", PHONE, False)
    assert len(sms.publisher.on("sms.inbound")) == 3  # for other systems, every reply
    assert [i.inbound_id for i in await handlers.list_inbound(sms, matched=False, limit=10)] == [third.inbound_id]


async def test_a_code_picks_the_older_question(sms, clock):
    await handlers.request_sms(sms, send_command("cb-1.1", question=question()))
    clock.advance(timedelta(minutes=5))
    await handlers.request_sms(sms, send_command(
        "sv-1:survey", purpose="survey", requested_by="rating", ref="sv-1",
        question=question("sv-1", owner="rating", kind="survey", code="B5M9")))
    reply = await handlers.receive_inbound(sms, sender=PHONE, to=None, text="a7k2 1", gateway="kannel")
    assert (reply.owner, reply.matched_by) == ("notify", "code")
    assert sms.publisher.on("sms.answered.rating") == []


async def test_a_re_prompt_opens_the_question_for_one_more_answer(sms, clock):
    await handlers.request_sms(sms, send_command("sv-1:survey", purpose="survey", requested_by="rating",
                                                 question=question("sv-1", owner="rating", kind="survey")))
    await handlers.receive_inbound(sms, sender=PHONE, to=None, text="1 不满意", gateway="kannel")
    await handlers.request_sms(sms, send_command("sv-1:survey", purpose="survey", requested_by="rating",
                                                 question=question("sv-1", owner="rating", kind="survey")))
    assert not (await handlers.receive_inbound(sms, sender=PHONE, to=None, text="2", gateway="kannel")).matched
    await handlers.request_sms(sms, send_command("sv-1:reprompt", purpose="reprompt", requested_by="rating",
                                                 question=question("sv-1", owner="rating", kind="survey")))
    again = await handlers.receive_inbound(sms, sender=PHONE, to=None, text="2", gateway="kannel")
    assert again.matched and len(sms.publisher.on("sms.answered.rating")) == 2


async def test_an_opt_out_is_the_gateways_whatever_the_match(sms):
    await handlers.request_sms(sms, send_command("cb-1.1", question=question()))
    reply = await handlers.receive_inbound(sms, sender=PHONE, to=None, text="TD", gateway="kannel")
    assert reply.opt_out and await sms.opt_outs.has(PHONE)
    [told] = sms.publisher.on("sms.answered.notify")
    assert told["opt_out"] is True
    stray = await handlers.receive_inbound(sms, sender="13900139000", to=None, text="退订", gateway="kannel")
    assert stray.opt_out and not stray.matched and await sms.opt_outs.has("13900139000")


async def test_a_receipt_goes_to_its_requester_only(sms):
    await handlers.request_sms(sms, send_command("sv-1:survey", purpose="survey", requested_by="rating"))
    assert [d["status"] for d in sms.publisher.on("sms.delivery.rating")] == ["sent"]
    assert sms.publisher.on("sms.delivery.notify") == [] and sms.publisher.on("sms.delivery") == []


async def test_the_strays_are_listed_masked(make_sms):
    sms = make_sms(tokens={"viewer-token": ["viewer"], "kannel-token": ["integration"]})
    await handlers.receive_inbound(sms, sender=PHONE, to=None, text=f"我是{PHONE}", gateway="kannel")
    app = create_app("notify", sms.settings, {}, context=notify_of(sms), routers=(router,))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        listed = await http.get("/v1/sms/inbound?matched=false", headers={"Authorization": "Bearer viewer-token"})
        assert listed.status_code == 200
        [item] = listed.json()
        assert (item["phone"], item["text"], item["owner"]) == ("138****8001", "我是138****8001", None)
        assert (await http.get("/v1/sms/inbound?matched=true",
                               headers={"Authorization": "Bearer viewer-token"})).json() == []
        assert (await http.get("/v1/sms/inbound?matched=yes",
                               headers={"Authorization": "Bearer viewer-token"})).status_code == 422
        # without `matched` it is Kannel's get-url: the gateway's role only
        assert (await http.get(f"/v1/sms/inbound?from={PHONE}&text=1",
                               headers={"Authorization": "Bearer viewer-token"})).status_code == 403
