"""The rules of asking a citizen: who is surveyed, when, with which id, code and text.

- One survey per (subject, phone): `survey_id` is derived from subject_type, subject_id and the
  phone (normalised, so +86 138… and 138… are one phone); a repeated or late event derives the
  same id and the store's unique id refuses the second.
- `suppression` says why a survey is not sent (checked in this order): the phone opted out
  (TD / 退订, for good); the event is older than `stale_after` (default 7 days: nobody remembers
  a contact of last month); the phone was surveyed, for another subject, less than `cooldown`
  (default 24 h) before this survey would go out.
- `send_time`: the first moment at or after `due` inside the allowed hours (default 08:00
  inclusive to 21:00 exclusive, station zone): due 22:30 goes at 08:00 next morning, due 07:59
  at 08:00 the same day, due 21:00 sharp at 08:00 next day.
- A sent survey expires `expires_after` (default 72 h) after sending.
- `short_code` (`common.replies`, shared with notify's callback questions): derived from the survey id.
- `survey_text` / `reprompt_text`: the SMS, at most SMS_MAX_CHARS characters (two 70-character
  segments; the name is shortened with … to fit).
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from common.replies import SHORT_CODE_LENGTH as SHORT_CODE_LENGTH
from common.replies import short_code as short_code

SubjectType = Literal["alert", "service", "callback"]
SUBJECT_TYPES: tuple[SubjectType, ...] = get_args(SubjectType)
SUBJECT_LABELS: dict[str, str] = {"alert": "处警", "service": "窗口服务", "callback": "案件回访"}
Suppression = Literal["opted_out", "stale", "cooldown"]
SMS_MAX_CHARS = 134  # two concatenated segments of 67 UCS-2 characters


@dataclass(frozen=True)
class SurveyPolicy:
    zone: ZoneInfo = ZoneInfo("Asia/Shanghai")
    send_from: time = time(8, 0)  # inclusive, station zone
    send_until: time = time(21, 0)  # exclusive
    cooldown: timedelta = timedelta(hours=24)
    expires_after: timedelta = timedelta(hours=72)
    stale_after: timedelta = timedelta(days=7)
    followup_within: timedelta = timedelta(days=3)

    def __post_init__(self) -> None:
        if not self.send_from < self.send_until:
            raise ValueError("send_from must be before send_until (a window within one day)")
        for name in ("cooldown", "expires_after", "stale_after", "followup_within"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"{name} must not be negative")


DEFAULT_POLICY = SurveyPolicy()


def normalize_phone(phone: str) -> str:
    """Digits only, full-width too, without the +86 / 0086 prefix of a mainland number."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", phone) if ch in "0123456789")
    if digits.startswith("0086"):
        return digits[4:]
    if digits.startswith("86") and len(digits) == 13:
        return digits[2:]
    return digits


def survey_id(subject_type: str, subject_id: str, phone: str) -> str:
    """'sv-' and 24 hex digits; the phone does not show in it."""
    if subject_type not in SUBJECT_TYPES:
        raise ValueError(f"unknown subject_type {subject_type!r}; expected one of {', '.join(SUBJECT_TYPES)}")
    if not subject_id or not normalize_phone(phone):
        raise ValueError("a survey needs a subject_id and a phone with digits")
    key = "\x1f".join((subject_type, subject_id, normalize_phone(phone)))
    return "sv-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def send_time(due: datetime, policy: SurveyPolicy = DEFAULT_POLICY) -> datetime:
    """The first moment at or after `due` inside the allowed hours, in the zone of `due`."""
    require_aware(due)
    local = due.astimezone(policy.zone)
    if local.time() < policy.send_from:
        start = datetime.combine(local.date(), policy.send_from, policy.zone)
    elif local.time() >= policy.send_until:
        start = datetime.combine(local.date() + timedelta(days=1), policy.send_from, policy.zone)
    else:
        return due
    return start.astimezone(due.tzinfo)


def suppression(
    *,
    requested_at: datetime,
    send_at: datetime,
    opted_out: bool,
    last_surveyed_at: datetime | None,
    policy: SurveyPolicy = DEFAULT_POLICY,
) -> Suppression | None:
    """Why this survey is not sent, or None. `last_surveyed_at`: when the phone's latest survey for
    another subject went (or will go) out; `send_at`: when this one would."""
    require_aware(requested_at)
    require_aware(send_at)
    if opted_out:
        return "opted_out"
    if send_at - requested_at > policy.stale_after:
        return "stale"
    if last_surveyed_at is not None and abs(send_at - last_surveyed_at) < policy.cooldown:
        return "cooldown"
    return None


def survey_text(*, station: str, named: str, subject_type: str, code: str) -> str:
    """The survey SMS. `named`: the officer or unit as the citizen knows them (民警张三, 枫亭警务室)."""
    label = SUBJECT_LABELS.get(subject_type, "服务")
    template = (
        "【{station}】您好！请您对{named}本次{label}进行评价，回复数字：1满意，2基本满意，3不满意，"
        "欢迎附上意见建议。评价码{code}。回TD退订"
    )
    return _fit(template, station=station, named=named, label=label, code=code)


def reprompt_text(*, station: str, code: str) -> str:
    """The one re-prompt after a reply we could not read."""
    template = (
        "【{station}】抱歉，未能识别您的回复。请只回复数字：1满意，2基本满意，3不满意（可附意见）。"
        "评价码{code}。回TD退订"
    )
    return _fit(template, station=station, named="", label="", code=code)


def _fit(template: str, **fields: str) -> str:
    text = template.format(**fields)
    over = len(text) - SMS_MAX_CHARS
    if over > 0:
        named = fields["named"]
        fields["named"] = named[: max(len(named) - over - 1, 0)] + "…" if named else ""
        text = template.format(**fields)
    if len(text) > SMS_MAX_CHARS:
        raise ValueError(f"the survey text is longer than {SMS_MAX_CHARS} characters: shorten the station name")
    return text


def require_aware(when: datetime) -> None:
    if when.tzinfo is None:
        raise ValueError("the rating rules need timezone-aware datetimes")
