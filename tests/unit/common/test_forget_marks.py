"""Which marks a roll-up document forgets: those at or before the time given, never those kept."""

from __future__ import annotations

from common.mongo import forget_marks_update


def test_a_mark_at_the_time_given_is_forgotten_one_a_millisecond_later_is_kept() -> None:
    update = forget_marks_update({"a": 1_000, "b": 1_001, "c": 999}, 1_000)
    assert update == {"$unset": {"marks.a": "", "marks.c": ""}, "$set": {"marked_ms": 1_001}}


def test_a_kept_mark_stays_whatever_its_age_and_holds_marked_ms_at_its_time() -> None:
    update = forget_marks_update({"a": 10, "b": 20, "c": 5_000}, 1_000, keep={"b"})
    assert update == {"$unset": {"marks.a": ""}, "$set": {"marked_ms": 20}}


def test_when_every_mark_goes_marked_ms_goes_too() -> None:
    assert forget_marks_update({"a": 10}, 1_000, keep={"z"}) == {"$unset": {"marks.a": "", "marked_ms": ""}}
    assert forget_marks_update({}, 1_000) == {"$unset": {"marked_ms": ""}}


def test_when_every_old_mark_is_kept_there_is_nothing_to_write() -> None:
    assert forget_marks_update({"a": 10, "b": 5_000}, 1_000, keep={"a"}) == {}
    assert forget_marks_update({"b": 5_000}, 1_000) == {}
