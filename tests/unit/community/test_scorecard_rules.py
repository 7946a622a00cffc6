"""The monthly sheet's rules, pure: the station's file (missing optional keys, wrong ones), scoring at its edges,
ranking with ties, a fact counted once, the CSV for the wall."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from community.domain.scorecard import (
    DEFAULT_RULES_PATH,
    DISPUTE_LEVELS,
    ITEMS,
    ItemScore,
    MonthSheet,
    SheetRefused,
    default_rules,
    load_rules,
    rules_from,
    score,
    score_item,
    sheet_csv,
)
from community.settings import CommunitySettings


def test_the_packaged_sample_names_every_item_with_its_weight() -> None:
    rules = load_rules(DEFAULT_RULES_PATH)
    assert [i.key for i in rules.items] == list(ITEMS)
    assert rules.max_total == 100
    assert default_rules() == rules


def test_optional_keys_missing_take_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "sheet.toml"
    path.write_text("[items.visits]\nweight = 50\n\n[items.satisfaction]\nweight = 50\n", encoding="utf-8")
    rules = load_rules(path)
    visits, satisfaction = rules.items
    assert (visits.label, visits.target, visits.when_empty) == ("走访入户", None, 1.0)
    assert (satisfaction.label, satisfaction.target, satisfaction.when_empty) == ("群众满意率", None, 1.0)
    assert rules_from({"items": {"disputes": {"weight": 1}}}).items[0].levels == ("village", "town")


@pytest.mark.parametrize(("items", "named"), [
    ({}, "[items."),
    ({"visit": {"weight": 1}}, "unknown scorecard item 'visit'"),
    ({"visits": {}}, "items.visits: a weight is required"),
    ({"visits": {"weight": -1}}, "items.visits.weight"),
    ({"visits": {"weight": True}}, "items.visits.weight"),
    ({"visits": {"weight": 1, "target": 0}}, "items.visits.target"),
    ({"callbacks": {"weight": 1, "target": 5}}, "items.callbacks.target"),
    ({"visits": {"weight": 1, "when_empty": 0.5}}, "items.visits.when_empty"),
    ({"callbacks": {"weight": 1, "when_empty": 1.01}}, "items.callbacks.when_empty"),
    ({"visits": {"weight": 1, "levels": ["town"]}}, "items.visits.levels"),
    ({"disputes": {"weight": 1, "levels": ["city"]}}, "items.disputes.levels"),
])
def test_a_wrong_file_is_refused_naming_the_key(items: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named.replace("[", r"\[")):
        rules_from({"items": items})


def _item(key: str, **table):
    return rules_from({"items": {key: {"weight": 10, **table}}}).items[0]


def test_a_count_scores_its_share_of_the_target_capped_at_the_weight() -> None:
    visits = _item("visits")
    assert score_item(visits, {"visits": 59}, 1, 60).score == round(10 * 59 / 60, 2)
    assert score_item(visits, {"visits": 60}, 1, 60).score == 10
    assert score_item(visits, {"visits": 61}, 1, 60).ratio == 1.0
    assert score_item(visits, {}, 1, 60).score == 0
    assert score_item(visits, {"visits": 90}, 3, 60).of == 180  # a unit of three: three quotas
    assert score_item(_item("visits", target=30), {"visits": 30}, 1, 60).score == 10
    assert score_item(_item("hazards"), {"hazards_rectified": 1}, 1, 60).of == 1


def test_a_rate_with_nothing_due_scores_when_empty_and_otherwise_its_ratio() -> None:
    callbacks = _item("callbacks")
    empty = score_item(callbacks, {}, 1, 60)
    assert (empty.ratio, empty.score) == (None, 10)
    assert score_item(_item("callbacks", when_empty=0), {}, 1, 60).score == 0
    assert score_item(callbacks, {"callbacks_due": 4, "callbacks_in_time": 3}, 1, 60).score == 7.5
    assert score_item(callbacks, {"callbacks_due": 4, "callbacks_in_time": 0}, 1, 60).score == 0


def test_disputes_count_the_levels_of_the_file() -> None:
    counts = {"disputes_scene": 1, "disputes_community": 2, "disputes_village": 4, "disputes_town": 8,
              "disputes_escalated_out": 16}
    assert score_item(_item("disputes"), counts, 1, 60).value == 12
    assert score_item(_item("disputes", levels=["community", "village"]), counts, 1, 60).value == 6


def test_rows_are_ranked_by_total_ties_share_a_rank_then_by_id() -> None:
    rules = rules_from({"items": {"visits": {"weight": 10}}})
    rows = score(rules, {"P3": ({"visits": 30}, 1, "G1"), "P1": ({"visits": 30}, 1, "G1"),
                         "P2": ({"visits": 60}, 1, "G2"), "P4": ({}, 1, None)}, 60)
    assert [(r.rank, r.ident, r.total) for r in rows] == [(1, "P2", 10), (2, "P1", 5), (2, "P3", 5), (4, "P4", 0)]


def test_a_fact_counts_once_and_an_unknown_counter_is_refused() -> None:
    sheet = MonthSheet("P1", "2026-11")
    assert sheet.count("rating:r1", {"ratings": 1, "ratings_satisfied": 1})
    assert not sheet.count("rating:r1", {"ratings": 1, "ratings_satisfied": 1})
    assert sheet.counts == {"ratings": 1, "ratings_satisfied": 1}
    with pytest.raises(SheetRefused):
        sheet.count("x", {"likes": 1})
    assert MonthSheet.from_dict(sheet.to_dict()).to_dict() == sheet.to_dict()


def test_the_csv_has_a_bom_each_items_value_and_score_and_an_empty_cell_for_a_rate_without_data() -> None:
    rules = rules_from({"items": {"visits": {"weight": 60}, "callbacks": {"weight": 40, "label": "回访"}}})
    rows = score(rules, {"P1": ({"visits": 30, "callbacks_due": 2, "callbacks_in_time": 1}, 1, "G1"),
                         "P2": ({}, 1, None)}, 60)
    text = sheet_csv(rows, rules, by="officer")
    assert text.startswith(b"\xef\xbb\xbf")
    assert text.decode("utf-8-sig").splitlines() == [
        "排名,民警,所属网格,总分,走访入户,走访入户得分,回访,回访得分",
        "1,P1,G1,50,30/60,30,50.0% (1/2),20",
        "2,P2,,40,0/60,0,,40",
    ]


def test_weights_and_targets_take_any_number_above_their_bound() -> None:
    rules = rules_from({"items": {"visits": {"weight": 0, "target": 0.5}, "hazards": {"weight": 0.5}}})
    assert [(i.weight, i.target) for i in rules.items] == [(0.0, 0.5), (0.5, None)]
    assert rules_from({"items": {"disputes": {"weight": 1, "levels": list(DISPUTE_LEVELS)}}}).items[0].levels == \
        DISPUTE_LEVELS


def test_a_refusal_lists_what_is_known() -> None:
    with pytest.raises(ValueError) as unknown:
        rules_from({"items": {"visit": {"weight": 1}}})
    assert str(unknown.value) == ("unknown scorecard item 'visit'; known: visits, callbacks, satisfaction, disputes, "
                                  "alerts, hazards")
    with pytest.raises(ValueError) as levels:
        rules_from({"items": {"disputes": {"weight": 1, "levels": ["city"]}}})
    assert str(levels.value) == ("items.disputes.levels: levels of scene, community, village, town, escalated_out, "
                                 "for disputes")
    with pytest.raises(ValueError) as empty:
        rules_from({})
    assert str(empty.value) == "the scorecard file needs [items.<name>] tables"


def test_an_items_score_carries_what_the_sheet_shows() -> None:
    counts = {"visits": 20, "callbacks_due": 3, "callbacks_in_time": 1}
    assert score_item(_item("visits", label="走访"), counts, 1, 60) == ItemScore("visits", "走访", 20, 60, 1 / 3,
                                                                                3.33, 10)
    assert score_item(_item("callbacks"), counts, 1, 60) == ItemScore("callbacks", "案件回访及时率", 1, 3, 1 / 3,
                                                                      3.33, 10)
    assert score_item(_item("alerts"), {"alerts_assigned": 1, "alerts_acked": 1}, 1, 60).ratio == 1.0


def test_the_total_is_the_sum_of_the_scores_shown_rounded_to_hundredths() -> None:
    rules = rules_from({"items": {"visits": {"weight": 10}, "hazards": {"weight": 10, "target": 3}}})
    [row] = score(rules, {"P1": ({"visits": 20, "hazards_rectified": 1}, 1, "G1")}, 60)
    assert ([i.score for i in row.items], row.total) == ([3.33, 3.33], 6.66)
    assert (row.rank, row.ident, row.unit_id, row.members) == (1, "P1", "G1", 1)


def test_a_tie_after_a_gap_shares_the_rank_of_its_first() -> None:
    rules = rules_from({"items": {"visits": {"weight": 10}}})
    rows = score(rules, {"P1": ({"visits": 60}, 1, None), "P2": ({"visits": 42}, 1, None),
                         "P3": ({"visits": 30}, 2, None), "P4": ({"visits": 15}, 1, None)}, 60)
    assert [(r.rank, r.ident, r.members) for r in rows] == [(1, "P1", 1), (2, "P2", 1), (3, "P3", 2), (3, "P4", 1)]


def test_facts_add_up_and_a_missing_counter_counts_nothing() -> None:
    sheet = MonthSheet("P1", "2026-11")
    sheet.count("visit:1", {"visits": 1})
    sheet.count("visit:2", {"visits": 1})
    sheet.count("dispute:1", {"disputes_town": 1})
    assert sheet.counts == {"visits": 2, "disputes_town": 1} and sheet.applied == ["visit:1", "visit:2", "dispute:1"]
    assert MonthSheet.from_dict({"officer_id": "P1", "month": "2026-11", "counts": {}}).applied == []
    assert score_item(_item("disputes"), sheet.counts, 1, 60).value == 1
    with pytest.raises(SheetRefused) as refused:
        sheet.count("x", {"likes": 1})
    assert str(refused.value) == "unknown counters ['likes']"


def test_the_settings_refuse_a_station_file_that_cannot_be_read_or_names_a_wrong_key(tmp_path: Path) -> None:
    wrong = tmp_path / "sheet.toml"
    wrong.write_text("[items.visits]\nweigth = 30\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="items.visits: a weight is required"):
        CommunitySettings(scorecard_path=wrong)
    with pytest.raises(ValidationError, match="scorecard file"):
        CommunitySettings(scorecard_path=tmp_path / "missing.toml")
    assert CommunitySettings(scorecard_path=DEFAULT_RULES_PATH).scorecard_path == DEFAULT_RULES_PATH
