"""Clock, settings, log masking and week arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from common.clock import FakeClock
from common.logs import mask_phones
from common.settings import DEVELOPMENT_TOKEN, ServiceSettings
from common.timefmt import iso_week, local, week_bounds

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(datetime(2026, 11, 23, 8, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(days=3, hours=1)
    assert clock.now() == datetime(2026, 11, 26, 9, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 1, 1))


def test_phones_are_masked_in_logs() -> None:
    assert mask_phones("caller 13800138000 and 15912345678") == "caller 138****8000 and 159****5678"
    assert mask_phones("alert 110-20261123-000123") == "alert 110-20261123-000123"


@pytest.mark.parametrize(("text", "shown"), [
    ("13800138000", "138****8000"),  # the whole text, first and last character
    ("+8613800138000", "+86138****8000"), ("008613800138000", "0086138****8000"),
    ("8613800138000", "86138****8000"), ("+86 13800138000", "+86 138****8000"), ("86-13800138000", "86-138****8000"),
    ("tel:19912345678.", "tel:199****5678."),
    ("12800138000", "12800138000"),  # 12x is not a mobile prefix
    ("213800138000", "213800138000"), ("138001380001", "138001380001"),  # digits around: not a phone
])
def test_a_mobile_number_is_masked_with_or_without_the_country_code(text: str, shown: str) -> None:
    assert mask_phones(text) == shown


def test_production_refuses_the_development_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="production refuses"):
        ServiceSettings(environment="production")
    ok = ServiceSettings(environment="production", tokens={"x" * 32: ["duty_desk"]})
    assert DEVELOPMENT_TOKEN not in ok.tokens
    with pytest.raises(ValidationError, match="unknown roles"):
        ServiceSettings(tokens={"t" * 20: ["superuser"]})
    with pytest.raises(ValidationError, match="unknown time zone"):
        ServiceSettings(station_timezone="Mars/Olympus")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from dispatch.settings import DispatchSettings

    monkeypatch.setenv("FQ_DISPATCH_ACK_TIMEOUT_S", "90")
    monkeypatch.setenv("FQ_DISPATCH_TOKENS", '{"desk-token-0123456789": ["duty_desk"]}')
    settings = DispatchSettings()
    assert settings.ack_timeout_s == 90
    assert settings.tokens == {"desk-token-0123456789": ["duty_desk"]}


def test_weeks_are_monday_to_sunday_in_the_station_zone() -> None:
    sunday_night_local = datetime(2026, 11, 29, 23, 30, tzinfo=SHANGHAI)
    assert iso_week(sunday_night_local, SHANGHAI) == "2026-W48"
    assert iso_week(sunday_night_local + timedelta(hours=1), SHANGHAI) == "2026-W49"
    assert iso_week(datetime(2027, 1, 3, 12, tzinfo=SHANGHAI), SHANGHAI) == "2026-W53"  # ISO year, not calendar year
    assert iso_week(datetime(2026, 11, 29, 16, 30, tzinfo=UTC), SHANGHAI) == "2026-W49"  # still Sunday in UTC
    start, end = week_bounds("2026-W48", SHANGHAI)
    assert start == datetime(2026, 11, 23, tzinfo=SHANGHAI)
    assert end - start == timedelta(days=7)
    with pytest.raises(ValueError, match="2026-W48"):
        week_bounds("last week", SHANGHAI)


def test_times_are_shown_in_the_station_zone() -> None:
    shown = local({"at": datetime(2026, 11, 23, 0, 15, tzinfo=UTC), "n": [1]}, SHANGHAI)
    assert shown["at"].isoformat() == "2026-11-23T08:15:00+08:00"


def test_log_lines_are_json_with_phones_masked(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import structlog

    from common.logs import configure_logging

    configure_logging("INFO", json=True, service="dispatch")
    try:
        structlog.get_logger("t").info("alert.placed", caller_phone="13800138000", parties=[{"phone": "13900139000"}])
        # the line of ours: another test's leftover may log through the same root handler meanwhile
        [line] = [json.loads(x) for x in capsys.readouterr().err.splitlines() if '"alert.placed"' in x]
    finally:
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
    assert line["caller_phone"] == "138****8000"
    assert line["parties"] == [{"phone": "139****9000"}]
    assert (line["event"], line["service"], line["level"]) == ("alert.placed", "dispatch", "info")
