"""事不过夜 (first contact by its deadline) and the 7-day follow-up, evaluated against explicit `now`s."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from mediation.domain import Agreement, Dispute, DisputeFollowupDue, DisputeOverdue

SECOND, HOUR, DAY = timedelta(seconds=1), timedelta(hours=1), timedelta(days=1)
MakeDispute = Callable[..., Dispute]
AgreementFor = Callable[..., Agreement]


def reloaded(dispute: Dispute) -> Dispute:
    return Dispute.from_dict(dispute.to_dict())


def resolved(make_dispute: MakeDispute, agreement_for: AgreementFor) -> Dispute:
    """Contacted after one hour, resolved after five: its follow-up is due at `followup_due(dispute)`."""
    dispute = make_dispute()
    dispute.contact(now=dispute.reported_at + HOUR, actor="P1001")
    dispute.resolve(now=dispute.reported_at + 5 * HOUR, actor="P1001", agreement=agreement_for(dispute))
    return dispute


def followup_due(dispute: Dispute) -> datetime:
    return dispute.reported_at + 5 * HOUR + 7 * DAY


# --- first contact by its deadline ------------------------------------------------------------


def test_overdue_fires_at_the_deadline_and_only_once(make_dispute: MakeDispute) -> None:
    dispute = make_dispute()
    due = dispute.first_contact_due_at

    assert dispute.check_deadlines(due - SECOND) == []

    fired = dispute.check_deadlines(due)
    assert fired == [
        DisputeOverdue(dispute_id="D-1", at=due, due_at=due, level="community", unit_id="G1", officer_id="P1001")
    ]
    assert dispute.events[-1] == fired[0]
    assert (dispute.overdue, dispute.overdue_flagged_at) == (True, due)
    assert (dispute.history[-1].actor, dispute.history[-1].action) == ("system", "overdue")

    assert dispute.check_deadlines(due + SECOND) == []
    assert dispute.check_deadlines(due + 3 * DAY) == []


def test_overdue_survives_a_round_trip_before_and_after_firing(make_dispute: MakeDispute) -> None:
    dispute = reloaded(make_dispute())
    due = dispute.first_contact_due_at

    assert reloaded(dispute).check_deadlines(due - SECOND) == []
    dispute = reloaded(dispute)
    assert [type(e) for e in dispute.check_deadlines(due + HOUR)] == [DisputeOverdue]
    assert reloaded(dispute).check_deadlines(due + 2 * HOUR) == []


def test_a_contact_in_time_is_never_overdue(make_dispute: MakeDispute) -> None:
    dispute = make_dispute()
    dispute.contact(now=dispute.first_contact_due_at - SECOND, actor="P1001")

    assert dispute.next_due_at is None
    assert dispute.check_deadlines(dispute.reported_at + 2 * DAY) == []
    assert not dispute.overdue


def test_a_late_contact_before_any_sweep_is_counted_overdue_without_an_alarm(make_dispute: MakeDispute) -> None:
    dispute = make_dispute()
    late = dispute.first_contact_due_at + 6 * HOUR
    dispute.contact(now=late, actor="P1001")

    assert (dispute.overdue, dispute.overdue_flagged_at) == (True, late)
    assert not any(isinstance(e, DisputeOverdue) for e in dispute.events)
    assert dispute.check_deadlines(late + HOUR) == []


def test_contact_after_the_overdue_flag_keeps_the_flag(make_dispute: MakeDispute) -> None:
    dispute = make_dispute()
    due = dispute.first_contact_due_at
    dispute.check_deadlines(due)
    dispute.contact(now=due + HOUR, actor="P1001")

    assert (dispute.overdue, dispute.overdue_flagged_at, dispute.first_contact_at) == (True, due, due + HOUR)


def test_an_escalated_dispute_without_contact_still_falls_overdue(make_dispute: MakeDispute) -> None:
    dispute = make_dispute(source="alert", source_ref="110-1", summary="对方扬言要打死他")
    assert dispute.state == "escalated"

    assert [type(e) for e in dispute.check_deadlines(dispute.reported_at + DAY)] == [DisputeOverdue]


def test_a_dispute_closed_before_contact_is_not_overdue(make_dispute: MakeDispute) -> None:
    dispute = make_dispute()
    dispute.close_unresolved(now=dispute.reported_at + HOUR, actor="P1001", reason="当事人已起诉", referred_to="court")

    assert dispute.next_due_at is None
    assert dispute.check_deadlines(dispute.reported_at + 2 * DAY) == []


# --- follow-up 7 days after resolution ---------------------------------------------------------


def test_followup_is_due_7_days_after_resolution_and_fires_once(
    make_dispute: MakeDispute, agreement_for: AgreementFor
) -> None:
    dispute = resolved(make_dispute, agreement_for)
    due = followup_due(dispute)
    assert dispute.followup_due_at == due

    assert dispute.check_deadlines(due - SECOND) == []
    fired = dispute.check_deadlines(due)
    assert fired == [DisputeFollowupDue(dispute_id="D-1", at=due, due_at=due, unit_id="G1", officer_id="P1001")]
    assert (dispute.followup_notified, dispute.history[-1].action) == (True, "followup_due")
    assert dispute.check_deadlines(due + DAY) == []
    assert reloaded(dispute).check_deadlines(due + 2 * DAY) == []


def test_followup_survives_a_round_trip_before_it_is_due(
    make_dispute: MakeDispute, agreement_for: AgreementFor
) -> None:
    dispute = reloaded(resolved(make_dispute, agreement_for))

    assert [type(e) for e in dispute.check_deadlines(followup_due(dispute))] == [DisputeFollowupDue]


def test_a_followup_done_early_needs_no_reminder(make_dispute: MakeDispute, agreement_for: AgreementFor) -> None:
    dispute = resolved(make_dispute, agreement_for)
    dispute.record_followup(now=dispute.reported_at + 5 * DAY, actor="P1001", note="双方关系缓和")

    assert dispute.next_due_at is None
    assert dispute.check_deadlines(dispute.reported_at + 10 * DAY) == []


def test_reopening_cancels_the_followup_and_a_new_resolution_sets_a_new_one(
    make_dispute: MakeDispute, agreement_for: AgreementFor
) -> None:
    dispute = resolved(make_dispute, agreement_for)
    first_due = followup_due(dispute)
    dispute.check_deadlines(first_due)
    dispute.reopen(now=first_due + HOUR, actor="P1001", reason="回访发现矛盾反复")
    assert dispute.next_due_at is None

    dispute.contact(now=first_due + 2 * HOUR, actor="P1001")
    resolved_again = first_due + DAY
    dispute.resolve(now=resolved_again, actor="P1001", agreement=agreement_for(dispute))
    assert (dispute.followup_due_at, dispute.followup_notified) == (resolved_again + 7 * DAY, False)
    assert dispute.check_deadlines(resolved_again + 7 * DAY - SECOND) == []
    assert [type(e) for e in dispute.check_deadlines(resolved_again + 7 * DAY)] == [DisputeFollowupDue]


def test_next_due_at_is_the_deadline_a_sweep_looks_for(make_dispute: MakeDispute, agreement_for: AgreementFor) -> None:
    late = make_dispute()
    seen = [late.next_due_at]
    late.check_deadlines(late.reported_at + DAY)
    seen.append(late.next_due_at)
    settled = resolved(make_dispute, agreement_for)
    seen.append(settled.next_due_at)
    settled.check_deadlines(followup_due(settled))
    seen.append(settled.next_due_at)

    assert seen == [late.first_contact_due_at, None, followup_due(settled), None]
    assert settled.to_dict()["next_due_at"] is None


def test_check_deadlines_needs_an_aware_now(make_dispute: MakeDispute) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_dispute().check_deadlines(datetime(2026, 11, 25))
