"""Risk screening (风险研判): does a dispute report show a threat of violence?

The rules are data, in `risk_rules.toml` next to this module (its header explains the format);
this module only loads and applies them.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

RuleKind = Literal["keywords", "regex", "category"]
RULE_KINDS: tuple[RuleKind, ...] = ("keywords", "regex", "category")
DEFAULT_RULES_PATH = Path(__file__).with_name("risk_rules.toml")
_MASK = "\u25a1"  # keeps offsets, and stops an excluded phrase from joining its neighbours into a hit
_NEGATION_REACH = 12  # characters before a hit searched for a negator and its fillers


@dataclass(frozen=True)
class RiskRule:
    rule_id: str
    label: str
    kind: RuleKind
    patterns: tuple[str, ...]
    weight: int
    exclude: tuple[str, ...] = ()
    negatable: bool = False
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise ValueError(f"risk rule {self.rule_id}: kind must be one of {RULE_KINDS}, not {self.kind!r}")
        if not self.patterns:
            raise ValueError(f"risk rule {self.rule_id}: no patterns")
        if self.kind == "regex":
            regex = re.compile("|".join(f"(?:{p})" for p in self.patterns))
        else:
            regex = re.compile(_alternatives(_normalize(p) for p in self.patterns))
        object.__setattr__(self, "_regex", regex)

    def hit(self, text: str, category: str, negation: re.Pattern[str]) -> str | None:
        """The first matching text (or the category), `text` and `category` already normalised."""
        if self.kind == "category":
            return category if category and self._regex.fullmatch(category) else None
        for phrase in self.exclude:
            text = text.replace(phrase, _MASK * len(phrase))
        for found in self._regex.finditer(text):
            if self.negatable and negation.search(text, max(0, found.start() - _NEGATION_REACH), found.start()):
                continue
            return found.group()
        return None


@dataclass(frozen=True)
class RiskRules:
    threshold: int
    rules: tuple[RiskRule, ...]
    negators: tuple[str, ...] = ()
    negation_fillers: tuple[str, ...] = ()
    _negation: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = [rule.rule_id for rule in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError("risk rule ids must be unique")
        fillers = f"(?:{_alternatives(self.negation_fillers)}){{0,3}}" if self.negation_fillers else ""
        # a negator and its fillers ending exactly where the hit starts; with no negators, never matches
        negation = f"(?:{_alternatives(self.negators)}){fillers}$" if self.negators else "(?!)"
        object.__setattr__(self, "_negation", re.compile(negation))

    def assess(self, text: str, category: str | None = None) -> RiskAssessment:
        text, normalized_category = _normalize(text), _normalize(category or "")
        matched = []
        for rule in self.rules:
            hit = rule.hit(text, normalized_category, self._negation)
            if hit is not None:
                matched.append(RiskMatch(rule.rule_id, rule.label, rule.weight, hit))
        score = sum(match.weight for match in matched)
        return RiskAssessment(high_risk=score >= self.threshold, score=score, matched=tuple(matched))


@dataclass(frozen=True)
class RiskMatch:
    rule_id: str
    label: str
    weight: int
    hit: str  # the text (or category) that matched


@dataclass(frozen=True)
class RiskAssessment:
    high_risk: bool
    score: int
    matched: tuple[RiskMatch, ...]

    @property
    def rule_ids(self) -> list[str]:
        return [match.rule_id for match in self.matched]

    @property
    def labels(self) -> list[str]:
        return [match.label for match in self.matched]


def load_risk_rules(path: Path = DEFAULT_RULES_PATH) -> RiskRules:
    with path.open("rb") as file:
        data: dict[str, Any] = tomllib.load(file)
    return RiskRules(
        threshold=int(data["threshold"]),
        negators=tuple(data.get("negators", ())),
        negation_fillers=tuple(data.get("negation_fillers", ())),
        rules=tuple(
            RiskRule(
                rule_id=rule["id"],
                label=rule["label"],
                kind=rule["kind"],
                patterns=tuple(rule["patterns"]),
                weight=int(rule["weight"]),
                exclude=tuple(_normalize(p) for p in rule.get("exclude", ())),
                negatable=bool(rule.get("negatable", False)),
            )
            for rule in data["rules"]
        ),
    )


@cache
def default_risk_rules() -> RiskRules:
    """The packaged rules, read once on first use."""
    return load_risk_rules()


def assess_risk(text: str, category: str | None = None, *, rules: RiskRules | None = None) -> RiskAssessment:
    return (rules or default_risk_rules()).assess(text, category)


def _normalize(text: str) -> str:
    """Full-width → half-width, lower case, no white space: "扬言 要用 刀" reads as "扬言要用刀"."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
