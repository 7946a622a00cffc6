"""Which ratings leadership follows up: the rule's table, and the station's words file."""

from __future__ import annotations

import pytest

from rating.domain.followups import DEFAULT_WORDS_FILE, FollowupWords, followup_reason

WORDS = FollowupWords.load()

TABLE = [
    ("dissatisfied", "", "dissatisfied"),
    ("dissatisfied", "谢谢", "dissatisfied"),  # every 不满意, whatever the words
    ("satisfied", "", None),
    ("satisfied", "谢谢民警", None),
    ("satisfied", "辛苦了，民警很负责", None),
    ("basically", "还行", None),
    ("basically", "处理太慢", "problem"),
    ("basically", "等了很久才有人来", "problem"),
    ("satisfied", "满意，但是民警态度有点凶", "problem"),
    ("satisfied", "建议晚上多巡逻", "suggestion"),
    ("basically", "希望尽快破案", "suggestion"),
    ("satisfied", "没问题，谢谢", None),  # a covered word is no problem
    ("satisfied", "没有问题", None),
    ("satisfied", "态度很好", None),
    ("basically", "没问题，就是处理太慢", "problem"),  # covered in one place, not in the other
    ("basically", "态度好但是太慢", "problem"),
    ("satisfied", "建 议 多 来", "suggestion"),  # white space is not read
    ("satisfied", "處理太慢", "problem"),  # traditional forms
    ("satisfied", "ＴＯＯ", None),
    ("satisfied", "问题", "problem"),  # the first and the last word of a text
    ("satisfied", "多来", "suggestion"),
]


@pytest.mark.parametrize(("level", "comment", "expected"), TABLE)
def test_followup_table(level, comment, expected):
    assert followup_reason(level, comment, WORDS) == expected


def test_a_problem_wins_over_a_suggestion():
    assert followup_reason("satisfied", "太慢了，建议改进", WORDS) == "problem"


def test_the_station_edits_the_words():
    own = FollowupWords.parse('problem = ["噪音"]\n')
    assert followup_reason("satisfied", "楼下噪音", own) == "problem"
    assert followup_reason("satisfied", "处理太慢", own) is None  # only the station's words count
    assert own.suggestion == () and own.not_a_problem == ()  # optional lists may be left out
    assert DEFAULT_WORDS_FILE.name == "followup_words.toml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("problem = [", "not TOML"),
        ("problem = []\nsuggestion = []\n", "no problem or suggestion words"),
        ('problem = "慢"\n', "problem must be a list of words"),
        ('problem = ["慢", ""]\n', "problem must be a list of words"),
        ('problem = ["慢"]\nnot_a_problem = [1]\n', "not_a_problem must be a list of words"),
    ],
)
def test_a_bad_words_file_is_refused_with_the_reason(text, message):
    with pytest.raises(ValueError, match=message) as error:
        FollowupWords.parse(text, source="station.toml")
    assert str(error.value).startswith("station.toml: ")


def test_the_default_words_are_loaded_from_the_file_and_a_station_file_from_its_path(tmp_path):
    assert FollowupWords.load() == FollowupWords.parse(DEFAULT_WORDS_FILE.read_text(encoding="utf-8"))
    assert FollowupWords.load(None) == WORDS
    own = tmp_path / "station.toml"
    own.write_text('suggestion = ["多巡逻"]\n', encoding="utf-8")
    assert FollowupWords.load(own).suggestion == ("多巡逻",)
    own.write_text("problem = [", encoding="utf-8")
    with pytest.raises(ValueError) as error:
        FollowupWords.load(own)
    assert str(error.value).startswith(f"{own}: not TOML")


def test_a_bad_file_without_a_source_is_named_as_the_followup_words():
    with pytest.raises(ValueError) as error:
        FollowupWords.parse("problem = [")
    assert str(error.value).startswith("followup words: not TOML")
