"""Command line: `fengqiao up | serve | publish | schemas`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from fengqiao.services import SERVICES

DEFAULT_DATA_DIR = Path(".fengqiao")
SCHEMA_DIR = Path("contracts/schemas")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fengqiao", description="Fengqiao station event platform.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the whole platform on embedded NATS and store; Ctrl-C stops it")
    up.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state kept here across restarts")
    up.add_argument("--no-sample-grid", action="store_true", help="do not load the sample grid")

    serve = sub.add_parser("serve", help="run one service (how a container runs it); settings from FQ_<SERVICE>_*")
    serve.add_argument("service", choices=list(SERVICES))

    pub = sub.add_parser("publish", help="publish an event with its Nats-Msg-Id and show what came of it")
    pub.add_argument("subject")
    pub.add_argument("file", type=Path, help="the JSON body ('-' for standard input)")
    pub.add_argument("--nats-url", help="default: from DATA_DIR/endpoints.json of a running `fengqiao up`")
    pub.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    pub.add_argument("--msg-id", help="default: the event's own id (alert_id, case_id, request_id)")
    pub.add_argument("--wait", type=float, default=3.0, help="seconds to watch for what follows")
    pub.add_argument("--no-validate", action="store_true", help="send even if the contract refuses it")

    schemas = sub.add_parser("schemas", help="write the JSON Schema files of the event contracts")
    schemas.add_argument("--check", action="store_true", help="fail if the files differ from the models")
    schemas.add_argument("--dir", type=Path, default=SCHEMA_DIR)
    from fengqiao import ops

    ops.add_commands(sub)  # init, deadletters, healthcheck, deployfiles
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "up":
        from fengqiao.ops import require_embedded
        from fengqiao.up import run_up

        require_embedded()

        return run_up(args.data_dir, sample_grid=not args.no_sample_grid)
    if args.command == "serve":
        import structlog
        from pydantic import ValidationError

        from common.logs import configure_logging
        from common.runtime import serve

        spec = SERVICES[args.service]
        try:
            settings = spec.settings_class()()
        except ValidationError as exc:
            configure_logging(service=spec.name)  # its own settings are what is wrong: JSON off a terminal
            errors = [{"field": spec.env_prefix + ".".join(map(str, e["loc"])).upper(), "msg": e["msg"]}
                      for e in exc.errors(include_url=False)]
            structlog.get_logger("fengqiao").error("settings.invalid", errors=errors)
            return 2
        refusal = settings.refuses_to_start()
        if refusal:
            print(f"fengqiao serve {spec.name}: {refusal}", file=sys.stderr)
            return 2
        asyncio.run(serve(spec.name, settings, spec.build()))
        return 0
    if args.command == "publish":
        from common.logs import configure_logging
        from fengqiao.publish import publish_file

        configure_logging("ERROR")  # the command prints its own results; connection chatter is noise here

        return asyncio.run(publish_file(args))
    if args.command == "schemas":
        return _schemas(args.dir, args.check)
    from fengqiao import ops

    return ops.run(args) if args.command in ops.COMMANDS else 2


def _schemas(folder: Path, check: bool) -> int:
    from common.contracts.registry import rendered_schemas, write_schemas

    if check:
        stale = [n for n, text in rendered_schemas().items()
                 if not (folder / n).exists() or (folder / n).read_text(encoding="utf-8") != text]
        if stale:
            print("out of date: " + ", ".join(stale) + " (run `fengqiao schemas`)", file=sys.stderr)
            return 1
        print("schemas up to date")
        return 0
    changed = write_schemas(folder)
    print(json.dumps({"written": changed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
