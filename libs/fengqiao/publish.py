"""`fengqiao publish`: an integrator's minute with the contract."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from nats.errors import Error as NatsError
from pydantic import ValidationError

from common import bus
from common.contracts.registry import BY_SUBJECT

#: seconds for each try to connect (two per server) and to get JetStream's ack (three tries):
#: with NATS down or silent the command fails in about 5 s, never hangs
CONNECT_TIMEOUT_S = 2.0
ACK_TIMEOUT_S = 1.5


def _nats_url(args: argparse.Namespace) -> str:
    if args.nats_url:
        return args.nats_url
    path = args.data_dir / "endpoints.json"
    if not path.exists():
        raise SystemExit(f"no --nats-url and no {path}: is `fengqiao up` running?")
    return json.loads(path.read_text(encoding="utf-8"))["nats_url"]


async def publish_file(args: argparse.Namespace) -> int:
    raw = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8")
    contract = BY_SUBJECT.get(args.subject)
    msg_id = args.msg_id
    if contract is None:
        print(f"note: {args.subject!r} is not an inbound contract subject; sending as is", file=sys.stderr)
    elif not args.no_validate:
        try:
            event = contract.model_validate_json(raw)
        except ValidationError as exc:
            for e in exc.errors(include_url=False):
                print(f"invalid: {'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}", file=sys.stderr)
            return 1
        msg_id = msg_id or event.business_id
    if not msg_id:
        try:
            body = json.loads(raw)
            ids = ("alert_id", "case_id", "request_id", "dispute_id")
            msg_id = next((str(body[k]) for k in ids if k in body), None)
        except (ValueError, TypeError):
            pass
    if not msg_id:
        print("no --msg-id and no id in the body", file=sys.stderr)
        return 1

    url = _nats_url(args)
    try:
        nc = await bus.connect(url, name="fengqiao-publish", reconnect=False, connect_timeout=CONNECT_TIMEOUT_S)
    except bus.BrokerUnreachable as exc:
        print(f"fengqiao publish: {exc} (is `fengqiao up` running? --nats-url to choose)", file=sys.stderr)
        return 1
    try:
        seen: list[str] = []

        async def on_message(msg) -> None:
            if msg_id in msg.data.decode("utf-8", "replace") and msg.subject != args.subject:
                seen.append(f"{msg.subject}: {msg.data.decode('utf-8', 'replace')}")

        watch = await nc.subscribe(">", cb=on_message)
        publisher = bus.Publisher(nc.jetstream(), timeout=ACK_TIMEOUT_S)
        try:
            ack = await publisher.publish_raw(args.subject, raw.encode("utf-8"), msg_id)
        except (TimeoutError, NatsError, OSError) as exc:
            print(f"fengqiao publish: JetStream at {url} did not take {args.subject}: "
                  f"{exc or exc.__class__.__name__}", file=sys.stderr)
            return 1
        print(json.dumps({"published": args.subject, "msg_id": msg_id, "stream": ack.stream, "seq": ack.seq,
                          "duplicate": bool(ack.duplicate)}, ensure_ascii=False))
        await asyncio.sleep(args.wait)
        await watch.unsubscribe()
        for line in seen:
            print(line)
        if not seen:
            print(f"(nothing followed within {args.wait}s)")
        return 0
    finally:
        await nc.close()
