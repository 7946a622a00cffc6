"""`fengqiao publish` prints what really followed: a chain of ids, each message once."""

from __future__ import annotations

import json

from fengqiao.publish import Follower


def _offer(f: Follower, subject: str, body: dict, msg_id: str | None = None) -> bool:
    return f.offer(subject, msg_id, json.dumps(body, ensure_ascii=False).encode())


def test_a_survey_request_is_followed_through_its_survey_to_its_sms() -> None:
    f = Follower("ratings.requested", "r-1")
    assert _offer(f, "ratings.survey_sent", {"request_id": "r-1", "survey_id": "sv-9", "officer_id": "P1001"}, "a")
    assert _offer(f, "sms.send", {"sms_id": "sv-9.1", "ref": "sv-9", "phone": "13800138000", "text": "…"}, "b")
    assert _offer(f, "sms.delivery.rating", {"sms_id": "sv-9.1", "status": "delivered"}, "c")
    # another survey of the same officer is not what followed
    assert not _offer(f, "ratings.survey_sent", {"request_id": "r-2", "survey_id": "sv-10", "officer_id": "P1001"})
    assert [line.split(":")[0] for line in f.lines] == ["ratings.survey_sent", "sms.send", "sms.delivery.rating"]


def test_a_message_published_twice_is_printed_once() -> None:
    f = Follower("cases.accepted", "A-1")
    body = {"sms_id": "cb-1.1", "ref": "cb-1", "case_id": "A-1"}
    assert _offer(f, "sms.send", body, "cb-1.1")
    assert not _offer(f, "sms.send", body, "cb-1.1")  # the outbox relay's second publish, dropped by JetStream
    assert len(f.lines) == 1


def test_the_event_itself_acks_and_inboxes_are_not_what_followed() -> None:
    f = Follower("alerts.received", "110-1")
    assert not _offer(f, "alerts.received", {"alert_id": "110-1"}, "110-1")
    assert not _offer(f, "$JS.API.STREAM.MSG.GET.X", {"alert_id": "110-1"})
    assert not _offer(f, "_INBOX.abc", {"alert_id": "110-1"})
    assert not f.offer("alerts.assigned", None, b"not json but 110-10")  # an id is matched whole, quoted
    assert f.offer("alerts.assigned", None, b'not json but "110-1"')
