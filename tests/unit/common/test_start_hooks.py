"""A start-up hook (ensure_indexes) tries again while the store is away, and fails at once for anything else."""

from __future__ import annotations

import pytest
from pymongo.errors import AutoReconnect

from common import runtime


async def test_a_start_hook_waits_for_the_store(monkeypatch):
    monkeypatch.setattr(runtime.asyncio, "sleep", _no_wait)
    calls = []

    async def hook():
        calls.append(1)
        if len(calls) < 3:
            raise AutoReconnect("connection reset by peer")

    await runtime._patiently(hook)
    assert len(calls) == 3


async def test_a_start_hook_failing_for_another_reason_fails_at_once():
    calls = []

    async def hook():
        calls.append(1)
        raise ValueError("a malformed calendar file")

    with pytest.raises(ValueError):
        await runtime._patiently(hook)
    assert len(calls) == 1


async def _no_wait(_: float) -> None:
    return None
