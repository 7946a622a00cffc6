"""What mediation tells the others: each domain event as its public contract, with a msg id that
is the same each time it is derived and different for every event of a dispute."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from common.contracts.alerts import AlertReceived
from common.contracts.registry import BY_SUBJECT
from mediation.domain import Dispute
from mediation.handlers import dispute_id_for_alert, public_events, raised_alert_id

STATION = (118.9651, 25.2284)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
MakeDispute = Callable[..., Dispute]


def drain(dispute: Dispute) -> list[tuple[str, str]]:
    """(subject, msg id) of what the dispute recorded, as a save would stage it; then forget it."""
    staged = public_events(dispute, STATION)
    dispute.events.clear()
    for event, _ in staged:
        assert type(event) is BY_SUBJECT[event.subject]  # a registered public contract
    return [(event.subject, msg_id) for event, msg_id in staged]


def test_a_whole_life_maps_to_public_events_with_distinct_msg_ids(make_dispute: MakeDispute, agreement_for) -> None:
    dispute = make_dispute()
    at = dispute.reported_at
    published = drain(dispute)
    dispute.contact(now=at + HOUR, actor="P1001")
    dispute.escalate(now=at + DAY, actor="P1001", reason="社区调解未果")
    published += drain(dispute)
    dispute.resolve(now=at + 2 * DAY, actor="P1001", agreement=agreement_for(dispute))
    dispute.check_deadlines(at + 9 * DAY)
    published += drain(dispute)
    dispute.reopen(now=at + 10 * DAY, actor="P1001", reason="又起争执")
    dispute.close_unresolved(now=at + 11 * DAY, actor="P1001", reason="起诉", referred_to="court")
    published += drain(dispute)
    late = make_dispute(dispute_id="D-2")
    published += drain(late)
    late.check_deadlines(late.reported_at + 25 * HOUR)
    published += drain(late)

    assert published == [
        ("disputes.opened", "D-1/opened/1"),
        ("disputes.contacted", "D-1/contacted/3"),  # two commands in one save: the later step names both
        ("disputes.escalated", "D-1/escalated/3"),
        ("disputes.resolved", "D-1/resolved/5"),
        ("disputes.followup_due", "D-1/followup_due/5"),
        ("disputes.reopened", "D-1/reopened/7"),
        ("disputes.closed", "D-1/closed/7"),
        ("disputes.opened", "D-2/opened/1"),
        ("disputes.overdue", "D-2/overdue/2"),
    ]


def test_the_same_opening_derives_the_same_events(make_dispute: MakeDispute) -> None:
    assert drain(make_dispute()) == drain(make_dispute())


def test_a_threat_without_coordinates_raises_an_urgent_alert_at_the_station(make_dispute: MakeDispute) -> None:
    dispute = make_dispute(summary="对方扬言要用刀砍他", address="洗耳池小区3栋")
    staged = public_events(dispute, STATION)

    alert, msg_id = next((e, m) for e, m in staged if isinstance(e, AlertReceived))
    assert msg_id == alert.alert_id == "MED-D-1"
    assert (alert.location.lon, alert.location.lat, alert.location.address) == (*STATION, "洗耳池小区3栋")
    assert (alert.category, alert.priority, alert.source) == ("violence", 1, "mediation")
    assert alert.caller_phone == "13800138001"  # the first party with a phone
    assert alert.received_at == dispute.reported_at
    opened = next(e for e, _ in staged if e.subject == "disputes.opened")
    assert opened.high_risk and opened.risk_matches == ["weapon", "intimidation"]
    assert all(p.id_number is None for p in opened.parties)


def test_the_alert_of_a_located_threat_is_at_the_dispute(make_dispute: MakeDispute) -> None:
    dispute = make_dispute(summary="扬言要打死他", lon=118.962, lat=25.252)
    alert = next(e for e, _ in public_events(dispute, STATION) if isinstance(e, AlertReceived))
    assert (alert.location.lon, alert.location.lat) == (118.962, 25.252)


def test_derived_ids_stay_within_64_characters() -> None:
    assert dispute_id_for_alert("110-20261123-000123") == "D-110-20261123-000123"
    assert raised_alert_id("D-20261123-1a2b3c4d") == "MED-D-20261123-1a2b3c4d"
    longest = "1" * 64
    assert len(dispute_id_for_alert(longest)) <= 64
    assert len(raised_alert_id(dispute_id_for_alert(longest))) <= 64
    assert dispute_id_for_alert(longest) == dispute_id_for_alert(longest) != dispute_id_for_alert("2" * 64)

