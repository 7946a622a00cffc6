"""Survey ids, short codes, sending hours, suppression and the SMS text."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from rating.domain.reply import CODE_ALPHABET, parse_reply
from rating.domain.surveys import (
    SMS_MAX_CHARS,
    SurveyPolicy,
    normalize_phone,
    reprompt_text,
    send_time,
    short_code,
    suppression,
    survey_id,
    survey_text,
)

CST = ZoneInfo("Asia/Shanghai")
POLICY = SurveyPolicy()


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


def test_one_id_per_subject_and_phone_whatever_the_phone_spelling() -> None:
    first = survey_id("alert", "110-1", "13800138000")
    assert first == survey_id("alert", "110-1", "+86 138-0013-8000")
    assert first == survey_id("alert", "110-1", "008613800138000")
    assert first == survey_id("alert", "110-1", "１３８００１３８０００")
    assert first != survey_id("alert", "110-2", "13800138000")
    assert first != survey_id("service", "110-1", "13800138000")
    assert first != survey_id("alert", "110-1", "13800138001")
    assert first.startswith("sv-") and len(first) == 27
    assert "13800138000" not in first


def test_normalize_phone_keeps_short_and_landline_numbers() -> None:
    assert normalize_phone("8613800138000") == "13800138000"
    assert normalize_phone("861380013800") == "861380013800"  # 12 digits: not a prefixed mobile
    assert normalize_phone("0594-1234567") == "05941234567"


@pytest.mark.parametrize(
    ("subject_type", "subject_id", "phone"), [("visit", "x", "1"), ("alert", "", "1"), ("alert", "x", "--")]
)
def test_survey_id_refuses_what_it_cannot_key(subject_type: str, subject_id: str, phone: str) -> None:
    with pytest.raises(ValueError):
        survey_id(subject_type, subject_id, phone)


def test_short_codes_are_deterministic_short_and_unambiguous() -> None:
    ids = [survey_id("alert", f"110-{n}", "13800138000") for n in range(2000)]
    codes = [short_code(i) for i in ids]
    assert codes == [short_code(i) for i in ids]
    assert all(len(c) == 4 and c[0].isalpha() and c[-1].isdigit() for c in codes)
    assert all(set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("0O1IL") & set("".join(codes))
    assert len(set(codes)) > 1950  # spread: ~10 birthday collisions expected
    assert len(short_code(ids[0], 3)) == 3
    for code in codes[:200]:  # the parser finds every code we hand out
        assert parse_reply(f"{code} 1").codes == (code,)
    with pytest.raises(ValueError):
        short_code(ids[0], 5)
    with pytest.raises(ValueError):
        short_code(ids[0], 2)


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (cst(2026, 11, 23, 22, 30), cst(2026, 11, 24, 8, 0)),
        (cst(2026, 11, 23, 21, 0), cst(2026, 11, 24, 8, 0)),  # the end is exclusive
        (cst(2026, 11, 23, 20, 59, 59), cst(2026, 11, 23, 20, 59, 59)),
        (cst(2026, 11, 23, 8, 0), cst(2026, 11, 23, 8, 0)),  # the start is inclusive
        (cst(2026, 11, 23, 7, 59, 59), cst(2026, 11, 23, 8, 0)),
        (cst(2026, 11, 23, 0, 0), cst(2026, 11, 23, 8, 0)),
        (cst(2026, 12, 31, 23, 0), cst(2027, 1, 1, 8, 0)),  # across the year end
        (cst(2026, 2, 28, 22, 0), cst(2026, 3, 1, 8, 0)),
    ],
)
def test_send_time_inside_allowed_hours(due: datetime, expected: datetime) -> None:
    assert send_time(due, POLICY) == expected


def test_send_time_works_in_utc_and_keeps_the_callers_zone() -> None:
    due = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    sent = send_time(due)
    assert sent == cst(2026, 11, 24, 8, 0) and sent.tzinfo is UTC
    assert send_time(datetime(2026, 11, 23, 2, 0, tzinfo=UTC)) == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_send_time_with_configured_hours() -> None:
    policy = SurveyPolicy(send_from=time(9, 30), send_until=time(18, 0))
    assert send_time(cst(2026, 11, 23, 9, 0), policy) == cst(2026, 11, 23, 9, 30)
    assert send_time(cst(2026, 11, 23, 18, 0), policy) == cst(2026, 11, 24, 9, 30)


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        SurveyPolicy(send_from=time(21, 0), send_until=time(8, 0))
    with pytest.raises(ValueError):
        SurveyPolicy(send_from=time(8, 0), send_until=time(8, 0))
    with pytest.raises(ValueError):
        SurveyPolicy(cooldown=timedelta(hours=-1))
    SurveyPolicy(cooldown=timedelta(0))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        send_time(datetime(2026, 11, 23, 9, 0))


def _suppression(**overrides: object) -> str | None:
    args: dict[str, object] = {
        "requested_at": cst(2026, 11, 23, 10, 0),
        "send_at": cst(2026, 11, 23, 10, 0),
        "opted_out": False,
        "last_surveyed_at": None,
    }
    return suppression(**(args | overrides))  # type: ignore[arg-type]


def test_suppression_rules_and_their_order() -> None:
    send = cst(2026, 11, 23, 10, 0)
    assert _suppression() is None
    assert _suppression(opted_out=True, last_surveyed_at=send) == "opted_out"
    assert _suppression(last_surveyed_at=send - timedelta(hours=24)) is None  # exactly 24 h: surveyed again
    assert _suppression(last_surveyed_at=send - timedelta(hours=24) + timedelta(seconds=1)) == "cooldown"
    assert _suppression(last_surveyed_at=send + timedelta(hours=23)) == "cooldown"  # one already scheduled later
    assert _suppression(last_surveyed_at=send + timedelta(hours=24)) is None
    stale_at = send - timedelta(days=7)
    assert _suppression(requested_at=stale_at) is None  # exactly 7 days: still asked
    assert _suppression(requested_at=stale_at - timedelta(seconds=1)) == "stale"
    assert _suppression(requested_at=stale_at - timedelta(seconds=1), last_surveyed_at=send) == "stale"
    policy = SurveyPolicy(cooldown=timedelta(hours=2))
    assert _suppression(last_surveyed_at=send - timedelta(hours=3), policy=policy) is None


def test_survey_text_names_the_officer_the_choices_the_code_and_td() -> None:
    text = survey_text(station="枫亭派出所", named="民警张三", subject_type="alert", code="A7K2")
    for part in ("【枫亭派出所】", "民警张三", "处警", "1满意", "2基本满意", "3不满意", "意见", "A7K2", "TD退订"):
        assert part in text
    assert len(text) <= 70  # one SMS segment with an ordinary name
    assert "窗口服务" in survey_text(station="所", named="户籍窗口", subject_type="service", code="A7K2")
    assert "案件回访" in survey_text(station="所", named="民警", subject_type="callback", code="A7K2")


def test_a_long_name_is_shortened_to_fit() -> None:
    text = survey_text(station="枫亭派出所", named="长" * 200, subject_type="alert", code="A7K2")
    assert len(text) == SMS_MAX_CHARS
    assert "长…本次处警" in text
    fits = survey_text(station="枫亭派出所", named="长" * 70, subject_type="alert", code="A7K2")
    assert len(fits) == SMS_MAX_CHARS and "…" not in fits
    with pytest.raises(ValueError):
        survey_text(station="站" * 200, named="民警", subject_type="alert", code="A7K2")


def test_reprompt_text() -> None:
    text = reprompt_text(station="枫亭派出所", code="A7K2")
    assert "1满意" in text and "A7K2" in text and "TD" in text and len(text) <= 70
