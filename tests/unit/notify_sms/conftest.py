"""The SMS gateway's use cases on in-memory stores, a fake publisher, a fake clock and a fake gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from common.clock import FakeClock
from common.fakes import FakePublisher
from notify.bootstrap import wire_in_memory
from notify.settings import NotifySettings
from notify.sms.adapters.port import InMemorySmsGateway, SmsGateway
from notify.sms.handlers import Sms
from tests.unit.notify_sms.sms_support import START


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def gateway() -> InMemorySmsGateway:
    return InMemorySmsGateway()


@pytest.fixture
def make_sms(clock: FakeClock, gateway: InMemorySmsGateway) -> Callable[..., Sms]:
    def make(gw: SmsGateway | None = None, **settings: Any) -> Sms:
        return wire_in_memory(NotifySettings(environment="test", **settings), clock, FakePublisher(),
                              gateway=gw or gateway).sms

    return make


@pytest.fixture
def sms(make_sms: Callable[..., Sms]) -> Sms:
    return make_sms()
