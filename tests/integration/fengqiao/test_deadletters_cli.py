"""`fengqiao deadletters show|replay` of a sequence that holds no letter: one clear line, exit 1."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common import bus


@pytest.fixture
async def streams(nats_server) -> str:
    nc = await bus.connect(nats_server.url, name="test")
    await bus.ensure_streams(nc.jetstream(), replicas=1)
    await nc.close()
    return nats_server.url


@pytest.mark.parametrize("action", [["show", "9999"], ["replay", "9999"], ["replay", "9998", "9999"]])
async def test_an_unknown_sequence_is_one_line_and_exit_1(streams: str, action: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "fengqiao", "deadletters", "--nats-url", streams, *action],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"no dead letter with sequence {', '.join(action[1:])} (")
    assert "Traceback" not in done.stderr and done.stdout == ""
