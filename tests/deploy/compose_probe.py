"""Run inside the compose network by tests/deploy/test_compose.py: what an operator would check.

Prints one JSON object: the streams' replicas and cluster and the services answering; with
`publish`, also Kannel's fake SMSC online and an alert published as the external user assigned;
with `callback`, a case published as the external user and its callback as notify shows it once
the SMS went out through Kannel and the phone's reply came back; with `wait`, an alert beyond every
unit's reach published as the external user and the duty desk's queue once it waits there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import nats

PUBLISH_TIMEOUT_S = 10.0  # nats-py waits 0.5 s for a publish's acknowledgement by default


def nats_url(user: str) -> list[str]:
    password = os.environ[f"NATS_PASSWORD_{user.upper()}"]
    return [f"nats://{user}:{password}@nats-{i}:4222" for i in (1, 2, 3)]


def http(method: str, url: str, body: object | None = None) -> tuple[int, object]:
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {os.environ['TOKEN']}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


async def callback() -> dict:
    """A case accepted by the case system; its callback SMS goes out through Kannel, the reply completes it."""
    case = json.loads(os.environ["CASE"])
    external = await nats.connect(nats_url("publisher"))
    await external.jetstream().publish("cases.accepted", json.dumps(case, ensure_ascii=False).encode(),
                                       timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": case["case_id"]})
    await external.close()
    deadline = time.monotonic() + 180  # through notify, Kannel, the fake SMSC and back, on a loaded machine
    found: object = None
    while time.monotonic() < deadline:
        _, found = http("GET", f"http://notify:8103/v1/callbacks?case_id={case['case_id']}")
        if isinstance(found, list) and found and all(c["state"] == "done" for c in found):
            break
        await asyncio.sleep(1)
    return {"callbacks": found}


async def wait() -> dict:
    """An alert no unit can take (beyond every unit's reach): it waits at the duty desk."""
    alert = json.loads(os.environ["WAITING"])
    external = await nats.connect(nats_url("publisher"))
    await external.jetstream().publish("alerts.received", json.dumps(alert, ensure_ascii=False).encode(),
                                       timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": alert["alert_id"]})
    await external.close()
    deadline = time.monotonic() + 30
    queue: object = None
    while time.monotonic() < deadline:
        try:
            _, queue = http("GET", "http://dispatch:8101/v1/alerts?state=unassigned")
        except OSError:  # a slow answer on a loaded machine: ask again until the deadline
            continue
        if isinstance(queue, list) and any(a["alert_id"] == alert["alert_id"] for a in queue):
            break
        await asyncio.sleep(0.5)
    return {"duty_desk": [a["alert_id"] for a in queue] if isinstance(queue, list) else queue}


async def main(publish: bool) -> dict:
    result: dict = {}
    ops = await nats.connect(nats_url("ops"))
    js = ops.jetstream()
    alerts = await js.stream_info("ALERTS")
    result["alerts_replicas"] = alerts.config.num_replicas
    result["alerts_cluster"] = 1 + len(alerts.cluster.replicas or []) if alerts.cluster else 0
    result["consumers"] = sorted([c.name for c in await js.consumers_info("ALERTS")])
    result["ready"] = {name: http("GET", f"http://{name}:{port}/readyz")[0]
                       for name, port in (("dispatch", 8101), ("mediation", 8102), ("notify", 8103),
                                          ("rating", 8104))}
    if not publish:
        await ops.close()
        return result
    kannel = f"http://kannel-bearerbox:13000/status.txt?password={os.environ['KANNEL_ADMIN_PASSWORD']}"
    deadline = time.monotonic() + 60  # the fake SMSC (re)connects on its own time on a loaded machine
    result["kannel_fake_smsc_online"] = False
    while not result["kannel_fake_smsc_online"] and time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(kannel, timeout=5) as status:
            result["kannel_fake_smsc_online"] = "online" in status.read().decode().split("SMSC connections:")[-1]
        if not result["kannel_fake_smsc_online"]:
            await asyncio.sleep(0.5)
    grid = json.loads(Path("/probe/sample_grid.geojson").read_text(encoding="utf-8"))
    result["grid"] = http("PUT", "http://dispatch:8101/v1/grid", grid)[0]

    assigned: list[dict] = []

    async def on(msg) -> None:
        assigned.append(json.loads(msg.data))

    await ops.subscribe("alerts.assigned", cb=on)
    external = await nats.connect(nats_url("publisher"))
    alert = json.loads(os.environ["ALERT"])
    await external.jetstream().publish("alerts.received", json.dumps(alert).encode(),
                                       timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": alert["alert_id"]})
    deadline = time.monotonic() + 30
    while not assigned and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    result["assigned"] = [(a["alert_id"], a["unit_id"], a["reason"]) for a in assigned]
    await external.close()
    await ops.close()
    return result


if __name__ == "__main__":
    if sys.argv[1:] == ["callback"]:
        print(json.dumps(asyncio.run(callback()), ensure_ascii=False))
    elif sys.argv[1:] == ["wait"]:
        print(json.dumps(asyncio.run(wait()), ensure_ascii=False))
    else:
        print(json.dumps(asyncio.run(main(publish=sys.argv[1:] == ["publish"]))))
