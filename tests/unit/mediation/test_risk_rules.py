"""Risk screening on realistic report texts; the rules themselves are data (risk_rules.toml)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mediation.domain import assess_risk, load_risk_rules

HIGH_RISK = [
    ("楼上楼下两户居民为烧烤排烟问题经常吵架,一方还扬言要用刀砍对方", None, {"weapon", "intimidation"}),
    ("赵某称如果再不还钱就拿斧头去他家讨说法", None, {"weapon"}),
    ("男子因宅基地纠纷持菜刀追赶邻居,被群众拦下", None, {"weapon"}),
    ("黄某情绪激动,称要喝农药死在对方家门口", None, {"self_harm"}),
    ("员工讨薪未果,站在工地楼顶扬言跳楼", "labour", {"self_harm", "intimidation"}),
    ("老人与儿子因赡养问题争吵,老人说不想活了,要死给儿子看", None, {"self_harm"}),
    ("女方家长不肯退还礼金,男方多次表示要报复女方一家", None, {"revenge"}),
    ("两村村民因山林权属纠纷,一方纠集十余人准备械斗", None, {"group_fight"}),
    ("因宅基地纠纷,对方叫了一帮人来家门口闹事", None, {"group_fight"}),
    ("薛某说再不赔钱就打死他", None, {"kill_threat"}),
    ("债务纠纷中,欠款人拎着一桶汽油堵在债主门口", None, {"arson"}),
    ("邻居扬言要一把火烧了他家房子", None, {"intimidation", "arson"}),
    ("妻子反映丈夫长期家暴,要求调解离婚财产问题", "family", {"domestic_violence"}),
    ("双方因停车问题互相推搡,一方放话让对方走着瞧", None, {"assault", "intimidation"}),
    ("邻里纠纷", "violence", {"violence_category"}),
    ("对方说要杀了他全家", None, {"kill_threat"}),
    ("扬言 要用 刀 砍 对方", None, {"weapon", "intimidation"}),  # spaces do not hide a threat
    ("ＴＡ说要拿刀捅人", None, {"weapon"}),  # full-width letters are normalised too
]

NOT_HIGH_RISK = [
    ("楼上楼下因烧烤排烟问题经常吵架,互不相让", None, set()),
    ("两家因围墙土地归属发生争执,双方都表示不会动手", None, set()),
    ("邻居反映对方没有打人,只是言语上有争执", None, set()),
    ("楼下刀削面馆油烟扰民,居民多次投诉", None, set()),
    ("商场打出跳楼价广告,顾客与店主因退货发生争执", None, set()),
    ("村民因砍树引发山林权属纠纷", None, set()),
    ("合伙跑运输,双方因汽油费分摊发生争执", None, set()),
    ("王奶奶在楼道堆放废品,邻居宋先生不满报警", "neighbour", set()),
    ("民警到场时双方并未携带任何刀具,情绪稳定", None, set()),
    ("女方家长不肯退还相亲礼金,男方要求协商解决", None, set()),
    ("他说打死也不同意拆除自家围墙", None, set()),
    ("儿子毕业后报复性消费欠下网贷,与父母发生争吵", None, set()),
    ("广场舞音响噪音扰民,居民要求限制音量", "noise", set()),
    ("家属反映其情绪低落,但没有自杀倾向", None, set()),
    ("双方因停车问题发生争执,互相推搡", None, {"assault"}),  # a scuffle alone is not a threat
    ("楼下住户威胁要去物业投诉", None, {"intimidation"}),  # words alone are not a threat of violence
    ("患者家属对开刀费用有异议,与诊所发生纠纷", None, set()),
]


@pytest.mark.parametrize(("text", "category", "rule_ids"), HIGH_RISK)
def test_threats_of_violence_are_high_risk(text: str, category: str | None, rule_ids: set[str]) -> None:
    assessment = assess_risk(text, category)

    assert assessment.high_risk
    assert set(assessment.rule_ids) == rule_ids


@pytest.mark.parametrize(("text", "category", "rule_ids"), NOT_HIGH_RISK)
def test_ordinary_disputes_are_not_high_risk(text: str, category: str | None, rule_ids: set[str]) -> None:
    assessment = assess_risk(text, category)

    assert not assessment.high_risk
    assert set(assessment.rule_ids) == rule_ids


def test_an_assessment_says_what_matched_and_why() -> None:
    assessment = assess_risk("一方扬言要用刀砍对方")

    assert assessment.score == 15
    assert [(m.rule_id, m.label, m.weight, m.hit) for m in assessment.matched] == [
        ("weapon", "持械或扬言使用凶器", 10, "刀"),
        ("intimidation", "言语威胁恐吓", 5, "扬言"),
    ]


def test_a_negated_hit_does_not_hide_a_later_one() -> None:
    assert assess_risk("他说不会动手,结果当晚还是动手打人了").rule_ids == ["assault"]


def test_the_packaged_rules_load_and_cover_the_issue_vocabulary() -> None:
    rules = load_risk_rules()

    assert rules.threshold == 10
    assert {r.rule_id for r in rules.rules} >= {"weapon", "self_harm", "revenge", "kill_threat", "group_fight"}
    assert {r.kind for r in rules.rules} == {"keywords", "regex", "category"}


DOG_RULE = """
[[rules]]
id = "dog"
label = "恶犬伤人"
kind = "regex"
patterns = ["放狗(咬|追)"]
weight = 10
exclude = ["放狗追球"]
negatable = true
"""
HEADER = """
threshold = 10
negators = ["不", "没"]
negation_fillers = ["会"]
"""
RULES_TOML = HEADER + DOG_RULE


def test_rules_are_data(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(RULES_TOML, encoding="utf-8")
    rules = load_risk_rules(path)

    assert assess_risk("他扬言要放狗咬人", rules=rules).rule_ids == ["dog"]
    assert not assess_risk("他说不会放狗咬人", rules=rules).high_risk
    assert not assess_risk("孩子在院里放狗追球", rules=rules).high_risk


@pytest.mark.parametrize(
    ("replace", "by", "error"),
    [
        ('kind = "regex"', 'kind = "fuzzy"', ValueError),
        ('patterns = ["放狗(咬|追)"]', "patterns = []", ValueError),
        ('patterns = ["放狗(咬|追)"]', 'patterns = ["放狗(咬"]', re.error),
    ],
)
def test_a_broken_rule_file_fails_at_load(tmp_path: Path, replace: str, by: str, error: type[Exception]) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(RULES_TOML.replace(replace, by), encoding="utf-8")

    with pytest.raises(error):
        load_risk_rules(path)


def test_rule_ids_are_unique(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(RULES_TOML + DOG_RULE, encoding="utf-8")

    with pytest.raises(ValueError, match="unique"):
        load_risk_rules(path)
