from __future__ import annotations

import pytest

from notify.domain import MAX_PARTS, StationContact, callback_text, sms_parts
from notify.domain.sms_text import MAX_NAME_CHARS, MAX_PHONE_CHARS, MAX_STATION_NAME_CHARS

STATION = StationContact("枫亭派出所", "0594-7651234")


def test_the_7_day_text_tells_the_progress():
    text = callback_text("unsolved_7d", case_id="A2026-0042", station=STATION, party_name="王某", officer_name="张伟")
    assert text == (
        "【枫亭派出所】王某您好，您所涉案件（编号A2026-0042）正在办理中。承办民警张伟，联系电话0594-7651234。"
        "对我们的工作请回复：1满意 2基本满意 3不满意，也可直接回复意见。回复TD退订"
    )
    assert len(text) == 101 and sms_parts(text) == 2


def test_the_3_day_text_tells_the_result():
    text = callback_text(
        "solved_3d", case_id="A2026-0042", station=STATION, officer_name="张伟", officer_phone="13900139000"
    )
    assert text == (
        "【枫亭派出所】您好，您所涉案件（编号A2026-0042）已办结。承办民警张伟，联系电话13900139000。"
        "请对办理结果评价，回复：1满意 2基本满意 3不满意，也可直接回复意见。回复TD退订"
    )


def test_without_officer_name_the_station_phone_is_the_contact():
    text = callback_text("unsolved_7d", case_id="A1", station=STATION)
    assert "承办民警" not in text and "联系电话0594-7651234。" in text


def test_names_too_long_are_left_out_not_cut():
    text = callback_text(
        "unsolved_7d",
        case_id="A1",
        station=STATION,
        party_name="欧" * (MAX_NAME_CHARS + 1),
        officer_name="阳" * (MAX_NAME_CHARS + 1),
        officer_phone="9" * (MAX_PHONE_CHARS + 1),
    )
    assert "欧" not in text and "阳" not in text and "9" * MAX_PHONE_CHARS not in text
    assert text.startswith("【枫亭派出所】您好，")
    exact = callback_text(
        "unsolved_7d",
        case_id="A1",
        station=STATION,
        party_name="欧" * MAX_NAME_CHARS,
        officer_name="阳" * MAX_NAME_CHARS,
        officer_phone="9" * MAX_PHONE_CHARS,
    )
    assert "欧" * MAX_NAME_CHARS + "您好" in exact and "阳" * MAX_NAME_CHARS in exact and "9" * MAX_PHONE_CHARS in exact


@pytest.mark.parametrize("rule", ["unsolved_7d", "solved_3d"])
def test_the_longest_text_stays_within_the_part_bound(rule):
    station = StationContact("枫" * MAX_STATION_NAME_CHARS, "0" * MAX_PHONE_CHARS)
    text = callback_text(
        rule,
        case_id="A" * 64,
        station=station,
        party_name="王" * MAX_NAME_CHARS,
        officer_name="张" * MAX_NAME_CHARS,
        officer_phone="1" * MAX_PHONE_CHARS,
    )
    assert sms_parts(text) <= MAX_PARTS == 3


def test_unknown_rule_has_no_text():
    with pytest.raises(ValueError, match="no callback text"):
        callback_text("solved_5d", case_id="A1", station=STATION)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 0),
        ("中" * 70, 1),
        ("中" * 71, 2),
        ("中" * 134, 2),
        ("中" * 135, 3),
        ("中" * 201, 3),
        ("中" * 202, 4),
        ("😀" * 35, 1),  # outside the BMP: two UTF-16 units each
        ("😀" * 35 + "中", 2),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 159 + "中", 3),  # one Chinese character makes the whole text UCS-2
        ("a" * 69 + "{", 1),  # '{' is not GSM-7 basic: UCS-2
        ("a" * 70 + "{", 2),
    ],
)
def test_sms_parts(text, parts):
    assert sms_parts(text) == parts


@pytest.mark.parametrize(
    ("name", "phone"),
    [("", "0594"), ("  ", "0594"), ("枫" * (MAX_STATION_NAME_CHARS + 1), "0594"), ("枫亭", ""), ("枫亭", "0" * 17)],
)
def test_station_contact_bounds(name, phone):
    with pytest.raises(ValueError):
        StationContact(name, phone)


def test_station_contact_at_its_bounds():
    assert StationContact("枫" * MAX_STATION_NAME_CHARS, "0" * MAX_PHONE_CHARS).name == "枫" * 12
    assert StationContact("枫", "0").phone == "0"
