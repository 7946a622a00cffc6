"""The bare baselines every bench measures a service against, in the same run: no kernel, no rules.

    python bench/bare.py sequential|batched NATS_URL MONGO_URL SUBJECT_IN SUBJECT_OUT DURABLE DB

Both are a durable pull consumer on `SUBJECT_IN` that, for each message, validates nothing but the
JSON, writes one document (`_id` = the message's `Nats-Msg-Id`) to `DB`, acknowledges it and
publishes one JetStream event on `SUBJECT_OUT` (`{"id": ...}`, the same msg id; `-` publishes nothing):
  sequential  one message at a time: insert_one, ack, publish
  batched     a fetched batch at once: one insert_many(ordered=False), then ack and publish each
A bench starts one as a process beside the service it measures, on its own subject of the same stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "libs")]

from nats.errors import TimeoutError as NatsTimeoutError  # noqa: E402
from nats.js.api import AckPolicy, ConsumerConfig  # noqa: E402
from pymongo.errors import BulkWriteError, DuplicateKeyError  # noqa: E402

from common import bus, mongo  # noqa: E402
from common.contracts.subjects import stream_for  # noqa: E402

BATCH = 64


async def run(mode: str, nats_url: str, mongo_url: str, subject_in: str, subject_out: str, durable: str,
              db_name: str) -> None:
    nc = await bus.connect(nats_url, f"bare-{mode}")
    js = nc.jetstream()
    docs = mongo.database(mongo.client(mongo_url), db_name)["bare"]
    config = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=30,
                            max_ack_pending=1000)
    sub = await js.pull_subscribe(subject_in, durable=durable, stream=stream_for(subject_in), config=config)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    def doc(msg) -> dict:
        body = json.loads(msg.data)
        return {"_id": msg.headers["Nats-Msg-Id"], "n": len(body)}

    async def out(msg) -> None:
        await msg.ack()
        if subject_out != "-":
            ident = msg.headers["Nats-Msg-Id"]
            await js.publish(subject_out, json.dumps({"id": ident}).encode(), headers={"Nats-Msg-Id": ident})

    while not stop.is_set():
        try:
            msgs = await sub.fetch(BATCH, timeout=1.0)
        except (TimeoutError, NatsTimeoutError):
            continue
        if not msgs:
            continue
        if mode == "sequential":
            for msg in msgs:
                with contextlib.suppress(DuplicateKeyError):  # redelivered: already stored
                    await docs.insert_one(doc(msg))
                await out(msg)
        else:
            with contextlib.suppress(BulkWriteError):  # redelivered ones: already stored
                await docs.insert_many([doc(m) for m in msgs], ordered=False)
            for msg in msgs:
                await out(msg)
    await nc.drain()


if __name__ == "__main__":
    asyncio.run(run(*sys.argv[1:8]))
