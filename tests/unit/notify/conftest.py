from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from notify.domain import Callback, SendPolicy, deadline
from tests.unit.notify.station_time import SH

ACCEPTED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=SH)  # due 2026-11-28 00:00 local, cutoff 11-27 00:00


@pytest.fixture
def policy() -> SendPolicy:
    return SendPolicy()


@pytest.fixture
def make_callback(policy: SendPolicy) -> Callable[..., Callback]:
    """A 7-day callback of party p1 of case A2026-0042, scheduled at acceptance; override any field."""

    def make(**overrides: Any) -> Callback:
        start = overrides.pop("start_at", ACCEPTED_AT)
        rule = overrides.pop("rule", "unsolved_7d")
        due_at = overrides.pop("due_at", None) or deadline(start, rule, SH).due_at
        fields: dict[str, Any] = {
            "now": start,
            "case_id": "A2026-0042",
            "party_id": "p1",
            "rule": rule,
            "start_at": start,
            "due_at": due_at,
            "policy": policy,
            "party_name": "王某",
            "phone": "13800138001",
            "officer_id": "P1001",
            "unit_id": "G1",
        }
        return Callback.schedule(**(fields | overrides))

    return make
