"""The callback (案件回访) of one party of a case under one rule, from scheduling to done.

One `Callback` per (case, party, rule); its id is `callback_id_for(case_id, party_id, rule)`, so a
duplicate case event (same or new msg id) derives the same id and the repository's insert of an
existing id schedules nothing new.

Every command either changes the callback, appends one history entry and records an event, or
raises `CallbackRefused` with the reason and changes nothing. Delivery receipts are facts from the
gateway, not requests: a duplicate, late or foreign receipt changes nothing and returns False.

| command          | allowed in state                           | new state                                  |
|------------------|--------------------------------------------|--------------------------------------------|
| schedule         | —                                          | scheduled, manual (1) or overdue (2)       |
| ready_to_send    | scheduled                                  | (unchanged) (3) or manual past the cutoff  |
| mark_sent        | scheduled                                  | sent                                       |
| send_failed      | scheduled, sent                            | scheduled (retry at backoff) or manual     |
| receipt: ok      | sent (same message id)                     | delivered                                  |
| receipt: failed  | sent (same message id)                     | scheduled (retry) or manual                |
| postpone         | scheduled                                  | scheduled (later `send_at`) or manual      |
| open_manual      | scheduled, sent, delivered                 | manual                                     |
| assign           | any but done, superseded                   | (unchanged): officer/unit filled in        |
| complete         | scheduled, sent, delivered, manual, overdue | done (`late` when now >= due_at)          |
| supersede        | unsolved_7d in scheduled, sent, delivered, manual, overdue | superseded                 |
| check_deadlines  | scheduled, sent, delivered: at the cutoff  | manual                                     |
| check_deadlines  | scheduled, sent, delivered, manual: at due_at | overdue (once: `CallbackOverdue`)       |

(1) no phone, opted out, or no send time left before the cutoff; (2) now >= due_at: a case
that came in too late; (3) a sweep outside the allowed hours moves `send_at` into them.

The party's view and objections (异议): `complete` may carry the party's `level` (the answer to the
callback SMS, or what the officer recorded) and `objection`; a level `dissatisfied` or an objection
opens one, due `objection_within` later, on the callback itself:

| command            | objection in | new objection                                             |
|--------------------|--------------|-----------------------------------------------------------|
| complete           | —            | open (level dissatisfied, or objection recorded), due_at  |
| explain_objection  | open         | explained (outcome accepted) or escalated (still_objects) |
| check_deadlines    | open, at due | escalated (deadline_missed): leadership takes it          |

`reprompt` (sent, delivered; once): the party's answer could not be read, the one re-prompt goes.

Refused besides any command outside its states: completing a done or superseded callback (the
reason says when it was done / which callback replaced it), an unknown channel, a completion
without who did it, superseding a solved_3d callback, mark_sent without a message id.

Times (see `schedule.SendPolicy`): `due_at` is exclusive (done in time iff done before it);
`manual_cutoff_at = due_at - manual_lead` is when SMS gives way to the officer: a callback not
yet done at the cutoff becomes a manual task (人工回访) due at the deadline, whether its SMS was
never sent, never confirmed, or delivered without a reply. A reply to the SMS is recorded by the
service as `complete(channel="sms", reached=True, opinion=<reply text>)`.

`overdue` stays True once flagged, also after a late completion or a supersede: the weekly
figures count the miss. `next_due_at` is the one time a sweep queries (`<= now`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, get_args

from common.domain import Aggregate, HistoryEntry, Refusal, as_utc, require_aware
from notify.domain import events as ev
from notify.domain.deadlines import RULES, Rule
from notify.domain.schedule import SendPolicy

State = Literal["scheduled", "sent", "delivered", "done", "manual", "overdue", "superseded"]
Channel = Literal["phone", "visit", "sms"]
STATES: tuple[State, ...] = get_args(State)
CHANNELS: tuple[Channel, ...] = get_args(Channel)
OPEN_STATES: frozenset[State] = frozenset({"scheduled", "sent", "delivered", "manual", "overdue"})
AWAITING_SMS: frozenset[State] = frozenset({"scheduled", "sent", "delivered"})  # the cutoff still applies
SYSTEM_ACTOR = "system"
CALLBACK_ID_PREFIX = "cb-"
OBJECTION_ID_PREFIX = "ob-"
LEVELS = ("satisfied", "basically", "dissatisfied")
OUTCOMES = ("accepted", "still_objects")
ObjectionState = Literal["open", "explained", "escalated"]
OBJECTION_STATES: tuple[ObjectionState, ...] = get_args(ObjectionState)


def callback_id_for(case_id: str, party_id: str, rule: str) -> str:
    """The deterministic id of a party's callback under a rule: 'cb-' + 24 hex digits."""
    digest = hashlib.sha256("\x1f".join((case_id, party_id, rule)).encode()).hexdigest()
    return CALLBACK_ID_PREFIX + digest[:24]


class CallbackRefused(Refusal):
    """A command the callback does not accept in its present state; the HTTP layer answers 409."""


@dataclass(eq=False)
class Callback(Aggregate):
    callback_id: str
    case_id: str
    party_id: str
    rule: Rule
    party_name: str
    phone: str | None
    officer_id: str | None  # the responsible officer (承办民警); None until the case names one
    unit_id: str | None
    start_at: datetime  # accepted_at or solved_at
    due_at: datetime  # exclusive end of the last day, UTC
    manual_cutoff_at: datetime  # no SMS from here on
    state: State
    send_at: datetime | None = None  # next SMS attempt, while scheduled
    attempts: int = 0  # SMS handed to the gateway
    failures: int = 0  # failed sends since scheduling
    message_id: str | None = None  # the gateway's id of the last SMS sent
    delivered_at: datetime | None = None
    manual_at: datetime | None = None
    manual_reason: str | None = None
    overdue: bool = False
    overdue_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    channel: Channel | None = None
    reached: bool | None = None
    opinion: str = ""
    late: bool = False
    superseded_at: datetime | None = None
    superseded_by: str | None = None
    level: str | None = None  # the party's view, when given (the callback's rating)
    reprompted_at: datetime | None = None
    objection: ObjectionState | None = None
    objection_why: str | None = None  # dissatisfied | recorded
    objection_at: datetime | None = None
    objection_due_at: datetime | None = None
    explained_at: datetime | None = None
    explained_by: str | None = None
    explanation: str = ""
    objection_outcome: str | None = None
    escalated_at: datetime | None = None
    escalation: str | None = None  # still_objects | deadline_missed
    #: the W3C trace context of the use case that scheduled it: its timers continue that trace (`common.tracing`)
    traceparent: str = ""

    refusal: ClassVar[type[Refusal]] = CallbackRefused
    all_states: ClassVar[tuple[str, ...]] = STATES

    # --- commands ---------------------------------------------------------------------------

    @classmethod
    def schedule(
        cls,
        *,
        now: datetime,
        case_id: str,
        party_id: str,
        rule: str,
        start_at: datetime,
        due_at: datetime,
        policy: SendPolicy,
        party_name: str = "",
        phone: str | None = None,
        officer_id: str | None = None,
        unit_id: str | None = None,
        opted_out: bool = False,
    ) -> Callback:
        """A new callback with `due_at` from `deadlines.deadline`: scheduled with its first SMS time,
        manual at once (no phone, opted out, no time left), or overdue at once (now >= due_at)."""
        require_aware(now, start_at, due_at)
        if rule not in RULES:
            raise CallbackRefused(f"unknown callback rule {rule!r}; expected one of {', '.join(RULES)}")
        if due_at <= start_at:
            raise CallbackRefused("a callback's deadline must come after its start")
        callback = cls(
            callback_id=callback_id_for(case_id, party_id, rule),
            case_id=case_id,
            party_id=party_id,
            rule=rule,  # type: ignore[arg-type]
            party_name=party_name,
            phone=phone or None,
            officer_id=officer_id,
            unit_id=unit_id,
            start_at=start_at,
            due_at=due_at,
            manual_cutoff_at=policy.manual_cutoff(due_at),
            state="scheduled",
        )
        manual_reason = None
        if callback.phone is None:
            manual_reason = "the party has no phone number"
        elif opted_out:
            manual_reason = "the party opted out of SMS"
        else:
            callback.send_at = policy.first_send_at(now, due_at)
            if callback.send_at is None:
                manual_reason = "no SMS time left before the manual cutoff"
        callback._record(now=now, actor=SYSTEM_ACTOR, action="schedule", from_state=None, note=rule)
        callback.events.append(
            ev.CallbackScheduled(
                **callback._ids(now),
                rule=rule,
                due_at=due_at,
                send_at=callback.send_at,
                officer_id=officer_id,
                unit_id=unit_id,
            )
        )
        if now >= due_at:
            callback._go_overdue(now)
        elif manual_reason is not None:
            callback._go_manual(now, manual_reason)
        return callback

    def ready_to_send(self, now: datetime, policy: SendPolicy) -> bool:
        """True when the SMS may go now. A sweep that comes outside the allowed hours moves `send_at`
        to the next allowed time (or past the cutoff: manual) and answers False."""
        self._allow("send", now, {"scheduled"})
        if self.send_at is None or now < self.send_at:
            return False
        if policy.is_allowed(now) and now < self.manual_cutoff_at:
            return True
        self._move_send(now, policy.send_at_or_after(now, self.due_at), "outside the allowed hours")
        return False

    def mark_sent(self, *, now: datetime, message_id: str) -> None:
        """The gateway accepted the SMS under `message_id`; the receipt will name it."""
        self._allow("mark_sent", now, {"scheduled"})
        if not message_id.strip():
            raise CallbackRefused("a sent SMS needs the gateway's message id")
        self.state, self.message_id, self.send_at = "sent", message_id, None
        self.attempts += 1
        self._record(now=now, actor=SYSTEM_ACTOR, action="sent", from_state="scheduled", note=message_id)
        self.events.append(ev.CallbackSent(**self._ids(now), message_id=message_id, attempt=self.attempts))

    def send_failed(self, *, now: datetime, reason: str, policy: SendPolicy) -> None:
        """The gateway refused the SMS (or its receipt said failed): retry with backoff, or manual."""
        self._allow("send_failed", now, {"scheduled", "sent"})
        self.failures += 1
        retry_at = policy.retry_at(now, self.failures, self.due_at)
        self.events.append(
            ev.CallbackSendFailed(**self._ids(now), reason=reason, failures=self.failures, retry_at=retry_at)
        )
        previous = self.state
        if retry_at is None:
            self._go_manual(now, f"SMS not delivered after {self.failures} attempt(s): {reason}")
            return
        self.state, self.send_at = "scheduled", retry_at
        self._record(now=now, actor=SYSTEM_ACTOR, action="retry", from_state=previous, note=reason)

    def delivery_receipt(
        self, *, now: datetime, message_id: str, delivered: bool, reason: str = "", policy: SendPolicy
    ) -> bool:
        """A delivery receipt for `message_id`. Applied only to the SMS in flight (state sent, same
        id); any other receipt is stale or doubled and changes nothing (returns False)."""
        require_aware(now)
        if self.state != "sent" or message_id != self.message_id:
            return False
        if not delivered:
            self.send_failed(now=now, reason=reason or "delivery failed", policy=policy)
            return True
        self.state, self.delivered_at = "delivered", now
        self._record(now=now, actor=SYSTEM_ACTOR, action="delivered", from_state="sent", note=message_id)
        self.events.append(ev.CallbackDelivered(**self._ids(now), message_id=message_id))
        return True

    def postpone(self, *, now: datetime, until: datetime, reason: str, policy: SendPolicy) -> None:
        """Send later (the phone reached its daily limit): at the first allowed time from `until`,
        or manual when that is past the cutoff."""
        self._allow("postpone", now, {"scheduled"})
        require_aware(until)
        self._move_send(now, policy.send_at_or_after(max(now, until), self.due_at), reason)

    def open_manual(self, *, now: datetime, reason: str) -> None:
        """Hand the callback to the responsible officer (e.g. the party opted out of SMS)."""
        self._allow("open_manual", now, AWAITING_SMS)
        if not reason.strip():
            raise CallbackRefused("opening a manual callback needs a reason")
        self._go_manual(now, reason)

    def assign(self, *, now: datetime, officer_id: str, unit_id: str | None) -> None:
        """Name the responsible officer (a `cases.accepted` that came after its `cases.solved`)."""
        self._allow("assign", now, OPEN_STATES)
        if not officer_id.strip():
            raise CallbackRefused("assigning a callback needs an officer id")
        self.officer_id, self.unit_id = officer_id, unit_id
        self._record(now=now, actor=SYSTEM_ACTOR, action="assign", from_state=self.state, note=officer_id)

    def complete(self, *, now: datetime, channel: str, reached: bool, opinion: str = "", completed_by: str,
                 level: str | None = None, objection: bool = False, objection_within: timedelta | None = None) -> None:
        """The callback was made (回访): by phone, visit or SMS reply; `reached` whether the party
        was reached; `opinion` the party's words; `level` the party's view when given. Late (still
        recorded) when now >= due_at. A dissatisfied level or an objection opens an objection due
        `objection_within` later."""
        require_aware(now)
        if level is not None and level not in LEVELS:
            raise CallbackRefused(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
        if level is not None and not reached:
            raise CallbackRefused("a party not reached gave no level")
        if (objection or level == "dissatisfied") and objection_within is None:
            raise CallbackRefused("an objection needs its time to explain (objection_within)")
        if self.state == "done":
            raise CallbackRefused(
                f"callback {self.callback_id} was already done at {self.completed_at} by {self.completed_by}"
            )
        if self.state == "superseded":
            raise CallbackRefused(
                f"callback {self.callback_id} was superseded by {self.superseded_by} when the case was solved;"
                " record the callback there"
            )
        if channel not in CHANNELS:
            raise CallbackRefused(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
        if not completed_by.strip():
            raise CallbackRefused("a completed callback needs who made it")
        previous = self.state
        self.state, self.completed_at, self.completed_by = "done", now, completed_by
        self.channel, self.reached, self.opinion = channel, reached, opinion  # type: ignore[assignment]
        self.late, self.send_at, self.level = now >= self.due_at, None, level
        self._record(now=now, actor=completed_by, action="complete", from_state=previous, note=opinion)
        objects = objection or level == "dissatisfied"
        self.events.append(
            ev.CallbackCompleted(
                **self._ids(now),
                rule=self.rule,
                channel=channel,
                reached=reached,
                opinion=opinion,
                completed_by=completed_by,
                late=self.late,
                officer_id=self.officer_id,
                unit_id=self.unit_id,
                level=level,
                objection=objects,
            )
        )
        if objects:
            assert objection_within is not None
            self._open_objection(now, "dissatisfied" if level == "dissatisfied" else "recorded", opinion,
                                 now + objection_within)

    def reprompt(self, *, now: datetime) -> None:
        """The party's answer could not be read: the one re-prompt asks again (same question)."""
        self._allow("reprompt", now, {"sent", "delivered"})
        if self.reprompted_at is not None:
            raise CallbackRefused(f"callback {self.callback_id} was re-prompted at {self.reprompted_at} already")
        self.reprompted_at = now
        message_id = f"{self.callback_id}.r"
        self._record(now=now, actor=SYSTEM_ACTOR, action="reprompt", from_state=self.state, note=message_id)
        self.events.append(ev.CallbackReprompted(**self._ids(now), message_id=message_id))

    def explain_objection(self, *, now: datetime, by: str, how: str, outcome: str,
                          explained_at: datetime | None = None) -> None:
        """The officer explained (说理): `how`, and whether the party accepted it; still objecting hands it
        to leadership."""
        require_aware(now)
        if self.objection != "open":
            raise CallbackRefused(f"objection {self.objection_id} is {self.objection or 'not opened'}: "
                                  "only an open one is explained")
        if outcome not in OUTCOMES:
            raise CallbackRefused(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        if not by.strip() or not how.strip():
            raise CallbackRefused("an explanation needs who gave it and how")
        when = explained_at or now
        require_aware(when)
        if when > now:
            raise CallbackRefused("an explanation cannot be given in the future")
        self.objection, self.explained_at, self.explained_by = "explained", when, by
        self.explanation, self.objection_outcome = how, outcome
        self._record(now=now, actor=by, action="explain", from_state=self.state, note=outcome)
        self.events.append(ev.ObjectionExplained(**self._objection_ids(now), explained_by=by, explained_at=when,
                                                 how=how, outcome=outcome))
        if outcome == "still_objects":
            self._escalate(now, "still_objects")

    def supersede(self, *, now: datetime, superseded_by: str) -> None:
        """The case was solved: this open 7-day callback gives way to the party's 3-day one."""
        if self.rule != "unsolved_7d":
            raise CallbackRefused(f"only a 7-day callback is superseded; {self.callback_id} is {self.rule}")
        self._allow("supersede", now, OPEN_STATES)
        previous = self.state
        self.state, self.superseded_at, self.superseded_by, self.send_at = "superseded", now, superseded_by, None
        self._record(now=now, actor=SYSTEM_ACTOR, action="supersede", from_state=previous, note=superseded_by)
        self.events.append(ev.CallbackSuperseded(**self._ids(now), superseded_by=superseded_by))

    def check_deadlines(self, now: datetime) -> list[ev.CallbackEvent]:
        """The deadline events newly due at `now`, each returned (and recorded) once: manual at the
        cutoff, overdue at the deadline."""
        require_aware(now)
        before = len(self.events)
        if self.state in AWAITING_SMS and self.manual_cutoff_at <= now < self.due_at:
            self._go_manual(now, self._cutoff_reason())
        if self.state in AWAITING_SMS | {"manual"} and now >= self.due_at:
            self._go_overdue(now)
        if self.objection == "open" and self.objection_due_at is not None and now >= self.objection_due_at:
            self._escalate(now, "deadline_missed")
        return self.events[before:]

    # --- queries ----------------------------------------------------------------------------

    @property
    def ident(self) -> str:
        return self.callback_id

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def objection_id(self) -> str:
        return OBJECTION_ID_PREFIX + self.callback_id.removeprefix(CALLBACK_ID_PREFIX)

    @property
    def next_due_at(self) -> datetime | None:
        """The earliest time a sweep must look at this callback (send, cutoff, deadline); None when
        nothing is left to fire."""
        if self.state == "scheduled" and self.send_at is not None:
            return min(self.send_at, self.manual_cutoff_at)
        if self.state in AWAITING_SMS:
            return self.manual_cutoff_at
        if self.state == "manual":
            return self.due_at
        if self.objection == "open":
            return self.objection_due_at
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the store (datetimes stay datetimes); `next_due_at` is derived, for the sweep."""
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "events"}
        doc["history"] = [dict(vars(entry)) for entry in self.history]  # flat: no deep copy (asdict's) needed
        doc["next_due_at"] = self.next_due_at
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Callback:
        """The inverse of `to_dict`; other keys (`_id`, `outbox`, `next_due_at`) are ignored and naive
        datetimes, as a Mongo client returns them, are read as UTC."""
        values = {f.name: doc[f.name] for f in fields(cls) if f.name != "events" and f.name in doc}
        for name in _DATETIME_FIELDS:
            if name in values:  # a field added later is absent from older documents: its default
                values[name] = as_utc(values[name])
        values["history"] = [HistoryEntry(**{**entry, "at": as_utc(entry["at"])}) for entry in doc["history"]]
        return cls(**values)

    # --- internals --------------------------------------------------------------------------

    def _ids(self, now: datetime) -> dict[str, Any]:
        return {"callback_id": self.callback_id, "case_id": self.case_id, "party_id": self.party_id, "at": now}

    def _cutoff_reason(self) -> str:
        if self.state == "delivered":
            return "SMS delivered, no reply before the manual cutoff"
        if self.state == "sent":
            return "no delivery receipt before the manual cutoff"
        return "SMS not sent before the manual cutoff"

    def _move_send(self, now: datetime, send_at: datetime | None, reason: str) -> None:
        if send_at is None:
            self._go_manual(now, f"{reason}; no SMS time left before the manual cutoff")
            return
        self.send_at = send_at
        self._record(now=now, actor=SYSTEM_ACTOR, action="postpone", from_state=self.state, note=reason)

    def _objection_ids(self, now: datetime) -> dict[str, Any]:
        return {"objection_id": self.objection_id, "callback_id": self.callback_id, "case_id": self.case_id,
                "officer_id": self.officer_id, "unit_id": self.unit_id, "at": now}

    def _open_objection(self, now: datetime, why: str, comment: str, due_at: datetime) -> None:
        self.objection, self.objection_why, self.objection_at, self.objection_due_at = "open", why, now, due_at
        self._record(now=now, actor=SYSTEM_ACTOR, action="objection", from_state=self.state, note=why)
        self.events.append(ev.ObjectionOpened(**self._objection_ids(now), party_id=self.party_id, why=why,
                                              comment=comment, due_at=due_at))

    def _escalate(self, now: datetime, why: str) -> None:
        self.objection, self.escalated_at, self.escalation = "escalated", now, why
        self._record(now=now, actor=SYSTEM_ACTOR, action="escalate", from_state=self.state, note=why)
        self.events.append(ev.ObjectionEscalated(**self._objection_ids(now), why=why, comment=self.opinion))

    def _go_manual(self, now: datetime, reason: str) -> None:
        previous = self.state
        self.state, self.send_at, self.manual_at, self.manual_reason = "manual", None, now, reason
        self._record(now=now, actor=SYSTEM_ACTOR, action="manual", from_state=previous, note=reason)
        self.events.append(
            ev.CallbackManual(
                **self._ids(now), reason=reason, due_at=self.due_at, officer_id=self.officer_id, unit_id=self.unit_id
            )
        )

    def _go_overdue(self, now: datetime) -> None:
        previous = self.state
        self.state, self.send_at, self.overdue, self.overdue_at = "overdue", None, True, now
        self._record(now=now, actor=SYSTEM_ACTOR, action="overdue", from_state=previous)
        self.events.append(
            ev.CallbackOverdue(
                **self._ids(now), rule=self.rule, due_at=self.due_at, officer_id=self.officer_id, unit_id=self.unit_id
            )
        )


_DATETIME_FIELDS = (
    "start_at",
    "due_at",
    "manual_cutoff_at",
    "send_at",
    "delivered_at",
    "manual_at",
    "overdue_at",
    "completed_at",
    "superseded_at",
    "reprompted_at",
    "objection_at",
    "objection_due_at",
    "explained_at",
    "escalated_at",
)
