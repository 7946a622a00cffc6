"""The callback SMS a station sends (回访短信), and how many SMS parts a text takes.

7-day (unsolved_7d), progress::

    【枫亭派出所】王某您好，您所涉案件（编号A2026-0042）正在办理中。承办民警张伟，联系电话0594-7651234。
    对我们的工作请回复：1满意 2基本满意 3不满意，也可直接回复意见。回复TD退订

3-day (solved_3d), result: the same with "已办结" and "请对办理结果评价".

A Chinese SMS is UCS-2: one part holds 70 characters, a concatenated (long) SMS 67 per part, and
the operator bills each part. `sms_parts` counts UTF-16 code units, so a character outside the
BMP counts twice; a text of only GSM-7 basic characters takes 160 / 153 per part. The callback
text stays within `MAX_PARTS` (3 parts, 201 units) for any case id the contract allows (64
characters of the BMP; ids outside it are not the station's alphabet): a party's or officer's
name longer than `MAX_NAME_CHARS` is left out rather than cut, and station settings longer
than their bounds are refused by `StationContact`.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

from notify.domain.deadlines import Rule

UCS2_SINGLE, UCS2_PART = 70, 67
GSM7_SINGLE, GSM7_PART = 160, 153
MAX_PARTS = 3
MAX_NAME_CHARS = 6  # longer names (or ones from a bad import) are left out, not cut
MAX_STATION_NAME_CHARS = 12
MAX_PHONE_CHARS = 16
REPLY_HINT = "回复：1满意 2基本满意 3不满意，也可直接回复意见。回复TD退订"
#: the question's code, when the SMS carries one: a reply naming it goes to this callback
CODE_HINT = "回访码{code}。"
_PROGRESS: dict[Rule, tuple[str, str]] = {
    "unsolved_7d": ("正在办理中", "对我们的工作请"),
    "solved_3d": ("已办结", "请对办理结果评价，"),
}
_GSM7_BASIC = frozenset(string.ascii_letters + string.digits + " \n\r!\"#%&'()*+,-./:;<=>?@_$")


@dataclass(frozen=True)
class StationContact:
    """Station settings for the SMS: its name (the signature, e.g. 枫亭派出所) and duty phone."""

    name: str
    phone: str

    def __post_init__(self) -> None:
        if not 0 < len(self.name.strip()) <= MAX_STATION_NAME_CHARS:
            raise ValueError(f"the station name must have 1 to {MAX_STATION_NAME_CHARS} characters")
        if not 0 < len(self.phone.strip()) <= MAX_PHONE_CHARS:
            raise ValueError(f"the station phone must have 1 to {MAX_PHONE_CHARS} characters")


def callback_text(
    rule: Rule,
    *,
    case_id: str,
    station: StationContact,
    party_name: str = "",
    officer_name: str = "",
    officer_phone: str = "",
    code: str = "",
) -> str:
    """The callback SMS for `rule`. The contact number is the officer's when given (and short
    enough), else the station's; `code` the question's short code."""
    if rule not in _PROGRESS:
        raise ValueError(f"no callback text for rule {rule!r}")
    progress, ask = _PROGRESS[rule]
    greeting = f"{_short(party_name)}您好，"
    officer = f"承办民警{_short(officer_name)}，" if _short(officer_name) else ""
    phone = officer_phone.strip() if 0 < len(officer_phone.strip()) <= MAX_PHONE_CHARS else station.phone.strip()
    return (
        f"【{station.name.strip()}】{greeting}您所涉案件（编号{case_id}）{progress}。"
        f"{officer}联系电话{phone}。{ask}{REPLY_HINT}{CODE_HINT.format(code=code) if code else ''}"
    )


def reprompt_text(*, station: StationContact, code: str) -> str:
    """The one re-prompt after an answer that could not be read (it named two levels, or none)."""
    return (f"【{station.name.strip()}】抱歉，未能识别您的回复。请回复数字：1满意 2基本满意 3不满意（可附意见）。"
            f"{CODE_HINT.format(code=code)}回复TD退订")


def sms_parts(text: str) -> int:
    """How many SMS parts `text` is sent as (0 for an empty text)."""
    if not text:
        return 0
    if all(char in _GSM7_BASIC for char in text):
        single, part, units = GSM7_SINGLE, GSM7_PART, len(text)
    else:
        single, part, units = UCS2_SINGLE, UCS2_PART, len(text.encode("utf-16-le")) // 2
    return 1 if units <= single else math.ceil(units / part)


def _short(name: str) -> str:
    name = name.strip()
    return name if len(name) <= MAX_NAME_CHARS else ""
