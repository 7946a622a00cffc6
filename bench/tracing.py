"""What tracing costs dispatch: alert -> alerts.assigned p50/p99 at a fixed rate, traced (no exporter) and off.

    .venv/bin/python bench/tracing.py [--rate 100] [--seconds 20] [--rounds 5]

Starts nx-27017 and two nats-servers on free loopback ports, and two `fengqiao serve dispatch`, each on
its own nats-server and database, with the same grid (bench/dispatch.py's, 900 units):
  traced  OpenTelemetry on, no exporter (no OTEL_EXPORTER_* / OTEL_TRACES_EXPORTER set): every message,
          use case, store write and publish is a span, the trace context rides in the NATS headers and
          every log line carries trace_id and span_id; nothing leaves the process
  off     OTEL_SDK_DISABLED=true
Then `--rounds` fixed-rate windows of each, taking turns (traced, off, traced, off, ...), so a noisy
minute of the machine falls on both. Prints each mode's p50 and p99 (the median of its windows), every
window's p99, dispatch's (and the store's) CPU per alert, and the ratios traced / off (aim: p99 within 5 %).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("bench_dispatch", ROOT / "bench" / "dispatch.py")
assert _spec is not None and _spec.loader is not None
bench_dispatch = importlib.util.module_from_spec(_spec)
sys.modules["bench_dispatch"] = bench_dispatch  # its dataclasses look their module up
_spec.loader.exec_module(bench_dispatch)

from common import bus  # noqa: E402
from common.contracts.subjects import ALERTS_ASSIGNED, ALERTS_RECEIVED  # noqa: E402
from common.settings import DEVELOPMENT_TOKEN  # noqa: E402
from fengqiao.embedded import free_port, start_nats, start_store, wait_for_port  # noqa: E402

WARM_UP = 300
#: the standard variables that would turn an exporter on: cleared for both modes
EXPORT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER",
                    "OTEL_SDK_DISABLED")


@dataclass
class Mode:
    name: str
    env: dict[str, str]
    windows: list[list[float]] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # dispatch's CPU per alert in each window
    store_cpu_ms: list[float] = field(default_factory=list)  # the store's, in the same window
    pid: int = 0


def _env(mode: Mode, nats_url: str, store_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in EXPORT_VARIABLES}
    return {**env, **mode.env, "FQ_DISPATCH_ACK_TIMEOUT_S": "3600", "FQ_DISPATCH_NATS_URL": nats_url,
            "FQ_DISPATCH_MONGO_URL": store_url, "FQ_DISPATCH_HTTP_PORT": str(port),
            "FQ_DISPATCH_MONGO_DB": f"bench_tracing_{mode.name}", "FQ_DISPATCH_LOG_JSON": "true"}


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fq-bench-tracing-"))
    store = start_store(tmp / "store")
    modes = [Mode("traced", {}), Mode("off", {"OTEL_SDK_DISABLED": "true"})]
    servers, procs, clients, probes = [], [], [], []
    try:
        for mode in modes:
            nats = start_nats(tmp / f"nats-{mode.name}")
            servers.append(nats)
            nc = await bus.connect(nats.url, f"bench-{mode.name}")
            await bus.ensure_streams(nc.jetstream())
            clients.append(nc)
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "fengqiao", "serve", "dispatch"],
                                    env=_env(mode, nats.url, store.url, port),
                                    stdout=open(tmp / f"dispatch-{mode.name}.log", "wb"),  # noqa: SIM115
                                    stderr=subprocess.STDOUT)
            procs.append(proc)
            mode.pid = proc.pid
            wait_for_port(port, 30, proc, "dispatch")
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {DEVELOPMENT_TOKEN}"}, timeout=30) as http:
                await bench_dispatch._ready(http, base)
                (await http.put(f"{base}/v1/grid", json=bench_dispatch._bench_grid())).raise_for_status()
            probe = bench_dispatch._Probe(nc, ALERTS_RECEIVED, mode.name[0])
            await nc.subscribe(ALERTS_ASSIGNED, cb=probe.on_out)
            probes.append(probe)
        for probe in probes:  # connection pools, caches, the first grid read: not measured
            await probe.run("w", WARM_UP, 200, 60)
        count = int(args.rate * args.seconds)
        for round_ in range(args.rounds):
            for mode, probe in zip(modes if round_ % 2 == 0 else modes[::-1], probes if round_ % 2 == 0
                                   else probes[::-1], strict=True):
                own, stored = bench_dispatch._cpu_s(mode.pid), bench_dispatch._cpu_s(store.process.pid)
                await probe.run(f"r{round_}-", count, args.rate, args.seconds + args.timeout)
                mode.cpu_ms.append((bench_dispatch._cpu_s(mode.pid) - own) * 1000 / count)
                mode.store_cpu_ms.append((bench_dispatch._cpu_s(store.process.pid) - stored) * 1000 / count)
                window = list(probe.latencies.values())
                mode.windows.append(window)
                mode.p50.append(statistics.median(window) * 1000)
                mode.p99.append(bench_dispatch._p(window, 0.99) * 1000)
                print(f"round {round_ + 1}/{args.rounds} {mode.name:<7} p50 {mode.p50[-1]:6.2f} ms  "
                      f"p99 {mode.p99[-1]:6.2f} ms  CPU/alert {mode.cpu_ms[-1]:.2f} + {mode.store_cpu_ms[-1]:.2f} ms",
                      flush=True)
    finally:
        for nc in clients:
            await nc.close()
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)
        for nats in servers:
            nats.stop()
        store.stop()
    _report(modes, args)


def _report(modes: list[Mode], args: argparse.Namespace) -> None:
    traced, off = modes
    print(f"\ndispatch, alert -> alerts.assigned at {args.rate:.0f}/s: {args.rounds} windows of {args.seconds:.0f} s "
          f"per mode, taking turns (order swapped every round); p50, p99: median of the windows")
    print(f"{'mode':<32}{'p50 ms':>10}{'p99 ms':>10}{'CPU ms/alert':>14}   p99 of each window")
    for mode, label in ((traced, "traced, no exporter"), (off, "off (OTEL_SDK_DISABLED=true)")):
        cpu = f"{statistics.median(mode.cpu_ms):.2f} + {statistics.median(mode.store_cpu_ms):.2f}"
        print(f"{label:<32}{statistics.median(mode.p50):>10.2f}{statistics.median(mode.p99):>10.2f}{cpu:>14}   "
              + " / ".join(f"{x:.1f}" for x in mode.p99))
    p50 = statistics.median(traced.p50) / statistics.median(off.p50)
    p99 = statistics.median(traced.p99) / statistics.median(off.p99)
    pooled = (bench_dispatch._p([x for w in traced.windows for x in w], 0.99)
              / bench_dispatch._p([x for w in off.windows for x in w], 0.99))
    cpu = statistics.median(traced.cpu_ms) / statistics.median(off.cpu_ms)
    print(f"traced / off: p50 x{p50:.3f}, p99 x{p99:.3f} (windows pooled: x{pooled:.3f}), dispatch's CPU per alert "
          f"x{cpu:.3f}; aim: p99 within 5 %")
    print("CPU ms/alert: dispatch's process + the store's, user + system, median of the windows (steadier than "
          "latency on a busy machine)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of one fixed-rate window")
    parser.add_argument("--rounds", type=int, default=5, help="windows of each mode, taking turns")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds a window's last alert may take after its last send (a loaded machine queues)")
    asyncio.run(main(parser.parse_args()))
