from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mediation.domain import Agreement, Dispute, Party

REPORTED_AT = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)


@pytest.fixture
def make_dispute() -> Callable[..., Dispute]:
    """A dispute reported by the community officer on a household visit; override any field of `open`."""

    def make(**overrides: Any) -> Dispute:
        fields: dict[str, Any] = {
            "dispute_id": "D-1",
            "source": "visit",
            "reported_at": REPORTED_AT,
            "reported_by": "P1001",
            "category": "neighbour",
            "summary": "楼上楼下两户居民为烧烤排烟问题经常吵架",
            "parties": [
                Party("p1", "王某", phone="13800138001", role="complainant"),
                Party("p2", "宋某", phone="13800138002", role="respondent"),
            ],
            "address": "洗耳池小区3栋",
            "unit_id": "G1",
            "officer_id": "P1001",
        }
        return Dispute.open(**(fields | overrides))

    return make


@pytest.fixture
def contacted(make_dispute: Callable[..., Dispute]) -> Dispute:
    """Mediating: contacted one hour after the report."""
    dispute = make_dispute()
    dispute.contact(now=dispute.reported_at + timedelta(hours=1), actor="P1001", note="上门了解双方诉求")
    return dispute


def signed_by_all(dispute: Dispute, terms: str = "楼下烧烤时加装排烟管道,双方互不追究") -> Agreement:
    signatures = {party.party_id: party.name for party in dispute.parties}
    return Agreement(terms, signatures | {"mediator": "翟文杰", "witness": "社居委李某"})


@pytest.fixture
def agreement_for() -> Callable[..., Agreement]:
    return signed_by_all
