"""A new dispute of the same people or at the same address within 90 days links to the latest one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from mediation.domain import (
    Dispute,
    Party,
    RecurrenceCandidate,
    find_recurrence,
    normalize_address,
    normalize_phone,
    recurrence_keys,
)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MakeDispute = Callable[..., Dispute]


def report(*parties: Party, address: str | None = None) -> SimpleNamespace:
    """The command about to open a dispute: anything with parties and an address will do."""
    return SimpleNamespace(parties=list(parties), address=address)


def candidate(dispute_id: str, days_ago: float, *parties: Party, address: str | None = None) -> RecurrenceCandidate:
    return RecurrenceCandidate(dispute_id, NOW - days_ago * DAY, recurrence_keys(report(*parties, address=address)))


def test_the_same_phone_in_another_format_links() -> None:
    earlier = [candidate("D-1", 30, Party("p1", "王某", phone="+86 138-0013-8001"))]
    new = recurrence_keys(report(Party("x", "王先生", phone="13800138001"), Party("y", "李某", phone="13900000000")))

    assert find_recurrence(new, earlier, now=NOW) == "D-1"


def test_the_same_id_number_links() -> None:
    earlier = [candidate("D-1", 10, Party("p1", "赵某", id_number="35032219800101123x"))]
    new = recurrence_keys(report(Party("p9", "赵某某", phone="13700000000", id_number="35032219800101123X")))

    assert find_recurrence(new, earlier, now=NOW) == "D-1"


def test_the_same_normalized_address_links() -> None:
    earlier = [candidate("D-1", 60, address="枫亭镇 东沙村 ３号，后厝")]
    new = recurrence_keys(report(Party("p1", "陈某"), address="枫亭镇东沙村3号后厝"))

    assert find_recurrence(new, earlier, now=NOW) == "D-1"


def test_nothing_in_common_does_not_link() -> None:
    earlier = [candidate("D-1", 5, Party("p1", "王某", phone="13800138001"), address="洗耳池小区3栋")]
    new = recurrence_keys(report(Party("p1", "王某", phone="13800138009"), address="洗耳池小区4栋"))

    assert find_recurrence(new, earlier, now=NOW) is None


def test_the_window_is_90_days() -> None:
    party = Party("p1", "王某", phone="13800138001")
    new = recurrence_keys(report(party))

    assert find_recurrence(new, [candidate("D-1", 90, party)], now=NOW) == "D-1"
    assert find_recurrence(new, [candidate("D-1", 90 + 1 / 86400, party)], now=NOW) is None
    assert find_recurrence(new, [candidate("D-1", 200, party)], now=NOW) is None


def test_the_most_recent_earlier_dispute_wins() -> None:
    party = Party("p1", "王某", phone="13800138001")
    earlier = [
        candidate("D-old", 80, party),
        candidate("D-latest", 7, address="洗耳池小区3栋"),
        candidate("D-mid", 40, party),
        candidate("D-out", 120, party),
    ]

    assert find_recurrence(recurrence_keys(report(party, address="洗耳池小区 3 栋")), earlier, now=NOW) == "D-latest"


def test_a_dispute_never_links_to_itself_or_to_a_later_one() -> None:
    party = Party("p1", "王某", phone="13800138001")
    same_time = RecurrenceCandidate("D-self", NOW, recurrence_keys(report(party)))
    later = RecurrenceCandidate("D-later", NOW + DAY, recurrence_keys(report(party)))

    assert find_recurrence(recurrence_keys(report(party)), [same_time, later], now=NOW) is None


def test_recurrence_keys_of_a_dispute(make_dispute: MakeDispute) -> None:
    dispute = make_dispute(
        parties=[Party("p1", "王某", phone="138 0013 8001", id_number="350322198001011234"), Party("p2", "宋某")],
        address="洗耳池小区（3栋）",
    )

    assert recurrence_keys(dispute) == {"phone:13800138001", "id:350322198001011234", "address:洗耳池小区3栋"}
    assert recurrence_keys(report(Party("p1", "无名"), address=" ，")) == frozenset()


def test_normalizers() -> None:
    assert normalize_phone("0086 138 0013 8001") == normalize_phone("１３８００１３８００１") == "13800138001"
    assert normalize_phone("0594-7651234") == "05947651234"
    assert normalize_address("Ａ区 12-3 号") == normalize_address("a区12·3号") == "a区123号"


def test_an_address_links_only_when_it_names_a_house() -> None:
    village = candidate("D-1", 5, address="枫亭镇某村")
    house = candidate("D-2", 6, address="枫亭镇东沙村三号")

    assert recurrence_keys(report(Party("p1", "陈某"), address="枫亭镇 某村")) == frozenset()
    village_keys = recurrence_keys(report(Party("p1", "陈某"), address="枫亭镇某村"))
    assert find_recurrence(village_keys, [village], now=NOW) is None
    house_keys = recurrence_keys(report(Party("p1", "陈某"), address="枫亭镇东沙村三号"))
    assert find_recurrence(house_keys, [house], now=NOW) == "D-2"
    assert recurrence_keys(report(Party("p1", "陈某"), address="东沙村12号")) == {"address:东沙村12号"}
