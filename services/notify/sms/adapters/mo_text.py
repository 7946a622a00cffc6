"""What a citizen's reply says, whatever form the gateway gave it in: never an error.

Kannel's get-url hands the text percent-encoded in the message's own bytes and names them with
`coding` (0: GSM 7-bit, 1: 8-bit data, 2: UCS-2) and `charset`. With `mo-recode = true` a UCS-2
reply arrives as UTF-8 (`charset=UTF-8`); without it the bytes are UTF-16BE (`charset=UTF-16BE`),
and some set-ups pass them as hex digits (`%b`). `decode_text` reads all of these; bytes that do
not decode are replaced (U+FFFD), so a broken reply is kept and still readable in part.
"""

from __future__ import annotations

import binascii
import codecs
import re

#: the longest reply kept: an SMS of 5 parts is 335 characters, a web form could send more
MAX_TEXT = 2000

_UTF16 = {"UCS-2", "UCS2", "UTF-16BE", "UTF-16", "UNICODEBIG", "ISO-10646-UCS-2"}
_HEX = re.compile(rb"^(?:[0-9A-Fa-f]{4})+$")


def decode_text(raw: bytes, coding: str | None = None, charset: str | None = None) -> str:
    """The reply as text, cut to MAX_TEXT characters; never raises."""
    name = (charset or "").strip().upper()
    ucs2 = name in _UTF16 or (not name and (coding or "").strip() == "2")
    if ucs2:
        if _HEX.match(raw.strip()):
            raw = binascii.unhexlify(raw.strip())
        text = raw.decode("utf-16-be", errors="replace")
    else:
        try:
            text = raw.decode(_known(name) or "utf-8", errors="replace")
        except LookupError:  # a codec that is not a text encoding (rot13, base64...)
            text = raw.decode("utf-8", errors="replace")
    return _printable(text)[:MAX_TEXT]


def _known(name: str) -> str | None:
    if name in ("", "8-BIT", "BINARY", "GSM", "GSM7", "GSM-7"):
        return None  # Kannel has turned 7-bit into UTF-8 already; 8-bit data: read what is readable
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _printable(text: str) -> str:
    """Without NULs and other control characters (a store or a log line would choke on them), lines kept."""
    return "".join(c for c in text if c >= " " or c in "\n\t")
