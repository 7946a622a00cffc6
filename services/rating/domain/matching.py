"""Which survey an SMS reply answers, from the phone's surveys the store returns.

`route_reply(reply, surveys, now=...)`, `surveys` being the sending phone's surveys that may take
a reply (scheduled, sent, reprompted, or answered and not yet past `expires_at`):

- an opt-out → `opt_out`: every scheduled or open survey of the phone stops (`Survey.opt_out`);
  the service also stores the phone's opt-out for good, survey or not;
- no survey takes replies (none sent, all expired) → `ignore`: the caller counts it and drops it;
- a short code in the reply that is one of the candidates' → that survey (the most recent if two
  share it);
- else the most recent open survey (sent or reprompted), by `sent_at` then id; none open → the most
  recent answered one, where `Survey.receive` keeps the reply as a comment (first valid reply counts).

A code that matches none of the phone's surveys is ignored as a code; the reply goes by the rules
above. Unreadable replies are routed the same way; `Survey.receive` decides re-prompt or comment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rating.domain.model import OPEN_SURVEY_STATES, Survey
from rating.domain.reply import Reply
from rating.domain.surveys import require_aware


@dataclass(frozen=True)
class Route:
    action: Literal["answer", "opt_out", "ignore"]
    survey: Survey | None = None  # for answer
    opted_out: tuple[Survey, ...] = ()  # for opt_out: the surveys to stop
    reason: str = ""


def route_reply(reply: Reply, surveys: Iterable[Survey], *, now: datetime) -> Route:
    require_aware(now)
    surveys = list(surveys)
    if reply.kind == "opt_out":
        stopping = tuple(s for s in surveys if s.state == "scheduled" or s.state in OPEN_SURVEY_STATES)
        return Route("opt_out", opted_out=stopping, reason="TD / 退订")
    candidates = [s for s in surveys if s.accepts_replies and s.expires_at is not None and now < s.expires_at]
    if not candidates:
        return Route("ignore", reason="no open survey for this phone")
    coded = [s for s in candidates if s.code in reply.codes]
    if coded:
        return Route("answer", _latest(coded), reason="short code")
    open_ones = [s for s in candidates if s.state in OPEN_SURVEY_STATES]
    if open_ones:
        return Route("answer", _latest(open_ones), reason="most recent open survey")
    return Route("answer", _latest(candidates), reason="already answered: kept as a comment")


def _latest(surveys: list[Survey]) -> Survey:
    return max(surveys, key=lambda s: (s.sent_at, s.survey_id))
