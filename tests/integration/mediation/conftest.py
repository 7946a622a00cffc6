"""Helpers of the mediation integration tests: waiting for a condition (what reached JetStream: ../conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.support import eventually


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[Any]]:
    return eventually

