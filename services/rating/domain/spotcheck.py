"""Spot checks (抽查电话回访确认真实性): each week, a sample of each officer's SMS ratings is called back.

`draw_sample(week, officer_id, rating_ids)`: ceil(share × n) ratings, at least `minimum` (default
10 %, at least one; never more than n; none of none), drawn by `random.Random` seeded from
sha256(week, officer_id) over the ids sorted: the same stored ratings give the same sample
whatever order the store returns them in. `draw_spot_checks(week, ratings)` applies it to the
counted SMS ratings of that week, per officer (a rating without an officer is not sampled), once
the week is over; the check id is derived from the rating, so drawing twice stores nothing twice.

| command | allowed in state        | new state                         |
|---------|-------------------------|-----------------------------------|
| draw    | —                       | pending                           |
| record  | pending, unreachable    | confirmed, denied or unreachable  |

`unreachable` can be tried again; confirmed and denied are final. On `denied` the service calls
`Rating.exclude`: the rating leaves the report and counts against nobody.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, ClassVar, Literal, get_args

from rating.domain import events as ev
from rating.domain.model import Rating, RatingRefused, Record
from rating.domain.surveys import require_aware

Outcome = Literal["confirmed", "denied", "unreachable"]
CheckState = Literal["pending", "confirmed", "denied", "unreachable"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
CHECK_STATES: tuple[CheckState, ...] = get_args(CheckState)
SPOT_CHECK_SHARE = 0.10
SPOT_CHECK_MINIMUM = 1


def sample_size(n: int, *, share: float = SPOT_CHECK_SHARE, minimum: int = SPOT_CHECK_MINIMUM) -> int:
    if not 0 <= share <= 1 or minimum < 0:
        raise ValueError("share is between 0 and 1 and minimum is not negative")
    if n <= 0:
        return 0
    exact = math.ceil(Fraction(str(share)) * n)  # 10 % of 30 is 3, not ceil(3.0000000000000004)
    return min(n, max(minimum, exact))


def draw_sample(
    week: str,
    officer_id: str,
    rating_ids: Iterable[str],
    *,
    share: float = SPOT_CHECK_SHARE,
    minimum: int = SPOT_CHECK_MINIMUM,
) -> list[str]:
    """The sampled rating ids, sorted."""
    population = sorted(set(rating_ids))
    seed = int.from_bytes(hashlib.sha256(f"{week}\x1f{officer_id}".encode()).digest()[:8], "big")
    size = sample_size(len(population), share=share, minimum=minimum)
    return sorted(random.Random(seed).sample(population, size))


def spot_check_id(rating_id: str) -> str:
    return "sc-" + rating_id


@dataclass(eq=False)
class SpotCheck(Record):
    all_states: ClassVar[tuple[str, ...]] = CHECK_STATES

    check_id: str
    week: str
    rating_id: str
    officer_id: str
    unit_id: str | None
    drawn_at: datetime
    state: CheckState = "pending"
    checked_at: datetime | None = None
    checked_by: str | None = None
    note: str = ""

    _DATETIMES = ("drawn_at", "checked_at")

    @classmethod
    def draw(cls, rating: Rating, *, now: datetime) -> SpotCheck:
        require_aware(now)
        if rating.officer_id is None:
            raise RatingRefused(f"rating {rating.rating_id} names no officer: nothing to check against")
        check = cls(
            check_id=spot_check_id(rating.rating_id),
            week=rating.week,
            rating_id=rating.rating_id,
            officer_id=rating.officer_id,
            unit_id=rating.unit_id,
            drawn_at=now,
        )
        check._record(now=now, actor="system", action="draw", from_state=None)
        return check

    def record(self, outcome: str, *, now: datetime, actor: str, note: str = "") -> None:
        """What the call back found."""
        self._allow("record", now, {"pending", "unreachable"})
        if outcome not in OUTCOMES:
            raise RatingRefused(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        previous = self.state
        self.state, self.checked_at, self.checked_by, self.note = outcome, now, actor, note  # type: ignore[assignment]
        self._record(now=now, actor=actor, action=f"record: {outcome}", from_state=previous, note=note)
        self.events.append(
            ev.SpotCheckRecorded(at=now, check_id=self.check_id, rating_id=self.rating_id, outcome=outcome, actor=actor)
        )

    @property
    def ident(self) -> str:
        return self.check_id

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> SpotCheck:
        return cls(**cls._values(doc))


def draw_spot_checks(
    week: str,
    ratings: Sequence[Rating],
    *,
    now: datetime,
    share: float = SPOT_CHECK_SHARE,
    minimum: int = SPOT_CHECK_MINIMUM,
) -> list[SpotCheck]:
    """The week's checks: per officer, a sample of their counted SMS ratings of `week`."""
    eligible: dict[str, dict[str, Rating]] = {}
    for rating in ratings:
        if rating.week == week and rating.channel == "sms" and rating.state == "counted" and rating.officer_id:
            eligible.setdefault(rating.officer_id, {})[rating.rating_id] = rating
    checks = []
    for officer_id in sorted(eligible):
        by_id = eligible[officer_id]
        for rating_id in draw_sample(week, officer_id, by_id, share=share, minimum=minimum):
            checks.append(SpotCheck.draw(by_id[rating_id], now=now))
    return checks
