"""The station's figures: resolved per level, 小纠纷不出村、大矛盾不出镇, escalations out, medians."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from mediation.domain import Agreement, Dispute, dispute_stats

HOUR = timedelta(hours=1)
MakeDispute = Callable[..., Dispute]
AgreementFor = Callable[..., Agreement]


def test_no_disputes() -> None:
    stats = dispute_stats([])

    assert (stats.opened, stats.resolved, stats.escalated_out) == (0, 0, 0)
    assert stats.resolved_by_level == {"scene": 0, "community": 0, "village": 0, "town": 0, "escalated_out": 0}
    assert (stats.settled_in_village_share, stats.settled_in_town_share) == (None, None)
    assert (stats.median_seconds_to_first_contact, stats.median_seconds_to_resolution) == (None, None)


def test_a_period_of_disputes(make_dispute: MakeDispute, agreement_for: AgreementFor) -> None:
    def opened(n: int, **overrides: object) -> Dispute:
        return make_dispute(dispute_id=f"D-{n}", **overrides)

    def step(d: Dispute, hours: float, action: str, **kwargs: object) -> None:
        getattr(d, action)(now=d.reported_at + hours * HOUR, actor="P1001", **kwargs)

    at_community = opened(1)
    step(at_community, 1, "contact")
    step(at_community, 10, "resolve", agreement=agreement_for(at_community))

    at_village = opened(2)
    step(at_village, 3, "contact")
    step(at_village, 4, "escalate")
    step(at_village, 30, "resolve", agreement=agreement_for(at_village))

    at_town = opened(3)
    step(at_town, 5, "contact")
    step(at_town, 6, "escalate", to_level="town", reason="跨村纠纷")
    step(at_town, 50, "resolve", agreement=agreement_for(at_town))

    out = opened(4)
    step(out, 2, "contact")
    step(out, 8, "escalate", to_level="escalated_out", reason="涉及征地补偿,移交县信访部门")

    closed_overdue = opened(5)
    closed_overdue.check_deadlines(closed_overdue.reported_at + 25 * HOUR)
    step(closed_overdue, 26, "close_unresolved", reason="当事人已起诉", referred_to="court")

    reopened = opened(6, recurrence_of="D-1", summary="对方扬言要报复")
    step(reopened, 2, "contact")
    step(reopened, 3, "resolve", agreement=agreement_for(reopened))
    step(reopened, 100, "reopen", reason="协议未履行")

    stats = dispute_stats([at_community, at_village, at_town, out, closed_overdue, reopened])

    assert (stats.opened, stats.resolved) == (6, 3)
    assert stats.resolved_by_level == {"scene": 0, "community": 1, "village": 1, "town": 1, "escalated_out": 0}
    assert stats.settled_in_village_share == 2 / 6
    assert stats.settled_in_town_share == 3 / 6
    assert (stats.escalated_out, stats.closed_unresolved, stats.overdue) == (1, 1, 1)
    assert (stats.recurrences, stats.high_risk) == (1, 1)
    assert stats.median_seconds_to_first_contact == 2 * 3600  # of 1, 2, 2, 3 and 5 hours; D-5 was never contacted
    assert stats.median_seconds_to_resolution == 30 * 3600  # of 10, 30 and 50 hours
