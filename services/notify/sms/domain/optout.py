"""Opt-out replies (退订) to the station's SMS. Shared by notify and rating, so this module imports
nothing of either (it may move to `libs/common`).

A reply opts out when, after normalising, it is exactly one of `OPT_OUT_WORDS`. Normalising:
Unicode NFKC (full-width ＴＤ, ｔｄ become TD), upper case, and every whitespace, punctuation and
symbol character removed ("TD。", " t d ", "【退订】" all count). A longer text that merely
contains a word ("不满意，别再发了退订" or "TD是什么") is *not* an opt-out: a survey reply must
never be lost to a word inside it, and the station can still act on the text.
"""

from __future__ import annotations

import unicodedata

OPT_OUT_WORDS: frozenset[str] = frozenset({"TD", "T", "退订", "取消", "退订短信"})


def normalise_reply(text: str) -> str:
    """The reply as compared: NFKC, upper case, without whitespace, punctuation or symbols."""
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(char for char in folded if unicodedata.category(char)[0] not in "ZPSC")


def is_opt_out(text: str) -> bool:
    """True when the whole reply is an opt-out word (TD, T, 退订, 取消, 退订短信; full-width too)."""
    return normalise_reply(text) in OPT_OUT_WORDS
