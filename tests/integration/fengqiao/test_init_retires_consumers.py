"""`fengqiao init` deletes the durable consumers an earlier version declared and this one no longer reads
(named in `fengqiao.ops.RETIRED_CONSUMERS`), on a real nats-server: once, and never another's."""

from __future__ import annotations

import json

import nats
import pytest
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError

from common.contracts.subjects import stream_for
from fengqiao import ops

pytestmark = pytest.mark.integration


async def _init(capsys: pytest.CaptureFixture[str], nats_url: str, mongo_url: str) -> dict:
    assert await ops.init(["rating"], nats_url, mongo_url, None, wait_s=30) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


async def test_an_upgrade_deletes_the_consumer_replies_went_to_and_keeps_the_others(
        nats_server, store_server, capsys: pytest.CaptureFixture[str]) -> None:
    first = await _init(capsys, nats_server.url, store_server.url)  # the streams, as a fresh install has them
    assert first["retired"] == [] and "rating-sms-answered" in first["consumers"]
    stream = stream_for("sms.inbound")
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        # what the version before issue 20 left behind, and a consumer of another system on the same stream
        for durable in ("rating-sms-inbound", "station-archive"):
            await js.add_consumer(stream, ConsumerConfig(durable_name=durable, filter_subject="sms.inbound"))
        second = await _init(capsys, nats_server.url, store_server.url)
        assert second["retired"] == ["rating-sms-inbound"]
        with pytest.raises(NotFoundError):
            await js.consumer_info(stream, "rating-sms-inbound")
        assert (await js.consumer_info(stream, "station-archive")).name == "station-archive"
        assert (await js.consumer_info(stream_for("sms.answered.rating"), "rating-sms-answered")).name
        third = await _init(capsys, nats_server.url, store_server.url)
        assert third["retired"] == []  # a second init finds nothing to retire
    finally:
        await nc.close()
