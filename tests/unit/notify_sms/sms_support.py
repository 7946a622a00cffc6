"""Times, phones and commands shared by the SMS gateway's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from common.contracts.sms import SmsSendRequested
from notify.adapters.store import InMemoryCallbacks, memory_cases
from notify.handlers import Notify
from notify.settings import NotifySettings
from notify.sms.handlers import Sms

#: 10:00 in Shanghai on 2026-11-23
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
PHONE = "13800138001"


def send_command(sms_id: str = "S-1", phone: str = PHONE, **extra: Any) -> SmsSendRequested:
    fields: dict[str, Any] = {
        "sms_id": sms_id, "phone": phone, "text": "您好，枫亭派出所回访：您的案件已受理。回复TD退订",
        "purpose": "callback", "requested_by": "notify", "ref": "cb-1", "requested_at": START - timedelta(seconds=1),
    }
    return SmsSendRequested(**(fields | extra))


def question(question_id: str = "cb-1", owner: str = "notify", kind: str = "callback", code: str = "A7K2",
             subject_id: str = "cb-1", expires_in: timedelta = timedelta(hours=72)) -> dict[str, Any]:
    """The `question` of an `sms.send` that expects an answer."""
    return {"question_id": question_id, "owner": owner, "kind": kind, "subject_id": subject_id, "code": code,
            "expires_at": START + expires_in}


def deliveries(sms: Sms) -> list[dict[str, Any]]:
    return sms.publisher.on("sms.delivery.notify")  # type: ignore[attr-defined]


def notify_of(sms: Sms) -> Notify:
    """notify's one route context around a gateway wired alone (the SMS routes read `n.sms`)."""
    assert isinstance(sms.settings, NotifySettings)
    return Notify(sms.settings, sms.clock, sms.publisher, InMemoryCallbacks(), memory_cases(), sms=sms)
