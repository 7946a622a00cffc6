"""What a timer and a delivery report do to a callback (the service calls these through its unit of work).

`fire(callback, now, policy)` is what the sweep does to a callback whose `next_due_at` has come:
the deadline checks first (manual at the cutoff, overdue at the deadline), then, if the callback
is still scheduled and its send time has come inside the allowed hours, the SMS goes: the callback
is marked sent under the message id `<callback_id>.<attempt>` (the sms_id of the `sms.send` the
service stages in the same write). Outside the allowed hours the send moves to the next allowed
time. Firing again at the same `now` changes nothing.

`apply_receipt(...)` is what a delivery report from the gateway (`sms.delivery`) does:

| status    | detail                                   | callback (only the SMS in flight: sent, same id) |
|-----------|------------------------------------------|---------------------------------------------------|
| sent      | —                                        | nothing: it is `sent` since the command was staged |
| delivered | —                                        | delivered                                         |
| failed    | opted_out, refused, undeliverable        | manual at once: another SMS cannot get through    |
| failed    | rate_limited                             | retry counted, not before the next day's allowed hours |
| failed    | gateway_down_gave_up, anything else      | retry with the policy's backoff, or manual after the last |

A report about an earlier attempt, a repeated report, or one for a callback no longer waiting on
its SMS changes nothing (returns False).

`apply_reply(...)` is what the party's answer to the callback SMS does (the SMS asks for 1/2/3 or
any words): the callback is done, by SMS, reached, the reply as the party's opinion; a reply that is
only an opt-out word (TD, 退订…) opens a manual task instead. Only a callback whose SMS went out and
is not yet answered takes a reply.
"""

from __future__ import annotations

from datetime import datetime

from notify.domain.model import Callback
from notify.domain.schedule import SendPolicy
from notify.sms.domain.optout import is_opt_out

#: failures that another SMS would meet again: the officer calls or visits instead
NOT_BY_SMS = {
    "opted_out": "the party opted out of SMS (退订)",
    "refused": "the gateway refused the number or the text",
    "undeliverable": "the SMS cannot be delivered to this number",
}
RATE_LIMITED = "rate_limited"
#: who completed a callback the party answered by SMS
SMS_REPLY = "party-sms-reply"
MAX_OPINION = 2000


def sms_id_for(callback: Callback) -> str:
    """The id of the callback's next SMS: `<callback_id>.<attempt>`, within the id alphabet (≤ 64)."""
    return f"{callback.callback_id}.{callback.attempts + 1}"


def fire(callback: Callback, now: datetime, policy: SendPolicy) -> None:
    """Whatever is due at `now`: the cutoff, the deadline, or the SMS."""
    if not callback.is_open:
        return
    callback.check_deadlines(now)
    if callback.state == "scheduled" and callback.ready_to_send(now, policy):
        callback.mark_sent(now=now, message_id=sms_id_for(callback))


def failure_kind(detail: str) -> str:
    """The leading word of a failed report's detail ('undeliverable: absent subscriber' -> 'undeliverable')."""
    words = detail.split(":", 1)[0].split(maxsplit=1)
    return words[0].lower() if words else ""


def apply_receipt(
    callback: Callback, *, now: datetime, sms_id: str, status: str, detail: str, policy: SendPolicy
) -> bool:
    """A delivery report for `sms_id` (see the table above); True when it changed the callback."""
    if status == "sent" or callback.state != "sent" or callback.message_id != sms_id:
        return False
    if status == "delivered":
        return callback.delivery_receipt(now=now, message_id=sms_id, delivered=True, policy=policy)
    kind = failure_kind(detail)
    if kind in NOT_BY_SMS:
        callback.open_manual(now=now, reason=NOT_BY_SMS[kind])
        return True
    callback.delivery_receipt(now=now, message_id=sms_id, delivered=False, reason=detail or "failed", policy=policy)
    if kind == RATE_LIMITED and callback.state == "scheduled":
        callback.postpone(now=now, until=policy.start_of_next_day(now),
                          reason="the phone reached its daily SMS limit", policy=policy)
    return True


def apply_reply(callback: Callback, *, now: datetime, text: str) -> bool:
    """The party answered the callback SMS; True when it changed the callback."""
    if callback.state not in ("sent", "delivered"):
        return False
    if is_opt_out(text):
        callback.open_manual(now=now, reason=NOT_BY_SMS["opted_out"])
    else:
        callback.complete(now=now, channel="sms", reached=True, opinion=text.strip()[:MAX_OPINION],
                          completed_by=SMS_REPLY)
    return True
