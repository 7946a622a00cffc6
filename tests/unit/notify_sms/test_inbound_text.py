"""A reply's text read from whatever the gateway sent: never an error."""

from __future__ import annotations

import pytest

from notify.sms.adapters.mo_text import MAX_TEXT, decode_text

SATISFIED = "满意"


@pytest.mark.parametrize(
    ("raw", "coding", "charset", "text"),
    [
        (SATISFIED.encode(), "0", "UTF-8", SATISFIED),  # Kannel with mo-recode: UTF-8
        (SATISFIED.encode(), None, None, SATISFIED),  # JSON or a form without charset
        (SATISFIED.encode("utf-16-be"), "2", "UTF-16BE", SATISFIED),  # Kannel without mo-recode
        (SATISFIED.encode("utf-16-be"), "2", None, SATISFIED),  # UCS-2 named by coding alone
        (SATISFIED.encode("utf-16-be"), "2", "ucs-2", SATISFIED),
        (b"6EE1610F", "2", "UCS-2", SATISFIED),  # hex digits (%b)
        (b"6ee1610f", None, "UTF-16BE", SATISFIED),
        (SATISFIED.encode("gbk"), "1", "GBK", SATISFIED),
        (b"1", "0", "UTF-8", "1"),
        (b"1234", "0", "UTF-8", "1234"),  # digits stay digits unless the charset says UCS-2
        (b"", "0", "UTF-8", ""),
        (b"TD", "0", "8-BIT", "TD"),
    ],
)
def test_readable_forms(raw, coding, charset, text):
    assert decode_text(raw, coding, charset) == text


@pytest.mark.parametrize(
    ("raw", "coding", "charset"),
    [
        (b"\xff\xfe\x80abc", "0", "UTF-8"),  # invalid UTF-8
        (b"\x6e\xe1\x61", "2", "UTF-16BE"),  # odd length
        (b"\x00\x01\x02", None, None),
        (b"abc", "0", "rot13"),  # a codec that is no text encoding
        (b"abc", "0", "no-such-charset"),
        (b"\xd8\x00\xd8\x00", "2", "UTF-16BE"),  # lone surrogates
        (bytes(range(256)), "1", "8-BIT"),
        (b"abc", "99", "UCS-2"),  # a coding Kannel does not have
    ],
)
def test_anything_else_decodes_without_an_error(raw, coding, charset):
    text = decode_text(raw, coding, charset)
    assert isinstance(text, str)
    assert all(c >= " " or c in "\n\t" for c in text)  # no NUL or control character reaches a store or a log


def test_invalid_bytes_are_replaced_and_the_rest_kept():
    assert decode_text("不满意".encode() + b"\xff", "0", "UTF-8") == "不满意\ufffd"


def test_a_long_text_is_cut():
    assert len(decode_text(("满" * (MAX_TEXT + 10)).encode())) == MAX_TEXT
    assert decode_text(b"line1\nline2\tend\x00\x07") == "line1\nline2\tend"
