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


#: the ids by which one event leads to the next (a survey's SMS names the survey, its reply the SMS);
#: not officer_id, unit_id, subject_id or party_id, which many unrelated events share
FOLLOWING_IDS = ("alert_id", "case_id", "request_id", "dispute_id", "survey_id", "callback_id", "sms_id", "ref",
                 "rating_id", "followup_id", "check_id")


class Follower:
    """What followed a published event: each message naming an id of the event or of a message that
    followed it, once per message id (a message published again by a retry or an outbox relay is seen
    twice on core NATS, and stored once by JetStream)."""

    def __init__(self, subject: str, msg_id: str) -> None:
        self.subject = subject
        self.known = {msg_id}
        self.lines: list[str] = []
        self._seen: set[tuple[str, str]] = set()

    def offer(self, subject: str, nats_msg_id: str | None, data: bytes) -> bool:
        if subject.startswith(("$", "_INBOX")) or subject == self.subject:
            return False
        text = data.decode("utf-8", "replace")
        if not any(f'"{known}"' in text for known in self.known):
            return False
        key = (subject, nats_msg_id or text)
        if key in self._seen:
            return False
        self._seen.add(key)
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict):
            self.known |= {str(body[k]) for k in FOLLOWING_IDS if isinstance(body.get(k), str | int) and body[k]}
        self.lines.append(f"{subject}: {text}")
        return True


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
        follower = Follower(args.subject, msg_id)

        async def on_message(msg) -> None:
            follower.offer(msg.subject, (msg.headers or {}).get("Nats-Msg-Id"), msg.data)

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
        for line in follower.lines:
            print(line)
        if not follower.lines:
            print(f"(nothing followed within {args.wait}s)")
        return 0
    finally:
        await nc.close()
