from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from notify.sms.domain.optout import is_opt_out, normalise_reply
from notify.sms.domain.rate_limit import DEFAULT_DAILY_LIMIT, day_key, local_day
from tests.unit.notify.station_time import SH


@pytest.mark.parametrize(
    "text",
    [
        "TD",
        "td",
        "Td",
        "T",
        "t",
        "退订",
        "取消",
        "退订短信",
        "ＴＤ",
        "ｔｄ",
        "Ｔ",
        " TD ",
        "TD。",
        "T D",
        "【退订】",
        "退订!",
        "\tTD\n",
    ],
)
def test_opt_out_words(text):
    assert is_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "满意",
        "不满意",
        "TD是什么",
        "不满意，退订",
        "我要退订了吗",
        "TDD",
        "退",
        "订",
        "取消订单",
        "DT",
        "3 TD",
    ],
)
def test_not_opt_out(text):
    assert not is_opt_out(text)


def test_normalise_reply():
    assert normalise_reply(" ｔｄ。\u3000") == "TD"
    assert normalise_reply("回复：1") == "回复1"


def test_daily_limit():
    assert DEFAULT_DAILY_LIMIT == 3


def test_the_day_is_the_station_local_day():
    assert local_day(datetime(2026, 11, 20, 15, 59, 59, tzinfo=UTC), SH) == "2026-11-20"
    assert local_day(datetime(2026, 11, 20, 16, 0, tzinfo=UTC), SH) == "2026-11-21"
    assert day_key("13800138001", datetime(2026, 11, 20, 16, 0, tzinfo=UTC), SH) == "13800138001:2026-11-21"
    with pytest.raises(ValueError):
        local_day(datetime(2026, 11, 20, 16, 0), SH)


def test_rate_limit_words_and_zone():
    with pytest.raises(ValueError) as error:
        day_key("1", datetime(2026, 11, 20, 10, 0))
    assert str(error.value) == "rate limits need timezone-aware datetimes"
    evening_utc = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)  # 04:00 on the 21st in Shanghai
    assert day_key("1", evening_utc) == "1:2026-11-21"
    assert day_key("1", evening_utc, ZoneInfo("UTC")) == "1:2026-11-20"
