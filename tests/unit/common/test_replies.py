"""The reply parser on replies as citizens write them, and its edges."""

from __future__ import annotations

import pytest

from common.replies import COMMENT_MAX_CHARS, RAW_MAX_BYTES, RAW_MAX_CHARS, SCAN_MAX_CHARS, parse_reply, short_code

S, B, D = "satisfied", "basically", "dissatisfied"
U, OUT = "unreadable", "opt_out"

# reply, expected level (or U / OUT), expected comment (None: not checked)
TABLE = [
    ("1", S, ""),
    ("１", S, ""),
    (" 2 ", B, ""),
    ("3", D, ""),
    ("①", S, ""),
    ("1。", S, ""),
    ("1.", S, ""),
    ("1!", S, ""),
    ("2基本满意", B, ""),
    ("3 态度差", D, "态度差"),
    ("3，等了一个小时才来", D, "等了一个小时才来"),
    ("1 谢谢", S, "谢谢"),
    ("1 不满意", U, "1 不满意"),  # a digit and words of another level: no guess, never satisfied
    ("3 满意", U, None),
    ("1，不太满意", U, None),
    ("2 非常满意", U, None),
    ("1 没有不满意", U, None),  # a double negation after the digit
    ("满意…不满意", U, None),
    ("1，3", U, None),
    ("12", U, None),
    ("1 满意", S, ""),  # the digit's own label is no contradiction
    ("3 不满意，处理太慢", D, "不满意,处理太慢"),  # NFKC: the full-width comma is ASCII
    ("2 还行", B, "还行"),
    ("1 谢谢民警", S, "谢谢民警"),
    ("回复1", S, ""),
    ("选2", B, ""),
    ("满意", S, ""),
    ("基本满意", B, ""),
    ("不满意", D, ""),
    ("非常满意", S, "非常满意"),
    ("很满意", S, "很满意"),
    ("十分满意！", S, None),
    ("很不满意", D, "很不满意"),
    ("非常不满意", D, None),
    ("不太满意", D, "不太满意"),
    ("不是很满意", D, None),
    ("不怎么满意", D, None),
    ("并不满意", D, None),
    ("没有很满意", D, None),
    ("不 满意", D, ""),
    ("不满意，出警太慢", D, "不满意,出警太慢"),
    ("满意，谢谢民警", S, "满意,谢谢民警"),
    ("满意满意", S, ""),
    ("基本上满意", B, None),
    ("比较满意", B, None),
    ("基本不满意", D, None),
    ("一般", B, None),
    ("还行", B, None),
    ("还可以", B, None),
    ("还好吧", B, None),
    ("好评", S, None),
    ("差评", D, None),
    ("不错", S, None),
    ("还不错", S, None),
    ("态度很差", D, None),
    ("👍", S, ""),
    ("👍🏻👍🏻", S, None),
    ("👎", D, None),
    ("滿意", S, ""),
    ("不滿意", D, ""),
    ("基本滿意", B, None),
    ("manyi", S, ""),
    ("ManYi", S, ""),
    ("bumanyi", D, ""),
    ("一", S, ""),
    ("三", D, ""),
    ("2个小时才到，不满意", D, None),  # a quantity, not a choice: the words decide
    ("A7K2 1", S, ""),
    ("1 A7K2", S, ""),
    ("a7k2 3 太慢", D, "太慢"),
    ("满意A7K2", S, ""),
    # unreadable: re-prompt, no guess
    ("", U, ""),
    ("   ", U, ""),
    ("\t\n", U, ""),
    ("😀😀", U, "😀😀"),
    ("ok", U, "ok"),
    ("OK", U, "OK"),
    ("好", U, "好"),
    ("?", U, "?"),
    ("收到", U, None),
    ("1 3", U, "1 3"),
    ("1,3", U, None),
    ("1.5", U, None),
    ("13", U, "13"),
    ("0", U, None),
    ("5", U, None),
    ("123", U, None),
    ("没有不满意", U, "没有不满意"),  # double negation: we do not guess
    ("不是不满意", U, None),
    ("满意，但也有不满意的地方", U, None),  # mixed
    ("基本满意，不满意的是太慢", U, None),
    ("不好意思", U, None),
    ("满意度调查？", U, None),
    ("A7K2", U, "A7K2"),
    # opt-out
    ("TD", OUT, "TD"),
    ("td", OUT, None),
    ("ＴＤ", OUT, "TD"),
    ("退订", OUT, None),
    ("TD退订", OUT, None),
    ("3 TD", OUT, None),
    ("不要再发了，退订", OUT, None),
    ("取消订阅", OUT, None),
]


def test_the_table_is_long_enough() -> None:
    assert len(TABLE) >= 60


@pytest.mark.parametrize(("text", "expected", "comment"), TABLE)
def test_reply_table(text: str, expected: str, comment: str | None) -> None:
    reply = parse_reply(text)
    if expected in (U, OUT):
        assert (reply.kind, reply.level) == (expected, None)
        assert not reply.readable
    else:
        assert (reply.kind, reply.level) == ("rating", expected)
        assert reply.readable
    if comment is not None:
        assert reply.comment == comment


@pytest.mark.parametrize(
    "text", ["不满意", "不 满意", "基本满意", "不太满意", "不怎么满意", "并不满意", "很不满意", "不滿意"]
)
def test_text_containing_manyi_is_never_satisfied(text: str) -> None:
    assert parse_reply(text).level != "satisfied"


def test_reasons_say_why() -> None:
    assert parse_reply("1 3").reason == "two choices"
    assert parse_reply("13").reason == "13 is not a choice of 1, 2, 3"
    assert parse_reply("没有不满意").reason == "double negation"
    assert parse_reply("").reason == "empty"
    assert parse_reply("A7K2").reason == "only a code"
    assert parse_reply("ok").reason == "no level"
    assert parse_reply("满意也不满意").reason == "mixed: dissatisfied, satisfied"
    assert parse_reply("2").reason == "digit 2"


def test_codes_are_collected_upper_case_in_order() -> None:
    assert parse_reply("b7k3 1 A7K2").codes == ("B7K3", "A7K2")
    assert parse_reply("1 A7K2").codes == ("A7K2",)
    assert parse_reply("1 AOK2").codes == ()  # O is not in the alphabet: no code, left in the comment
    assert parse_reply("1 AOK2").comment == "AOK2"
    assert parse_reply("1 A7K").codes == ()  # a code ends with a digit
    assert parse_reply("1 A7K5X").codes == ()  # too long
    assert parse_reply("1 AB2").codes == ("AB2",)  # three characters
    assert parse_reply("TD A7K2").codes == ("A7K2",)


def test_none_and_empty_bytes_are_unreadable() -> None:
    assert parse_reply(None).kind == "unreadable"
    assert parse_reply(b"").kind == "unreadable"


def test_invalid_utf8_bytes_are_replaced_not_raised() -> None:
    reply = parse_reply(b"3\xff\xfe \xe6\x80\x81\xe5\xba\xa6\xe5\xb7\xae")  # "3", junk, "态度差"
    assert (reply.level, reply.comment) == ("dissatisfied", "\ufffd\ufffd 态度差")
    assert parse_reply("满意".encode()).level == "satisfied"
    assert parse_reply(bytearray(b"\xc3")).kind == "unreadable"
    assert parse_reply("满意".encode("gbk")).kind == "unreadable"  # the adapter decodes GBK, not us


def test_lone_surrogates_and_control_characters_are_cleaned() -> None:
    reply = parse_reply("\ud800 1\x00\x07 好\x1b\u200b")
    assert reply.level == "satisfied"
    assert reply.text == "\ufffd 1 好"
    reply.text.encode("utf-8")  # storable
    assert parse_reply("不\u200b满意").level == "dissatisfied"  # a zero-width space does not split words
    assert parse_reply("👨\u200d👩").text == "👨\u200d👩"  # the emoji joiner stays


def test_ten_thousand_characters_are_cut_and_flagged() -> None:
    reply = parse_reply("3" + " 出警太慢" * 2500)
    assert reply.level == "dissatisfied"
    assert reply.truncated
    assert len(reply.text) == COMMENT_MAX_CHARS
    assert len(reply.comment) <= COMMENT_MAX_CHARS
    assert parse_reply("x" * 10_000).kind == "unreadable"
    assert parse_reply(b"1" + b"x" * (RAW_MAX_BYTES + 1)).truncated
    assert not parse_reply("x" * COMMENT_MAX_CHARS).truncated
    assert parse_reply("x" * (COMMENT_MAX_CHARS + 1)).truncated
    assert parse_reply("  " + "x" * COMMENT_MAX_CHARS).truncated is False  # spaces collapse before the cut


def test_level_words_past_the_scan_window_are_not_read() -> None:
    assert parse_reply("x" * (SCAN_MAX_CHARS - 2) + "满意").level == "satisfied"
    assert parse_reply("x" * (SCAN_MAX_CHARS - 1) + "满意").kind == "unreadable"


def test_white_space_inside_is_collapsed_and_newlines_become_spaces() -> None:
    assert parse_reply("3\n\n态度  差").comment == "态度 差"


def test_every_outcome_names_its_reason_exactly() -> None:
    assert parse_reply("1 不满意").reason == "contradiction: 1 and dissatisfied"
    assert parse_reply("1 基本满意不满意").reason == "contradiction: 1 and basically, dissatisfied"
    assert parse_reply("二").reason == "numeral 二"
    assert parse_reply("man-yi").reason == "pinyin manyi"  # separators inside the pinyin are dropped
    assert parse_reply("man_yi").level == "satisfied"
    assert parse_reply("很不错").reason == "words: satisfied"
    assert parse_reply("td").reason == "opt-out"


def test_an_opt_out_keeps_the_text_the_codes_and_the_cut() -> None:
    reply = parse_reply("退订 A7K2")
    assert (reply.kind, reply.level, reply.text, reply.comment, reply.codes, reply.truncated) == (
        "opt_out", None, "退订 A7K2", "退订 A7K2", ("A7K2",), False)
    assert parse_reply("TD" + " " * RAW_MAX_BYTES).truncated is True  # longer than what is read


def test_an_unreadable_reply_keeps_its_codes_and_empty_codes_are_a_tuple() -> None:
    assert parse_reply("A7K2").codes == ("A7K2",)
    assert parse_reply("ok").codes == ()


@pytest.mark.parametrize("spaces", [0, 1])
def test_the_cut_flag_is_set_only_past_what_is_read(spaces: int) -> None:
    """Exactly RAW_MAX_CHARS characters (RAW_MAX_BYTES bytes) are all read: not cut; one more is. The
    white space collapses, so only the length read decides."""
    assert parse_reply("1" + " " * (RAW_MAX_CHARS - 1 + spaces)).truncated is bool(spaces)
    assert parse_reply(b"1" + b" " * (RAW_MAX_BYTES - 1 + spaces)).truncated is bool(spaces)
    assert parse_reply("1" + " " * (RAW_MAX_CHARS - 1 + spaces)).level == "satisfied"


def test_short_codes_stay_the_same_across_releases() -> None:
    """A code already sent by SMS must mean the same question after an upgrade: known values, pinned."""
    assert short_code("survey-1") == "GNE4"
    assert short_code("survey-1", 3) == "GN4"
    assert short_code("alert:110-7:13800138000") == "NYR8"
    for length in (2, 5):
        with pytest.raises(ValueError, match="^a short code has 3 or 4 characters$"):
            short_code("survey-1", length)


# The edges of the parser's patterns and vocabulary (mutmut does not change a regular expression's text:
# these were found by changing each by hand): reply, expected level (or U / OUT)
PATTERN_EDGES = [
    ("std", U),  # TD only as a token: not after a letter or digit ...
    ("tdx", U),  # ... nor before one
    ("Td", OUT),
    ("【回复】1", S),  # punctuation before the keyword and between it and the digit
    ("回复：3", D),
    ("我选2", B),
    ("回覆2", B),
    ("选择3", D),
    ("评价1", S),
    ("答2", B),
    ("1 2号楼", S),  # a digit inside a word is no second choice
    ("2 个小时才到", U),  # a number then a unit, white space between: no choice, and no level words
    ("并不是十分满意", D),  # three degree words between the negation and 满意
    ("未满意", D),
    ("不是很好", D),  # never the 很好 inside it
    ("点赞", S),
    ("hen manyi", S),
    ("是否满意", U),  # the question's own words are no answer
    ("满不满意", U),
    ("没有不太怎么满意", U),  # a double negation with three degree words
    ("谈不上不满意", U),
    ("無不滿意", U),  # traditional forms: 无不满意, a double negation
]


@pytest.mark.parametrize(("text", "expected"), PATTERN_EDGES)
def test_the_patterns_edges(text: str, expected: str) -> None:
    reply = parse_reply(text)
    assert (reply.kind if expected in (U, OUT) else reply.level) == expected


def test_short_code_tokens_to_their_edges() -> None:
    assert parse_reply("1 XA7K2").codes == ()  # a code is a whole token: not the end of a longer one
    assert parse_reply("1 A7KM2").codes == ()  # five characters
    assert parse_reply("1 A7K9").codes == ("A7K9",)  # 9 is a code's last digit too
    assert parse_reply("1 A7K2").codes == ("A7K2",)


def test_cjk_punctuation_before_a_comment_is_dropped() -> None:
    assert parse_reply("3。态度差").comment == "态度差"
    assert parse_reply("3【态度差】").comment == "态度差】"
