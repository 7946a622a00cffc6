"""When station leadership follows a rating up (派出所领导及时进行回访调查): pure, its words from a file.

`followup_reason(level, comment, words)`:

| level        | comment                                                   | follow-up       |
|--------------|-----------------------------------------------------------|-----------------|
| dissatisfied | anything                                                  | "dissatisfied"  |
| any other    | holds a problem word not covered by a not-a-problem phrase | "problem"       |
| any other    | holds a suggestion word                                    | "suggestion"    |
| any other    | thanks, praise, nothing, or only covered words             | None            |

Words are matched on the comment without white space, NFKC-folded, lower case, traditional forms of the
vocabulary simplified; `FollowupWords.parse` reads the station's TOML (`followup_words.toml` is the
default) and refuses a file without words.
"""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WORDS_FILE = Path(__file__).with_name("followup_words.toml")
_TRADITIONAL = str.maketrans({"題": "题", "訴": "诉", "舉": "举", "報": "报", "滿": "满", "態": "态", "沒": "没",
                              "處": "处", "決": "决", "議": "议", "盡": "尽", "應": "应", "該": "该", "進": "进",
                              "聯": "联", "繫": "系", "罵": "骂", "亂": "乱", "結": "结", "見": "见", "擬": "拟"})


@dataclass(frozen=True)
class FollowupWords:
    problem: tuple[str, ...]
    suggestion: tuple[str, ...]
    not_a_problem: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str, source: str = "followup words") -> FollowupWords:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{source}: not TOML: {exc}") from exc
        lists = {}
        for name in ("problem", "suggestion", "not_a_problem"):
            value = data.get(name, [])
            if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
                raise ValueError(f"{source}: {name} must be a list of words")
            lists[name] = tuple(_fold(w) for w in value)
        if not lists["problem"] and not lists["suggestion"]:
            raise ValueError(f"{source}: no problem or suggestion words")
        return cls(**lists)

    @classmethod
    def load(cls, path: Path | None = None) -> FollowupWords:
        path = path or DEFAULT_WORDS_FILE
        return cls.parse(path.read_text(encoding="utf-8"), source=str(path))


def followup_reason(level: str, comment: str, words: FollowupWords) -> str | None:
    """Why leadership follows this rating up (see the table above), or None."""
    if level == "dissatisfied":
        return "dissatisfied"
    text = _fold(comment)
    if not text:
        return None
    uncovered = text
    for phrase in words.not_a_problem:
        uncovered = uncovered.replace(phrase, " ")
    if any(word in uncovered for word in words.problem):
        return "problem"
    if any(word in text for word in words.suggestion):
        return "suggestion"
    return None


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).translate(_TRADITIONAL).casefold()
