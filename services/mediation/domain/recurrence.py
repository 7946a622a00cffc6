"""Recurrence (重复纠纷): a new dispute between the same people or at the same address within 90
days of an earlier one is linked to the most recent such dispute.

A party in common is enough — by phone or by 身份证号 — since one side's phone is often not on
record; an address matches after normalisation (full-width → half-width, no spaces or
punctuation), and only when it names a house (a number, or 三号 / 五栋): "枫亭镇某村" alone would
link every dispute of the village. The keys are plain strings ("phone:…", "id:…", "address:…") a
repository can store and look up.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

RECURRENCE_WINDOW = timedelta(days=90)
_HOUSE_NUMBER = re.compile(r"\d|[零〇一二三四五六七八九十百]+(号|栋|幢|单元|室|弄)")


class PartyLike(Protocol):
    @property
    def phone(self) -> str | None: ...

    @property
    def id_number(self) -> str | None: ...


class DisputeLike(Protocol):
    """A `Dispute`, or the command that is about to open one."""

    @property
    def parties(self) -> Iterable[PartyLike]: ...

    @property
    def address(self) -> str | None: ...


@dataclass(frozen=True)
class RecurrenceCandidate:
    """An earlier dispute as the repository summarises it."""

    dispute_id: str
    reported_at: datetime
    keys: frozenset[str]


def recurrence_keys(dispute: DisputeLike) -> frozenset[str]:
    keys = set()
    for party in dispute.parties:
        if phone := normalize_phone(party.phone):
            keys.add(f"phone:{phone}")
        if id_number := _squeeze(party.id_number).upper():
            keys.add(f"id:{id_number}")
    if (address := normalize_address(dispute.address)) and _HOUSE_NUMBER.search(address):
        keys.add(f"address:{address}")
    return frozenset(keys)


def find_recurrence(keys: Collection[str], earlier: Iterable[RecurrenceCandidate], *, now: datetime) -> str | None:
    """The most recent dispute reported in the 90 days before `now` (the new report's time) that
    shares a key; strictly earlier, so a dispute never links to itself."""
    since = now - RECURRENCE_WINDOW
    linked = [c for c in earlier if since <= c.reported_at < now and not c.keys.isdisjoint(keys)]
    if not linked:
        return None
    return max(linked, key=lambda c: (c.reported_at, c.dispute_id)).dispute_id


def normalize_address(address: str | None) -> str:
    return _squeeze(address).lower()


def normalize_phone(phone: str | None) -> str:
    """Digits only, without the +86 / 0086 country prefix."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", phone or "") if ch.isdigit())
    if digits.startswith("0086"):
        return digits[4:]
    if digits.startswith("86") and len(digits) == 13:
        return digits[2:]
    return digits


def _squeeze(text: str | None) -> str:
    """Full-width → half-width; no white space, punctuation or symbols."""
    return "".join(
        ch
        for ch in unicodedata.normalize("NFKC", text or "")
        if unicodedata.category(ch)[0] not in "PSZ" and not ch.isspace()
    )
