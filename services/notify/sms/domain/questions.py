"""Questions the station's SMS ask, and which one an inbound SMS answers: the gateway's pure rules.

An `sms.send` that expects an answer carries its question (owner, kind, subject, short code, expiry).
The gateway keeps one `Question` per (owner, question_id); a later SMS with the same question (a
re-prompt) asks it again. Each inbound SMS is matched once, to one open question of its phone:

1. the open questions carrying a code the reply names (a token of letters and digits equal to the
   code, any case: "3 a7k2" names A7K2), the newest of them;
2. else the newest open question to that phone;
3. else none: a stray, kept and listed.

A question is open from when it is asked until it is answered or expires; the first answer takes it
(`take`), and asking it again (a new sms_id) opens it for one more answer. Newest: the latest
`asked_at`, then the id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from notify.sms.domain.messages import Stored

_TOKEN = re.compile(r"[0-9A-Za-z]+")
#: how many sms_ids one question remembers (a re-prompt adds one; a bound keeps the document small)
MAX_ASKED = 10


def question_key(owner: str, question_id: str) -> str:
    """The store id: owners choose their ids, so the owner is part of it."""
    return f"{owner}:{question_id}"


@dataclass
class Question(Stored):
    key: str
    question_id: str
    owner: str
    kind: str
    subject_id: str
    phone: str
    code: str
    asked_at: datetime
    expires_at: datetime
    #: the sms_ids that asked it (a redelivered `sms.send` does not ask again)
    asked_by: list[str] = field(default_factory=list)
    answered_by: str | None = None
    answered_at: datetime | None = None
    #: the W3C trace context of the send that last asked it: its answer, a new request, continues that trace
    traceparent: str = ""
    version: int = 0
    events: list[str] = field(default_factory=list)

    @classmethod
    def asked(cls, *, owner: str, question_id: str, kind: str, subject_id: str, phone: str, code: str,
              sms_id: str, asked_at: datetime, expires_at: datetime, traceparent: str = "") -> Question:
        return cls(key=question_key(owner, question_id), question_id=question_id, owner=owner, kind=kind,
                   subject_id=subject_id, phone=phone, code=code.upper(), asked_at=asked_at, expires_at=expires_at,
                   asked_by=[sms_id], traceparent=traceparent)

    def ask_again(self, *, sms_id: str, asked_at: datetime, expires_at: datetime, traceparent: str = "") -> bool:
        """A new SMS asks it (a re-prompt): open for one more answer. False for an sms_id seen before."""
        if sms_id in self.asked_by:
            return False
        self.traceparent = traceparent or self.traceparent
        self.asked_by = [*self.asked_by, sms_id][-MAX_ASKED:]
        self.asked_at = max(self.asked_at, asked_at)
        self.expires_at = max(self.expires_at, expires_at)
        self.answered_by = None
        self.answered_at = None
        return True

    def is_open(self, now: datetime) -> bool:
        return self.answered_by is None and self.asked_at <= now < self.expires_at

    def take(self, inbound_id: str, now: datetime) -> bool:
        """The answer `inbound_id` takes the question; True also when it took it before (a retry)."""
        if self.answered_by == inbound_id:
            return True
        if not self.is_open(now):
            return False
        self.answered_by = inbound_id
        self.answered_at = now
        return True


@dataclass(frozen=True)
class Match:
    question: Question
    by: Literal["code", "latest"]


def codes_named(text: str) -> set[str]:
    """The tokens of a reply that could be a code, upper case."""
    return {token.upper() for token in _TOKEN.findall(text)}


def choose(questions: Iterable[Question], text: str, now: datetime, inbound_id: str = "") -> Match | None:
    """The question an inbound SMS answers (see the module docstring), or None: a stray.

    A question this very reply took already (the gateway retried its request) is the match again."""
    questions = list(questions)
    for question in questions:
        if inbound_id and question.answered_by == inbound_id:
            return Match(question, "code" if question.code in codes_named(text) else "latest")
    candidates = [q for q in questions if q.is_open(now)]
    if not candidates:
        return None
    named = codes_named(text)
    coded = [q for q in candidates if q.code in named]
    if coded:
        return Match(_newest(coded), "code")
    return Match(_newest(candidates), "latest")


def _newest(questions: list[Question]) -> Question:
    return max(questions, key=lambda q: (q.asked_at, q.key))
