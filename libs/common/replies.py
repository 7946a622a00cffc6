"""Reading a citizen's SMS answer to the station's question (a survey, a callback): a level, an opt-out,
or nothing we may guess. One parser for every owner of a question: notify reads the level of a
callback's answer with it, rating the level of a survey's; both must read "1 不满意" the same way.
Pure: the standard library only. The short code a question's SMS carries is made here too.

`parse_reply(text)` takes the reply as the gateway gave it (str, or bytes decoded here as UTF-8
with errors="replace", so invalid bytes become U+FFFD; an adapter that knows the charset, UCS-2
or GBK, decodes first and passes a str) and returns a `Reply`. It never raises and its cost is
bounded: only the first RAW_MAX_CHARS characters (RAW_MAX_BYTES bytes) are read, the text kept
is cut to COMMENT_MAX_CHARS, and level words are looked for in the first SCAN_MAX_CHARS of it.

The text is first cleaned: NFKC (full-width digits and letters to ASCII, ① to 1), control
characters to spaces, lone surrogates to U+FFFD, format characters dropped (the emoji joiner
kept), white space collapsed to single spaces. Then, in this order, the first rule that applies:

| rule | reply                                                    | result                           |
|------|----------------------------------------------------------|----------------------------------|
| 1    | a token TD (any case, full-width), or 退订 / 取消订阅    | opt_out; a level beside it is not read |
| 2    | tokens shaped like a short code (A7K2, a7k2, AB2)        | in `codes`, removed before rule 3 |
| 3    | leading 1 / 2 / 3, maybe after 回复 / 选 / 评价 ...      | that level, whatever follows     |
| 3a   | ... followed by another lone digit ("1 3", "1,3", "1.5") | unreadable: two choices          |
| 3d   | ... then words of another level ("1 不满意", "3 满意") | unreadable: contradiction        |
| 3b   | leading number other than 1 / 2 / 3 ("13", "5", "0")     | unreadable: not a choice         |
| 3c   | leading number followed by a unit (个 天 小时 ...)       | not a choice: "2个小时才到" is read on by rule 5 |
| 4    | the whole reply 一 / 二 / 三, or pinyin manyi / jibenmanyi / bumanyi | that level           |
| 5    | level words (`_WORDS`), all of one level                 | that level                       |
| 5a   | words of two levels ("满意…不满意")                      | unreadable: mixed, no guess      |
| 5b   | a double negation ("没有不满意", "不是不满意")           | unreadable: no guess             |
| 6    | anything else: empty, "ok", "好", other emoji, "?"       | unreadable                       |

Short-code shape: a letter, one or two of CODE_ALPHABET, a digit 2–9 (see `surveys.short_code`).

Words, read on the text without white space ("不 满意" is "不满意") and with the traditional
forms of the vocabulary mapped to simplified (滿意 is 满意):
- satisfied: 满意 (so 很满意, 非常满意, 满意满意), 好评, 点赞, 不错, 很好, 挺好, 👍
- basically: 基本满意, 基本上满意, 比较满意, 还算满意, 一般, 还行, 还可以, 还好, 凑合, 马马虎虎, 差不多, 过得去
  (the middle of the station's three answers is where "so-so" goes)
- dissatisfied: a negation before 满意 with at most three degree words between (不满意, 很不满意,
  不太满意, 不怎么满意, 不是很满意, 并不满意, 没有很满意), 不好, 不太好, 差评, 差劲, 很差, 太差, 态度差, 垃圾, 👎
  ("not very satisfied" is not satisfied, and the scale has no fourth answer)
The scan is leftmost-first, so the 满意 inside 不满意 or 基本满意 is never read on its own.

`Reply.text` is the cleaned reply (what is kept when a reply is only a comment); `Reply.comment`
is the text without the leading digit that chose the level and without code tokens, and empty
when what is left is only the level's own label and punctuation ("满意", "1。", "2基本满意", "满意满意");
"3 态度差" keeps "态度差", "非常满意" keeps "非常满意". Line breaks become spaces.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

#: the three answers, in the order of every question's text: 1 满意, 2 基本满意, 3 不满意
Level = Literal["satisfied", "basically", "dissatisfied"]
LEVEL_BY_DIGIT: dict[str, Level] = {"1": "satisfied", "2": "basically", "3": "dissatisfied"}
LEVEL_LABELS: dict[Level, str] = {"satisfied": "满意", "basically": "基本满意", "dissatisfied": "不满意"}

ReplyKind = Literal["rating", "unreadable", "opt_out"]

COMMENT_MAX_CHARS = 500  # what is kept of a reply; longer texts are cut
RAW_MAX_CHARS = 2 * COMMENT_MAX_CHARS  # read before cleaning (room for collapsed white space)
RAW_MAX_BYTES = 4 * RAW_MAX_CHARS  # one UTF-8 character is at most 4 bytes
SCAN_MAX_CHARS = 120  # level words further into the reply are not read
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: nothing to misread
SHORT_CODE_LENGTH = 4
_LETTERS = "".join(ch for ch in CODE_ALPHABET if ch.isalpha())
_DIGITS = "".join(ch for ch in CODE_ALPHABET if ch.isdigit())


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    level: Level | None  # set only when kind == "rating"
    comment: str
    text: str  # the cleaned reply, at most COMMENT_MAX_CHARS
    codes: tuple[str, ...] = ()  # short-code candidates, upper case, in order of appearance
    reason: str = ""  # why unreadable, or what decided: for logs and the re-prompt decision
    truncated: bool = False  # the reply was longer than what was kept

    @property
    def readable(self) -> bool:
        return self.kind == "rating"


_TRADITIONAL = str.maketrans(
    {"滿": "满", "態": "态", "還": "还", "沒": "没", "並": "并", "較": "较", "夠": "够", "麼": "么", "錯": "错"}
    | {"評": "评", "訂": "订", "點": "点", "讚": "赞", "馬": "马", "湊": "凑", "過": "过", "這": "这", "選": "选"}
    | {"擇": "择", "復": "复", "覆": "复", "勁": "劲", "極": "极", "無": "无"}
)
_DEGREE = "太很大怎么够是有十分特别非常算那"  # words that may stand between a negation and 满意
_WORD_GROUPS = (
    ("neutral", r"不好意思|满意度|满不满意|是否满意"),  # look like a level, are none
    ("double", r"(?:没有|没|不是|并非|并不是|并没有|无|谈不上)不[太很怎么是]{0,3}满意"),
    (
        "basically",
        r"基本上?(?:还算|还|算)?满意|比较满意|还算满意|较为?满意|一般般?|还行|还可以|还好|凑合|马马虎虎|差不多|过得去",
    ),
    (
        "dissatisfied",
        rf"(?:不|没|未|毫不|并不|并非)[{_DEGREE}]{{0,3}}满意|不太好|不是很好|不好|差评|差劲|很差|太差|极差|态度差|垃圾|👎",
    ),
    ("satisfied", r"满意|好评|点赞|不错|很好|挺好|👍"),
)
_WORDS = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _WORD_GROUPS))
_WHOLE = {"一": "satisfied", "二": "basically", "三": "dissatisfied"}
_PINYIN: dict[str, Level] = {
    "manyi": "satisfied",
    "henmanyi": "satisfied",
    "feichangmanyi": "satisfied",
    "jibenmanyi": "basically",
    "bumanyi": "dissatisfied",
}
_OPT_OUT_WORDS = ("退订", "取消订阅")
_TD = re.compile(r"(?<![0-9A-Za-z])td(?![0-9A-Za-z])", re.IGNORECASE)
_CODE = re.compile(r"(?<![0-9A-Za-z])[A-Za-z][0-9A-Za-z]{1,2}[2-9](?![0-9A-Za-z])")
_LEADING_NUMBER = re.compile(r"[\W_]*(?:回复|回覆|我选|选择|选|评价|答)?[\W_]*([0-9]+)(.*)", re.DOTALL)
_NEXT_LONE_DIGIT = re.compile(r"[\W_]*[0-9](?![0-9])(?:[\W_]|$)")
_QUANTITY = re.compile(r"\s*[个月天日号点分秒次年小时位岁元块周星楼栋层遍多]")  # "2个小时才到" is no choice
_SEPARATORS = re.compile(r"[\W_]+")
_LEADING_PUNCTUATION = re.compile(  # ASCII and CJK punctuation
    r"^[\s!-/:-@\[-`{-~\u3000-\u303f\uff01-\uff0f]+"
)


def parse_reply(raw: str | bytes | None) -> Reply:
    """The meaning of one SMS reply; see the module docstring for the rules, in order."""
    if isinstance(raw, bytes | bytearray):
        source = bytes(raw[:RAW_MAX_BYTES]).decode("utf-8", errors="replace")
        longer = len(raw) > RAW_MAX_BYTES
    else:
        source = (raw or "")[:RAW_MAX_CHARS]
        longer = raw is not None and len(raw) > RAW_MAX_CHARS
    cleaned = _clean(source)
    text = cleaned[:COMMENT_MAX_CHARS]
    truncated = longer or len(cleaned) > COMMENT_MAX_CHARS

    def unreadable(reason: str) -> Reply:
        return Reply("unreadable", None, text, text, codes, reason, truncated)

    def rated(level: Level, comment: str, reason: str) -> Reply:
        return Reply("rating", level, _comment(comment, level), text, codes, reason, truncated)

    codes = tuple(token.upper() for token in _CODE.findall(text) if _is_code(token))
    if _TD.search(text) or any(word in _squeeze(text) for word in _OPT_OUT_WORDS):
        return Reply("opt_out", None, text, text, codes, "opt-out", truncated)
    body = _CODE.sub(lambda m: " " if _is_code(m.group()) else m.group(), text).strip()
    if not body:
        return unreadable("empty" if not codes else "only a code")
    if (number := _LEADING_NUMBER.match(body)) and not _QUANTITY.match(number.group(2)):
        digits, rest = number.groups()
        if digits not in LEVEL_BY_DIGIT:
            return unreadable(f"{digits} is not a choice of 1, 2, 3")
        if _NEXT_LONE_DIGIT.match(rest):
            return unreadable("two choices")
        level = LEVEL_BY_DIGIT[digits]
        if others := _levels_in(_squeeze(rest)[:SCAN_MAX_CHARS]) - {level}:
            return unreadable(f"contradiction: {digits} and " + ", ".join(sorted(others)))
        return rated(level, rest, f"digit {digits}")
    squeezed = _squeeze(body)[:SCAN_MAX_CHARS]
    if squeezed in _WHOLE:
        return rated(_WHOLE[squeezed], "", f"numeral {squeezed}")
    if (pinyin := _SEPARATORS.sub("", squeezed)) in _PINYIN:
        return rated(_PINYIN[pinyin], "", f"pinyin {pinyin}")
    found = _levels_in(squeezed)
    if "double" in found:
        return unreadable("double negation")
    if len(found) > 1:
        return unreadable("mixed: " + ", ".join(sorted(found)))
    if found:
        level = found.pop()
        return rated(level, body, f"words: {level}")  # type: ignore[arg-type]
    return unreadable("no level")


def _levels_in(squeezed: str) -> set[str]:
    """The level words' groups found in a squeezed text ("double" for a double negation)."""
    return {match.lastgroup for match in _WORDS.finditer(squeezed) if match.lastgroup != "neutral"}  # type: ignore[misc]


def _clean(text: str) -> str:
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cs":
            kept.append("\ufffd")  # a lone surrogate cannot be stored as UTF-8
        elif category == "Cc":
            kept.append(" ")
        elif category != "Cf" or ch == "\u200d":
            kept.append(ch)
    return " ".join(unicodedata.normalize("NFKC", "".join(kept)).split())


def _squeeze(text: str) -> str:
    """No white space, traditional vocabulary simplified, ASCII lower case: what words are read on."""
    return "".join(text.split()).translate(_TRADITIONAL).casefold()


def _is_code(token: str) -> bool:
    return all(ch in CODE_ALPHABET for ch in token.upper())


def _comment(rest: str, level: Level) -> str:
    """What the citizen wrote besides the level: empty when that is only the level's label and punctuation."""
    if not _SEPARATORS.sub("", _squeeze(rest)).replace(LEVEL_LABELS[level], ""):
        return ""
    return _LEADING_PUNCTUATION.sub("", rest).strip()


def short_code(survey_id: str, length: int = SHORT_CODE_LENGTH) -> str:
    """SHORT_CODE_LENGTH characters of CODE_ALPHABET (no 0/O, 1/I/L), a letter first and a digit last (so
    a code never reads as a number or a word like TD), derived from the question's id. Codes only tell
    apart the open questions of one phone; two equal codes there (one chance in ~190,000) fall back to
    "the most recent"."""
    if length not in (3, 4):
        raise ValueError("a short code has 3 or 4 characters")
    number = int.from_bytes(hashlib.sha256(survey_id.encode()).digest()[:8], "big")
    number, first = divmod(number, len(_LETTERS))
    number, last = divmod(number, len(_DIGITS))
    middle = ""
    for _ in range(length - 2):
        number, index = divmod(number, len(CODE_ALPHABET))
        middle += CODE_ALPHABET[index]
    return _LETTERS[first] + middle + _DIGITS[last]
