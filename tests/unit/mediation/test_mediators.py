"""Who mediated: teams, pavilions and village cadres named on a dispute, who settled it, and the
statistics per participant and per kind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from mediation.domain import (
    MAX_MEDIATORS,
    Agreement,
    Dispute,
    DisputeMediatorJoined,
    DisputeRefused,
    DisputeResolved,
    Mediator,
    dispute_stats,
)

HOUR = timedelta(hours=1)
SIGNED = {"p1": "王某", "p2": "宋某", "mediator": "林队长", "witness": "陈某"}


def _join(dispute: Dispute, mediator_id: str, kind: str = "mediation_team", name: str = "枫亭镇纠纷调解队",
          hours: int = 2) -> None:
    dispute.join(now=dispute.reported_at + hours * HOUR, actor="P1001", mediator_id=mediator_id, name=name,
                 kind=kind)


def _resolve(dispute: Dispute, settled_by: str | None = None) -> None:
    dispute.resolve(now=dispute.reported_at + 5 * HOUR, actor="P1001", agreement=Agreement("赔偿500元", SIGNED),
                    settled_by=settled_by)


def test_a_team_is_named_with_its_kind_recorded_and_told(contacted: Dispute) -> None:
    _join(contacted, "T-FT-1")
    assert contacted.mediators == [Mediator("T-FT-1", "枫亭镇纠纷调解队", "mediation_team",
                                            contacted.reported_at + 2 * HOUR, "P1001")]
    assert contacted.events[-1] == DisputeMediatorJoined(
        dispute_id="D-1", at=contacted.reported_at + 2 * HOUR, actor="P1001", mediator_id="T-FT-1",
        name="枫亭镇纠纷调解队", kind="mediation_team", level="community")
    last = contacted.history[-1]
    assert (last.action, last.note) == ("join", "mediation_team: 枫亭镇纠纷调解队 (T-FT-1)")
    assert contacted.state == "mediating"


def test_a_participant_survives_a_round_trip_and_an_old_document_has_none(contacted: Dispute) -> None:
    _join(contacted, "C-1", kind="village_cadre", name="村支书林某")
    _resolve(contacted)
    again = Dispute.from_dict(contacted.to_dict())
    assert (again.mediators, again.settled_by) == (contacted.mediators, "C-1")
    old = contacted.to_dict()
    del old["mediators"], old["settled_by"]
    assert (Dispute.from_dict(old).mediators, Dispute.from_dict(old).settled_by) == ([], None)


@pytest.mark.parametrize(("mediator_id", "name", "kind", "why"), [
    ("T-1", "调解队", "police_station", "unknown kind 'police_station'; expected one of mediation_team, pavilion, "
                                         "police_enterprise_team, village_cadre, officer, other"),
    ("T-1", "  ", "pavilion", "^a mediator needs an id and a name$"),
    (" ", "调解亭", "pavilion", "^a mediator needs an id and a name$"),
    ("T-0", "again", "pavilion", "named on this dispute already"),
])
def test_a_participant_the_dispute_cannot_take_is_refused(contacted: Dispute, mediator_id, name, kind, why) -> None:
    _join(contacted, "T-0", kind="pavilion", name="洗耳池调解亭")
    with pytest.raises(DisputeRefused, match=why):
        contacted.join(now=contacted.reported_at + 3 * HOUR, actor="P1", mediator_id=mediator_id, name=name,
                       kind=kind)
    assert len(contacted.mediators) == 1


def test_at_most_so_many_participants(contacted: Dispute) -> None:
    for i in range(MAX_MEDIATORS):
        _join(contacted, f"C-{i}", kind="village_cadre", name=f"干部{i}")
    with pytest.raises(DisputeRefused, match=f"at most {MAX_MEDIATORS}"):
        _join(contacted, "C-last", kind="village_cadre", name="干部")


def test_a_closed_dispute_takes_nobody(contacted: Dispute) -> None:
    contacted.close_unresolved(now=contacted.reported_at + HOUR, actor="P1", reason="诉讼", referred_to="court")
    with pytest.raises(DisputeRefused):
        _join(contacted, "T-1")


def test_the_settler_is_named_or_the_only_participant_or_nobody(make_dispute: Callable[..., Dispute]) -> None:
    cases = {}
    for label, joins, settled_by in [("named", ["T-1", "C-1"], "C-1"), ("only", ["T-1"], None),
                                     ("two, unsaid", ["T-1", "C-1"], None), ("none", [], None)]:
        dispute = make_dispute()
        dispute.contact(now=dispute.reported_at + HOUR, actor="P1001")
        for i, ident in enumerate(joins):
            _join(dispute, ident, kind="village_cadre" if ident.startswith("C") else "mediation_team",
                  name=f"名{i}")
        _resolve(dispute, settled_by)
        cases[label] = (dispute.settled_by, dispute.events[-1])
    assert [c[0] for c in cases.values()] == ["C-1", "T-1", None, None]
    resolved = cases["named"][1]
    assert isinstance(resolved, DisputeResolved)
    assert (resolved.settled_by, resolved.settled_by_name, resolved.settled_by_kind) == ("C-1", "名1", "village_cadre")
    assert (cases["none"][1].settled_by, cases["none"][1].settled_by_kind) == (None, None)


def test_a_settler_not_named_is_refused_and_nothing_changes(contacted: Dispute) -> None:
    _join(contacted, "T-1")
    with pytest.raises(DisputeRefused, match="not named on this dispute"):
        _resolve(contacted, "T-2")
    assert (contacted.state, contacted.settled_by) == ("mediating", None)


def test_statistics_say_which_team_settled_what(make_dispute: Callable[..., Dispute]) -> None:
    disputes = []
    for i, (joins, settled_by, level) in enumerate([
        (["T-1"], "T-1", None), (["T-1", "C-1"], "C-1", "village"), (["T-1"], None, None), ([], None, None),
        (["P-1"], "P-1", None),
    ]):
        dispute = make_dispute(dispute_id=f"D-{i}")
        dispute.contact(now=dispute.reported_at + HOUR, actor="P1001")
        kinds = {"T": ("mediation_team", "枫亭镇纠纷调解队"), "C": ("village_cadre", "村支书林某"),
                 "P": ("pavilion", "洗耳池调解亭")}
        for ident in joins:
            kind, name = kinds[ident[0]]
            _join(dispute, ident, kind=kind, name=name)
        if level:
            dispute.escalate(now=dispute.reported_at + 3 * HOUR, actor="P1001", to_level=level)
        if i != 2:
            _resolve(dispute, settled_by)
        disputes.append(dispute)
    figures = dispute_stats(disputes)
    assert [(m.mediator_id, m.kind_label, m.joined, m.resolved) for m in figures.mediators] == [
        ("C-1", "村居干部", 1, 1), ("P-1", "调解亭", 1, 1), ("T-1", "纠纷调解队", 3, 1)]
    assert figures.mediators[0].resolved_by_level == {"scene": 0, "community": 0, "village": 1, "town": 0,
                                                      "escalated_out": 0}
    assert figures.resolved_by_mediator_kind == {
        "mediation_team": 1, "pavilion": 1, "police_enterprise_team": 0, "village_cadre": 1, "officer": 0,
        "other": 0, "unnamed": 1}
    assert dispute_stats([]).mediators == []


# --- the use cases, on in-memory adapters -------------------------------------------------------


async def test_a_named_team_settles_a_dispute_the_events_and_statistics_say_so() -> None:
    from datetime import UTC, datetime

    from common.clock import FakeClock
    from common.errors import Refused
    from common.fakes import FakePublisher
    from mediation import domain, handlers
    from mediation.adapters.store import InMemoryDisputes, InMemoryRequestIds
    from mediation.handlers import Mediation, Report
    from mediation.settings import MediationSettings

    start = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
    m = Mediation(MediationSettings(), FakeClock(start), FakePublisher(), InMemoryDisputes(), InMemoryRequestIds())
    parties = (domain.Party("p1", "王某"), domain.Party("p2", "宋某"))
    dispute, _ = await handlers.report_dispute(m, Report(source="visit", reported_by="P1001", category="neighbour",
                                                         summary="两户争吵", parties=parties))
    ident = dispute.dispute_id
    await handlers.contact(m, ident, actor="P1001", note="")
    await handlers.join(m, ident, actor="P1001", mediator_id="T-JQ-1", name="警企调解队", kind="police_enterprise_team")
    with pytest.raises(Refused, match="named on this dispute already"):
        await handlers.join(m, ident, actor="P1001", mediator_id="T-JQ-1", name="警企调解队", kind="pavilion")
    await handlers.resolve(m, ident, actor="P1001", terms="赔偿", signatures=SIGNED, settled_by="T-JQ-1")
    (joined,) = m.publisher.on("disputes.mediator_joined")
    assert {k: joined[k] for k in ("mediator_id", "name", "kind", "level", "actor")} == {
        "mediator_id": "T-JQ-1", "name": "警企调解队", "kind": "police_enterprise_team", "level": "community",
        "actor": "P1001"}
    (resolved,) = m.publisher.on("disputes.resolved")
    assert (resolved["settled_by"], resolved["settled_by_kind"]) == ("T-JQ-1", "police_enterprise_team")
    assert m.publisher.msg_ids[-2].startswith(f"{ident}/mediator_joined/")
    figures = await handlers.stats(m, start - timedelta(days=1), start + timedelta(days=1))
    assert [(r.mediator_id, r.resolved) for r in figures.mediators] == [("T-JQ-1", 1)]
