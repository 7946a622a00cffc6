"""Every allowed transition of the dispute aggregate and every refusal, with its reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.domain import Refusal
from mediation.domain import (
    Agreement,
    Dispute,
    DisputeClosedUnresolved,
    DisputeContacted,
    DisputeEscalated,
    DisputeHighRisk,
    DisputeOpened,
    DisputeRefused,
    DisputeReopened,
    DisputeResolved,
    Party,
)

HOUR = timedelta(hours=1)
MakeDispute = Callable[..., Dispute]
AgreementFor = Callable[..., Agreement]


def at(dispute: Dispute, hours: float) -> datetime:
    return dispute.reported_at + timedelta(hours=hours)


def refused(command: Callable[[], object], *fragments: str) -> str:
    with pytest.raises(DisputeRefused) as caught:
        command()
    for fragment in fragments:
        assert fragment in caught.value.reason
    return caught.value.reason


# --- open --------------------------------------------------------------------------------------


def test_open_from_a_visit_is_reported_at_the_community_gate(make_dispute: MakeDispute) -> None:
    dispute = make_dispute()

    assert (dispute.state, dispute.level, dispute.high_risk) == ("reported", "community", False)
    assert dispute.first_contact_due_at == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 24:00 at the station
    assert dispute.version == 0
    [entry] = dispute.history
    assert (entry.actor, entry.action, entry.from_state, entry.to_state, entry.level) == (
        "P1001",
        "open",
        None,
        "reported",
        "community",
    )
    [opened] = dispute.events
    assert isinstance(opened, DisputeOpened)
    assert (opened.dispute_id, opened.source, opened.level, opened.high_risk) == ("D-1", "visit", "community", False)


def test_open_from_an_alert_starts_at_the_scene_gate_and_keeps_the_alert(make_dispute: MakeDispute) -> None:
    dispute = make_dispute(source="alert", source_ref="110-20261123-000123", officer_id="P2002")

    assert (dispute.level, dispute.source_ref, dispute.officer_id) == ("scene", "110-20261123-000123", "P2002")


@pytest.mark.parametrize("source", ["informant", "desk"])
def test_open_from_an_informant_or_the_desk_starts_at_community(make_dispute: MakeDispute, source: str) -> None:
    assert make_dispute(source=source).level == "community"


def test_open_links_a_recurrence(make_dispute: MakeDispute) -> None:
    dispute = make_dispute(recurrence_of="D-0")

    opened = dispute.events[0]
    assert isinstance(opened, DisputeOpened)
    assert (dispute.recurrence_of, opened.recurrence_of) == ("D-0", "D-0")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"source": "wechat"}, "unknown source 'wechat'"),
        ({"source": "alert"}, "needs the alert_id as source_ref"),
        ({"parties": []}, "at least one party"),
        ({"parties": [Party("p1", "王某"), Party("p1", "宋某")]}, "party ids must be unique"),
        ({"parties": [Party("witness", "王某")]}, "signer keys, not party ids"),
    ],
)
def test_open_refuses_an_invalid_report(make_dispute: MakeDispute, overrides: dict[str, Any], reason: str) -> None:
    refused(lambda: make_dispute(**overrides), reason)


def test_open_needs_an_aware_time(make_dispute: MakeDispute) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_dispute(reported_at=datetime(2026, 11, 23, 8, 15))


# --- high risk ---------------------------------------------------------------------------------


def test_a_high_risk_alert_is_escalated_at_once_to_community(make_dispute: MakeDispute) -> None:
    dispute = make_dispute(source="alert", source_ref="110-1", summary="楼上楼下为烧烤排烟吵架,一方扬言要用刀砍对方")

    assert (dispute.state, dispute.level, dispute.high_risk) == ("escalated", "community", True)
    assert dispute.risk_matches == ["weapon", "intimidation"]
    assert [type(e) for e in dispute.events] == [DisputeOpened, DisputeHighRisk, DisputeEscalated]
    opened, high_risk, escalated = dispute.events
    assert isinstance(opened, DisputeOpened) and opened.high_risk
    assert isinstance(high_risk, DisputeHighRisk) and high_risk.risk_matches == ("weapon", "intimidation")
    assert isinstance(escalated, DisputeEscalated)
    assert (escalated.from_level, escalated.to_level, escalated.actor) == ("scene", "community", "system")
    assert [(h.action, h.actor, h.to_state, h.level) for h in dispute.history] == [
        ("open", "P1001", "reported", "scene"),
        ("escalate", "system", "escalated", "community"),
    ]
    assert "持械或扬言使用凶器" in dispute.history[1].note
    # still waiting for its first contact, which is then possible and keeps the escalated state
    dispute.contact(now=at(dispute, 0.5), actor="P1001")
    assert (dispute.state, dispute.first_contact_at) == ("escalated", at(dispute, 0.5))


def test_a_high_risk_report_at_community_keeps_its_level_and_is_flagged(make_dispute: MakeDispute) -> None:
    dispute = make_dispute(summary="邻居称对方拎着一桶汽油堵在自家门口")

    assert (dispute.state, dispute.level, dispute.high_risk, dispute.risk_matches) == (
        "reported",
        "community",
        True,
        ["arson"],
    )
    assert [type(e) for e in dispute.events] == [DisputeOpened, DisputeHighRisk]


def test_a_violence_category_alone_is_high_risk(make_dispute: MakeDispute) -> None:
    assert make_dispute(category="violence", summary="邻里纠纷").high_risk


# --- contact -----------------------------------------------------------------------------------


def test_contact_moves_reported_to_mediating(make_dispute: MakeDispute) -> None:
    dispute = make_dispute()
    dispute.contact(now=at(dispute, 2), actor="P1001", note="电话联系双方")

    assert (dispute.state, dispute.first_contact_at, dispute.overdue) == ("mediating", at(dispute, 2), False)
    assert dispute.events[-1] == DisputeContacted(dispute_id="D-1", at=at(dispute, 2), actor="P1001", first=True)
    assert (dispute.history[-1].from_state, dispute.history[-1].to_state, dispute.history[-1].note) == (
        "reported",
        "mediating",
        "电话联系双方",
    )


def test_a_later_contact_is_logged_but_the_first_stays(contacted: Dispute) -> None:
    contacted.contact(now=at(contacted, 5), actor="P1002", note="再次上门")

    assert (contacted.state, contacted.first_contact_at) == ("mediating", at(contacted, 1))
    assert contacted.events[-1] == DisputeContacted(dispute_id="D-1", at=at(contacted, 5), actor="P1002", first=False)
    assert contacted.history[-1].actor == "P1002"


# --- escalate ----------------------------------------------------------------------------------


def test_escalate_goes_to_the_next_gate_and_mediation_goes_on(contacted: Dispute) -> None:
    contacted.escalate(now=at(contacted, 3), actor="P1001", reason="双方分歧大,请村居干部介入")

    assert (contacted.state, contacted.level) == ("escalated", "village")
    assert contacted.events[-1] == DisputeEscalated(
        dispute_id="D-1",
        at=at(contacted, 3),
        actor="P1001",
        from_level="community",
        to_level="village",
        reason="双方分歧大,请村居干部介入",
    )
    contacted.contact(now=at(contacted, 4), actor="村干部C01")
    assert contacted.state == "escalated"
    contacted.escalate(now=at(contacted, 5), actor="村干部C01")
    assert (contacted.state, contacted.level) == ("escalated", "town")


def test_escalate_all_the_way_out_and_no_further(contacted: Dispute) -> None:
    for hours, level in [(2, "village"), (3, "town"), (4, "escalated_out")]:
        contacted.escalate(now=at(contacted, hours), actor="P1001")
        assert contacted.level == level

    refused(lambda: contacted.escalate(now=at(contacted, 5), actor="P1001"), "already escalated out", "no level above")
    refused(
        lambda: contacted.escalate(now=at(contacted, 5), actor="P1001", to_level="escalated_out", reason="再上交"),
        "already escalated out",
    )


def test_skipping_a_gate_needs_a_reason(contacted: Dispute) -> None:
    refused(
        lambda: contacted.escalate(now=at(contacted, 2), actor="P1001", to_level="town"),
        "skips village",
        "give a reason",
    )
    refused(
        lambda: contacted.escalate(now=at(contacted, 2), actor="P1001", to_level="escalated_out", reason="  "),
        "skips village, town",
    )

    contacted.escalate(now=at(contacted, 2), actor="P1001", to_level="town", reason="涉及两个村的山林权属")
    assert (contacted.level, contacted.history[-1].note) == ("town", "涉及两个村的山林权属")


@pytest.mark.parametrize(
    ("to_level", "reason"),
    [("community", "not a higher level"), ("scene", "not a higher level"), ("county", "unknown level 'county'")],
)
def test_escalate_refuses_a_level_that_is_not_higher(contacted: Dispute, to_level: str, reason: str) -> None:
    refused(lambda: contacted.escalate(now=at(contacted, 2), actor="P1001", to_level=to_level, reason="x"), reason)


def test_escalate_before_any_contact_then_resolve_needs_the_contact(
    make_dispute: MakeDispute, agreement_for: AgreementFor
) -> None:
    dispute = make_dispute()
    dispute.escalate(now=at(dispute, 1), actor="P1001")
    assert (dispute.state, dispute.level) == ("escalated", "village")

    refused(
        lambda: dispute.resolve(now=at(dispute, 2), actor="C01", agreement=agreement_for(dispute)),
        "no contact with the parties",
    )

    dispute.contact(now=at(dispute, 3), actor="C01")
    dispute.resolve(now=at(dispute, 4), actor="C01", agreement=agreement_for(dispute))
    assert (dispute.state, dispute.level) == ("resolved", "village")


# --- resolve -----------------------------------------------------------------------------------


def test_resolve_with_every_signature(contacted: Dispute, agreement_for: AgreementFor) -> None:
    agreement = agreement_for(contacted)
    contacted.resolve(now=at(contacted, 6), actor="P1001", agreement=agreement)

    assert (contacted.state, contacted.level, contacted.agreement) == ("resolved", "community", agreement)
    assert (contacted.resolved_at, contacted.followup_due_at) == (at(contacted, 6), at(contacted, 6 + 7 * 24))
    assert contacted.events[-1] == DisputeResolved(
        dispute_id="D-1", at=at(contacted, 6), actor="P1001", level="community", followup_due_at=at(contacted, 174)
    )
    assert contacted.history[-1].note == agreement.terms


def test_resolve_names_every_missing_signer(contacted: Dispute) -> None:
    agreement = Agreement("赔偿医药费500元", {"p1": "王某", "p2": " "})

    reason = refused(lambda: contacted.resolve(now=at(contacted, 6), actor="P1001", agreement=agreement))

    assert reason == "the agreement lacks the signature of: p2 (宋某), mediator, witness"
    assert contacted.state == "mediating"


@pytest.mark.parametrize("missing", ["p1", "p2", "mediator", "witness"])
def test_resolve_needs_each_signer(contacted: Dispute, agreement_for: AgreementFor, missing: str) -> None:
    full = agreement_for(contacted)
    agreement = Agreement(full.terms, {k: v for k, v in full.signatures.items() if k != missing})

    refused(lambda: contacted.resolve(now=at(contacted, 6), actor="P1001", agreement=agreement), missing)


def test_resolve_needs_terms(contacted: Dispute, agreement_for: AgreementFor) -> None:
    agreement = Agreement("  ", agreement_for(contacted).signatures)

    refused(lambda: contacted.resolve(now=at(contacted, 6), actor="P1001", agreement=agreement), "no terms")


def test_resolve_is_refused_before_contact(make_dispute: MakeDispute, agreement_for: AgreementFor) -> None:
    dispute = make_dispute()

    refused(
        lambda: dispute.resolve(now=at(dispute, 1), actor="P1001", agreement=agreement_for(dispute)),
        "cannot resolve dispute D-1: it is reported",
        "allowed when mediating, escalated",
    )


def test_resolve_at_escalated_out_when_the_body_reports_back(contacted: Dispute, agreement_for: AgreementFor) -> None:
    contacted.escalate(now=at(contacted, 2), actor="P1001", to_level="escalated_out", reason="涉及征地补偿,移交县里")
    contacted.resolve(now=at(contacted, 200), actor="P1001", agreement=agreement_for(contacted))

    assert (contacted.state, contacted.level) == ("resolved", "escalated_out")


# --- close unresolved --------------------------------------------------------------------------


def _in_state(state: str, make_dispute: MakeDispute, agreement_for: AgreementFor) -> Dispute:
    dispute = make_dispute()
    if state in ("mediating", "resolved", "reopened"):
        dispute.contact(now=at(dispute, 1), actor="P1001")
    if state == "escalated":
        dispute.escalate(now=at(dispute, 1), actor="P1001")
    if state in ("resolved", "reopened"):
        dispute.resolve(now=at(dispute, 2), actor="P1001", agreement=agreement_for(dispute))
    if state == "reopened":
        dispute.reopen(now=at(dispute, 3), actor="P1001", reason="对方未按协议加装排烟管道")
    if state == "closed_unresolved":
        dispute.close_unresolved(now=at(dispute, 1), actor="P1001", reason="当事人坚持诉讼", referred_to="court")
    assert dispute.state == state
    return dispute


@pytest.mark.parametrize("state", ["reported", "mediating", "escalated", "reopened"])
@pytest.mark.parametrize("referred_to", ["court", "petition", "other"])
def test_close_unresolved_from_every_open_state(
    make_dispute: MakeDispute, agreement_for: AgreementFor, state: str, referred_to: str
) -> None:
    dispute = _in_state(state, make_dispute, agreement_for)
    dispute.close_unresolved(
        now=at(dispute, 10), actor="P1001", reason="调解不成,引导当事人诉讼", referred_to=referred_to
    )

    assert (dispute.state, dispute.referred_to) == ("closed_unresolved", referred_to)
    assert dispute.events[-1] == DisputeClosedUnresolved(
        dispute_id="D-1",
        at=at(dispute, 10),
        actor="P1001",
        level=dispute.level,
        referred_to=referred_to,
        reason="调解不成,引导当事人诉讼",
    )
    assert (dispute.history[-1].from_state, dispute.history[-1].to_state) == (state, "closed_unresolved")


def test_close_unresolved_needs_a_known_body_and_a_reason(contacted: Dispute) -> None:
    refused(
        lambda: contacted.close_unresolved(now=at(contacted, 2), actor="P1001", reason="x", referred_to="media"),
        "referred_to must be one of court, petition, other",
    )
    refused(
        lambda: contacted.close_unresolved(now=at(contacted, 2), actor="P1001", reason=" ", referred_to="court"),
        "needs a reason",
    )


# --- reopen and follow-up ----------------------------------------------------------------------


def test_reopen_a_resolved_dispute_and_resolve_it_again(make_dispute: MakeDispute, agreement_for: AgreementFor) -> None:
    dispute = _in_state("resolved", make_dispute, agreement_for)
    first_agreement = dispute.agreement
    dispute.reopen(now=at(dispute, 30), actor="P1001", reason="回访发现排烟问题依旧")

    assert (dispute.state, dispute.level, dispute.resolved_at, dispute.followup_due_at) == (
        "reopened",
        "community",
        None,
        None,
    )
    assert dispute.agreement == first_agreement
    assert dispute.events[-1] == DisputeReopened(
        dispute_id="D-1", at=at(dispute, 30), actor="P1001", level="community", reason="回访发现排烟问题依旧"
    )
    refused(
        lambda: dispute.resolve(now=at(dispute, 31), actor="P1001", agreement=agreement_for(dispute)), "it is reopened"
    )

    dispute.contact(now=at(dispute, 32), actor="P1001")
    assert (dispute.state, dispute.first_contact_at) == ("mediating", at(dispute, 1))
    second = agreement_for(dispute, terms="楼上另付清洗费200元")
    dispute.resolve(now=at(dispute, 40), actor="P1001", agreement=second)
    assert (dispute.state, dispute.agreement, dispute.followup_due_at) == ("resolved", second, at(dispute, 40 + 168))


def test_reopen_needs_a_reason(make_dispute: MakeDispute, agreement_for: AgreementFor) -> None:
    dispute = _in_state("resolved", make_dispute, agreement_for)

    refused(lambda: dispute.reopen(now=at(dispute, 30), actor="P1001", reason=""), "needs a reason")


def test_record_followup_once(make_dispute: MakeDispute, agreement_for: AgreementFor) -> None:
    dispute = _in_state("resolved", make_dispute, agreement_for)
    dispute.record_followup(now=at(dispute, 2 + 168), actor="P1001", note="双方相处融洽")

    assert dispute.followup_done_at == at(dispute, 170)
    assert (dispute.history[-1].action, dispute.history[-1].note) == ("followup", "双方相处融洽")
    refused(lambda: dispute.record_followup(now=at(dispute, 171), actor="P1001"), "already recorded")


# --- refused by state --------------------------------------------------------------------------

COMMANDS: dict[str, Callable[[Dispute, datetime, Agreement], None]] = {
    "contact": lambda d, now, a: d.contact(now=now, actor="P1001"),
    "escalate": lambda d, now, a: d.escalate(now=now, actor="P1001"),
    "resolve": lambda d, now, a: d.resolve(now=now, actor="P1001", agreement=a),
    "close_unresolved": lambda d, now, a: d.close_unresolved(now=now, actor="P1001", reason="x", referred_to="court"),
    "reopen": lambda d, now, a: d.reopen(now=now, actor="P1001", reason="x"),
    "record_followup": lambda d, now, a: d.record_followup(now=now, actor="P1001"),
}
REFUSED_BY_STATE = [
    ("reported", "resolve"),
    ("reported", "reopen"),
    ("reported", "record_followup"),
    ("mediating", "reopen"),
    ("mediating", "record_followup"),
    ("escalated", "reopen"),
    ("escalated", "record_followup"),
    ("reopened", "resolve"),
    ("reopened", "reopen"),
    ("reopened", "record_followup"),
    ("resolved", "contact"),
    ("resolved", "escalate"),
    ("resolved", "resolve"),
    ("resolved", "close_unresolved"),
    *(("closed_unresolved", command) for command in COMMANDS),
]


@pytest.mark.parametrize(("state", "command"), REFUSED_BY_STATE)
def test_a_command_outside_its_states_is_refused_and_changes_nothing(
    make_dispute: MakeDispute, agreement_for: AgreementFor, state: str, command: str
) -> None:
    dispute = _in_state(state, make_dispute, agreement_for)
    before, events_before = dispute.to_dict(), list(dispute.events)

    refused(
        lambda: COMMANDS[command](dispute, at(dispute, 50), agreement_for(dispute)),
        f"cannot {command} dispute D-1: it is {state}",
    )

    assert dispute.to_dict() == before
    assert dispute.events == events_before


def test_a_refusal_is_a_domain_error_with_its_reason() -> None:
    error = DisputeRefused("the agreement has no terms")

    assert isinstance(error, Refusal)
    assert (error.reason, str(error)) == ("the agreement has no terms", "the agreement has no terms")


def test_commands_need_an_aware_now(contacted: Dispute) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        contacted.escalate(now=datetime(2026, 11, 23, 12, 0), actor="P1001")


# --- history and persistence -------------------------------------------------------------------


def test_the_history_tells_the_whole_story(make_dispute: MakeDispute, agreement_for: AgreementFor) -> None:
    dispute = make_dispute(source="alert", source_ref="110-7")
    dispute.contact(now=at(dispute, 1), actor="P2002")
    dispute.escalate(now=at(dispute, 2), actor="P2002", reason="社区民警介入")
    dispute.escalate(now=at(dispute, 3), actor="P1001")
    dispute.resolve(now=at(dispute, 20), actor="C01", agreement=agreement_for(dispute))
    dispute.reopen(now=at(dispute, 100), actor="P1001", reason="协议未履行")
    dispute.contact(now=at(dispute, 101), actor="P1001")
    dispute.close_unresolved(now=at(dispute, 120), actor="P1001", reason="当事人起诉", referred_to="court")

    assert [(h.at, h.actor, h.action, h.from_state, h.to_state, h.level) for h in dispute.history] == [
        (at(dispute, 0), "P1001", "open", None, "reported", "scene"),
        (at(dispute, 1), "P2002", "contact", "reported", "mediating", "scene"),
        (at(dispute, 2), "P2002", "escalate", "mediating", "escalated", "community"),
        (at(dispute, 3), "P1001", "escalate", "escalated", "escalated", "village"),
        (at(dispute, 20), "C01", "resolve", "escalated", "resolved", "village"),
        (at(dispute, 100), "P1001", "reopen", "resolved", "reopened", "village"),
        (at(dispute, 101), "P1001", "contact", "reopened", "mediating", "village"),
        (at(dispute, 120), "P1001", "close_unresolved", "mediating", "closed_unresolved", "village"),
    ]


def test_to_dict_from_dict_round_trip(make_dispute: MakeDispute, agreement_for: AgreementFor) -> None:
    dispute = make_dispute(
        source="alert", source_ref="110-9", summary="对方扬言要报复", lon=118.9651, lat=25.2284, recurrence_of="D-0"
    )
    dispute.contact(now=at(dispute, 1), actor="P1001")
    dispute.resolve(now=at(dispute, 5), actor="P1001", agreement=agreement_for(dispute))

    doc = dispute.to_dict()
    again = Dispute.from_dict(doc | {"_id": "D-1", "outbox": {}})

    assert again.to_dict() == doc
    assert again.events == []
    assert "events" not in doc
    assert isinstance(doc["reported_at"], datetime) and isinstance(doc["history"][0]["at"], datetime)
    assert doc["parties"][0] == {
        "party_id": "p1",
        "name": "王某",
        "phone": "13800138001",
        "id_number": None,
        "role": "complainant",
    }
    assert doc["agreement"]["signatures"]["witness"] == "社居委李某"
    assert doc["next_due_at"] == dispute.followup_due_at
    assert (again.state, again.level, again.high_risk, again.risk_matches) == (
        "resolved",
        "community",
        True,
        ["revenge", "intimidation"],
    )


def test_from_dict_reads_naive_datetimes_as_utc(contacted: Dispute) -> None:
    doc = contacted.to_dict()
    naive = doc | {
        "reported_at": doc["reported_at"].replace(tzinfo=None),
        "first_contact_at": doc["first_contact_at"].replace(tzinfo=None),
        "history": [h | {"at": h["at"].replace(tzinfo=None)} for h in doc["history"]],
    }

    assert Dispute.from_dict(naive).to_dict() == doc
