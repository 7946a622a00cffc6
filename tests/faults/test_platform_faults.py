"""The whole platform under load while its parts die: a 3-node NATS cluster with R3 streams, the store,
and two replicas of each of dispatch, mediation, notify, rating and community, all on 127.0.0.1.

The load, for LOAD_S seconds:
- alerts on `alerts.received` (a tenth re-sent under a new msg id), each with its own caller phone;
  a simulated unit learns its alerts from `alerts.assigned` and acknowledges and closes them through
  dispatch's API: every third one `referred_to_mediation` (mediation opens a dispute), the others
  `no_action` or `converted_to_case` (rating surveys the caller either way);
- cases on `cases.accepted` (two parties each, a tenth re-sent), half of them `cases.solved` a few
  seconds later (notify's callbacks);
- household visits recorded through community's API (a retry after a lost answer carries the same
  request_id), each in a unit's zone by one of its officers, every fifth with a dispute finding
  (mediation opens a dispute, source `visit`);
- the callers' phones: they read their survey SMS from notify's embedded gateway
  (`GET /v1/sms/outbox`) and reply through notify's `POST /v1/sms/inbound` (Kannel's get-url form,
  with Kannel's message id, so a reply posted again after a lost answer is one reply): "1", "3 态度差",
  an unreadable text and then "2" after the re-prompt, or nothing;
- the case parties' phones answer their callback SMS the same way ("1", "3 态度差", "1 不满意" and then
  "2" after the re-prompt, or nothing): the gateway matches each answer to its callback's question.

The faults, printed with their times: SIGKILL of one replica of each service (restarted), of the
leader of the ALERTS stream (restarted), and of the store (restarted).

Then, once everything is quiet (bounded), from the store and the streams: every alert stored once and
closed, none held twice, no unit over capacity; every referred alert has exactly one dispute; every
callback scheduled once per party and rule, none lost; every survey requested once per subject and
phone; every valid reply that reached notify became exactly one rating of the level replied, none
doubled; every callback answered by SMS is done once with the level answered and is exactly one rating
(subject the callback), none lost, none doubled; every SMS sent once by the gateway; every visit stored
and told once, every dispute finding one dispute; the officers' month sheets count every visit,
assignment, acknowledgement and rating of the streams once (the sums of their counters against the
facts in the streams). One summary line gives what was
injected and the counts.

notify's callbacks and SMS gateway are checked when notify serves them (its OpenAPI has
`/v1/callbacks` and `/v1/sms/inbound`); while it is a placeholder those checks are skipped, saying so.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from common import bus
from common.contracts.subjects import (
    ALERTS_ACKNOWLEDGED,
    ALERTS_ASSIGNED,
    ALERTS_CLOSED,
    ALERTS_RECEIVED,
    CASES_ACCEPTED,
    CASES_SOLVED,
    DISPUTES_OPENED,
    RATINGS_RECEIVED,
    SMS_DELIVERY,
    SMS_SEND,
    STREAMS,
    VISITS_RECORDED,
)
from tests.faults.harness import (
    AUTH,
    Harness,
    capacity_snapshots,
    follow_assignments,
    publish_retrying,
    read_stream,
    unfinished_work,
)
from tests.support import STEP, alert_body, centre, row_grid

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

LOAD_S = 30.0
ALERTS = 240  # over LOAD_S: 8 a second
CASES = 60
SOLVED_SHARE = 0.5
RESENT_SHARE = 0.10
CAPACITIES = (20, 20, 20, 20)  # far more than the unit holds at once: every alert is placed
CAPACITY = {f"G{i + 1}": c for i, c in enumerate(CAPACITIES)}
ACK_TIMEOUT_S = 20.0
NATS_OUTAGE_S = 3.0
STORE_OUTAGE_S = 3.0
QUIET_WITHIN_S = 75.0  # a killed replica's messages come back after the consumers' 30 s ack wait
SMS_LEASE_S = 8.0  # a send in flight on a killed notify replica is tried again after this
DB = {name: f"fengqiao_{name}" for name in ("dispatch", "mediation", "notify", "rating", "community")}
VISITS = 60  # over LOAD_S
DISPUTE_EVERY = 5  # every fifth visit finds a dispute
OUR_CONSUMERS = ("platform-unit",)
ALL_DAY = {"from": "00:00:00", "until": "23:59:59"}  # the run may fall at any hour of the station's day

#: what the caller of alert i replies to the survey, by i % 4 (None: no reply)
REPLIES = ("1", "3 态度差", "好的吧谢谢", None)
UNREADABLE = "好的吧谢谢"
AFTER_REPROMPT = "2"
LEVEL_OF = {"1": "satisfied", "2": "basically", "3 态度差": "dissatisfied"}
#: what party k of case i answers to its callback SMS, by (i + k) % 4 (None: no answer; a manual task later)
CALLBACK_REPLIES = ("1", "3 态度差", "1 不满意", None)
CALLBACK_UNREADABLE = "1 不满意"


def caller_phone(i: int) -> str:
    return f"1390000{i:04d}"


def party_phone(case: int, party: int) -> str:
    return f"137{party}000{case:04d}"


def disposition(i: int) -> str:
    return ("referred_to_mediation", "no_action", "converted_to_case")[i % 3]


@dataclass
class Tally:
    alerts_sent: int = 0
    alerts_resent: int = 0
    closed: dict[str, str] = field(default_factory=dict)  # alert id -> disposition, as dispatch answered 200
    cases_accepted: dict[str, list[str]] = field(default_factory=dict)  # case id -> party ids
    cases_solved: set[str] = field(default_factory=set)
    cases_resent: int = 0
    sms_seen: dict[str, dict] = field(default_factory=dict)  # sms id -> the embedded outbox's record
    replies: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # alert id -> texts taken
    answers: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # callback id -> texts taken
    failed_answers: Counter = field(default_factory=Counter)
    over_capacity: list[str] = field(default_factory=list)
    snapshots: int = 0
    visits: dict[str, str] = field(default_factory=dict)  # request id -> visit id, as community answered


@dataclass
class Notify:
    """What notify serves in this build (its OpenAPI tells)."""

    callbacks: bool
    sms: bool


async def test_no_alert_dispute_callback_rating_or_sms_is_lost_or_doubled(tmp_path) -> None:
    started = time.monotonic()
    rng = random.Random(14)
    tally = Tally()
    with Harness(tmp_path) as h:
        h.start_nats(cluster=3)
        h.start_store()
        mongo = AsyncIOMotorClient(h.store.url, tz_aware=True, serverSelectionTimeoutMS=2000)
        dbs = {name: mongo[db] for name, db in DB.items()}
        nc = await h.client("platform-fault-test")
        quiet: str | None = "not reached"
        try:
            # declared once beforehand, as the deploy's one-shot job does
            await bus.ensure_streams(nc.jetstream(), replicas=3)
            replicas = h.start_services(_services())
            urls = {name: [r.base_url for r in rs] for name, rs in replicas.items()}
            print(f"[+{h.clock.now():6.2f}s] 3 nats nodes, the store and 2 replicas of "
                  f"{', '.join(replicas)} ready", flush=True)
            async with httpx.AsyncClient(headers=AUTH, timeout=5) as http:
                notify = await _what_notify_serves(http, urls["notify"][0])
                if not notify.callbacks:
                    print("NOTE: notify serves no /v1/callbacks in this build: callbacks are not checked", flush=True)
                if not notify.sms:
                    print("NOTE: notify serves no /v1/sms/inbound in this build: SMS sends and replies, and so "
                          "ratings, are not checked", flush=True)
                put = await http.put(f"{urls['dispatch'][0]}/v1/grid", json=row_grid(CAPACITIES))
                assert put.status_code == 200, put.text
                unit = Unit(http, urls["dispatch"], nc, tally, rng)
                phones = Phones(http, urls["notify"], tally) if notify.sms else None
                background = [asyncio.create_task(unit.run()),
                              asyncio.create_task(capacity_snapshots(dbs["dispatch"], CAPACITY, tally)),
                              asyncio.create_task(h.watch_replicas())]
                if phones is not None:
                    background.append(asyncio.create_task(phones.run()))
                faults = asyncio.create_task(_inject(h))
                await asyncio.gather(_alerts(nc, tally, rng), _cases(nc, tally, rng),
                                     _visits(http, urls["community"], tally), faults)
                print(f"[+{h.clock.now():6.2f}s] load sent: {tally.alerts_sent} alerts (+{tally.alerts_resent} "
                      f"resent), {len(tally.cases_accepted)} cases (+{tally.cases_resent} resent), "
                      f"{len(tally.cases_solved)} solved", flush=True)
                quiet = await _quiescence(dbs, nc, unit, phones, tally, notify)
                print(f"[+{h.clock.now():6.2f}s] {'quiet' if quiet is None else quiet}", flush=True)
                await unit.stop()
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
            report = await _check(dbs, nc, tally, notify, h)
        finally:
            await nc.close()
            mongo.close()
            codes = h.stop()
        report.problems += h.process_problems(codes)
        if quiet is not None:
            report.problems.insert(0, quiet)
        tracebacks = sum(r.log_lines("Exception in ASGI application") for r in h.replicas.values())
        print(report.summary(h, tally, time.monotonic() - started), flush=True)
        print(f"commands answered 5xx or not at all (retried): {dict(tally.failed_answers)}; "
              f"'Exception in ASGI application' logged {tracebacks} times", flush=True)
        assert not report.problems, "\n".join([*report.problems, f"(logs in {tmp_path / 'logs'})"])


def _services() -> dict[str, tuple[int, dict[str, str]]]:
    common = {"STREAM_REPLICAS": "3", "SWEEP_INTERVAL_S": "0.5", "CONSUMER_BATCH": "8",
              "CONSUMER_CONCURRENCY": "8"}
    return {
        "dispatch": (2, {**common, "ACK_TIMEOUT_S": str(ACK_TIMEOUT_S), "VIEW_REFRESH_S": "2"}),
        "mediation": (2, common),
        "notify": (2, {**common, "SMS_ALLOWED_FROM": ALL_DAY["from"], "SMS_ALLOWED_UNTIL": ALL_DAY["until"],
                       "SMS_SEND_LEASE_S": str(SMS_LEASE_S), "SMS_RETRY_FIRST_S": "2",
                       "SMS_EMBEDDED_RECEIPT_DELAY_S": "1", "SMS_DAILY_LIMIT": "10",
                       # a send lost with a killed replica: its receipt (1 s) is waited for this long, then sent again
                       "SMS_LOST_TRY_WAIT_S": "3"}),
        "rating": (2, {**common, "SEND_FROM": ALL_DAY["from"], "SEND_UNTIL": ALL_DAY["until"]}),
        "community": (2, common),
    }


async def _what_notify_serves(http: httpx.AsyncClient, url: str) -> Notify:
    paths = (await http.get(f"{url}/openapi.json")).json().get("paths", {})
    return Notify(callbacks="/v1/callbacks" in paths, sms="/v1/sms/inbound" in paths)


# --- faults ----------------------------------------------------------------------------------------


async def _inject(h: Harness) -> None:
    """A replica of each service, the ALERTS stream's leader, then the store: SIGKILLed, then restarted."""
    await asyncio.sleep(3.0)
    for service in ("dispatch", "mediation", "rating", "notify", "community"):  # each back while the next dies
        h.kill(f"{service}-1")
        await asyncio.sleep(0.5)
        h.restart(f"{service}-1", wait_ready=False)
        await asyncio.sleep(1.5)
    await h.kill_stream_leader("ALERTS", NATS_OUTAGE_S)
    await asyncio.sleep(2.0)
    h.kill("store")
    await asyncio.sleep(STORE_OUTAGE_S)
    await asyncio.to_thread(h.restart, "store")
    for service in ("dispatch", "mediation", "rating", "notify", "community"):
        await asyncio.to_thread(h.replicas[f"{service}-1"].wait_ready)


# --- load ------------------------------------------------------------------------------------------


async def _alerts(nc, tally: Tally, rng: random.Random) -> None:
    """ALERTS alerts over LOAD_S seconds, a tenth re-sent a moment later under a new msg id."""
    start = time.monotonic()
    resends: list[tuple[dict, str]] = []
    for i in range(ALERTS):
        lon, lat = centre(i % len(CAPACITIES))
        lon += rng.uniform(-0.4, 0.4) * STEP
        lat += rng.uniform(-0.4, 0.4) * STEP
        body = alert_body(f"PF-{i:04d}", lon, lat, received_at=datetime.now(UTC).isoformat(),
                          caller_phone=caller_phone(i))
        await publish_retrying(nc, ALERTS_RECEIVED, body, body["alert_id"])
        tally.alerts_sent += 1
        if rng.random() < RESENT_SHARE:
            resends.append((body, f"{body['alert_id']}-again"))
        if len(resends) >= 3 or i == ALERTS - 1:
            for again, msg_id in resends:
                await publish_retrying(nc, ALERTS_RECEIVED, again, msg_id)
                tally.alerts_resent += 1
            resends.clear()
        await _pace(start, i + 1, ALERTS)


async def _cases(nc, tally: Tally, rng: random.Random) -> None:
    """CASES cases accepted over LOAD_S seconds (two parties each), half of them solved a few seconds later."""
    start = time.monotonic()
    solving: list[asyncio.Task] = []
    for i in range(CASES):
        case_id = f"PFC-{i:03d}"
        parties = [{"party_id": f"p{k}", "name": ("王某", "李某")[k], "phone": party_phone(i, k),
                    "role": ("victim", "suspect")[k]} for k in range(2)]
        body = {"case_id": case_id, "kind": ("criminal", "administrative")[i % 2],
                "accepted_at": datetime.now(UTC).isoformat(), "officer_id": "P100", "unit_id": "G1",
                "parties": parties}
        await publish_retrying(nc, CASES_ACCEPTED, body, f"{case_id}/accepted")
        tally.cases_accepted[case_id] = [p["party_id"] for p in parties]
        if rng.random() < RESENT_SHARE:
            await publish_retrying(nc, CASES_ACCEPTED, body, f"{case_id}/accepted-again")
            tally.cases_resent += 1
        if rng.random() < SOLVED_SHARE:
            solving.append(asyncio.create_task(_solve(nc, tally, case_id, parties, rng.uniform(2.0, 6.0))))
        await _pace(start, i + 1, CASES)
    await asyncio.gather(*solving)


async def _solve(nc, tally: Tally, case_id: str, parties: list[dict], after_s: float) -> None:
    await asyncio.sleep(after_s)
    body = {"case_id": case_id, "solved_at": datetime.now(UTC).isoformat(), "parties": parties}
    await publish_retrying(nc, CASES_SOLVED, body, f"{case_id}/solved")
    tally.cases_solved.add(case_id)


async def _visits(http: httpx.AsyncClient, urls: list[str], tally: Tally) -> None:
    """VISITS household visits over LOAD_S seconds, each in a unit's zone by one of its officers; a retry after a
    lost answer, or while community has not read the grid yet (409), carries the same request_id."""
    start = time.monotonic()
    for i in range(VISITS):
        unit = i % len(CAPACITIES)
        lon, lat = centre(unit)
        request_id = f"PV-{i:03d}"
        findings = [{"kind": "dispute", "summary": "邻里为排烟争吵", "parties": [{"party_id": "p1", "name": "王某"}]}] \
            if i % DISPUTE_EVERY == 0 else []
        body = {"officer_id": f"P{unit + 1}{i % 3:02d}", "visited_at": datetime.now(UTC).isoformat(),
                "household": f"户{i}", "address": f"某村{i}号", "lon": lon, "lat": lat, "findings": findings,
                "request_id": request_id}
        while True:
            response = await _retrying(http, tally, "POST", urls, "/v1/visits", json=body)
            if response.status_code != 409:
                break
            await asyncio.sleep(0.5)  # the grid is on its way
        assert response.status_code in (200, 201), f"POST /v1/visits: {response.status_code} {response.text}"
        tally.visits[request_id] = response.json()["visit_id"]
        await _pace(start, i + 1, VISITS)


async def _pace(start: float, done: int, total: int) -> None:
    pause = start + done * LOAD_S / total - time.monotonic()
    if pause > 0:
        await asyncio.sleep(pause)


async def _retrying(http: httpx.AsyncClient, tally: Tally, method: str, urls: list[str], path: str,
                    within_s: float = 60.0, **kwargs) -> httpx.Response:
    """A request to either replica until one answers below 500 (a replica or the store may be away)."""
    deadline = time.monotonic() + within_s
    n = random.randrange(len(urls))
    while True:
        try:
            response = await http.request(method, urls[n % len(urls)] + path, **kwargs)
            if response.status_code < 500:
                return response
            tally.failed_answers[f"{response.status_code} {method} {_shape(path)}"] += 1
        except httpx.TransportError:
            tally.failed_answers["no answer"] += 1
        if time.monotonic() > deadline:
            raise AssertionError(f"{method} {path} not answered within {within_s}s")
        n += 1
        await asyncio.sleep(0.3)


def _shape(path: str) -> str:
    """A request's path with its ids left out: what the failed answers are counted by."""
    return re.sub(r"/PF-\d+", "/{alert_id}", path)


class Unit:
    """The officers of every unit: told by `alerts.assigned`, they acknowledge, then close, through the API."""

    def __init__(self, http: httpx.AsyncClient, urls: list[str], nc, tally: Tally, rng: random.Random) -> None:
        self._http, self._urls, self._nc, self._tally, self._rng = http, urls, nc, tally, rng
        self._busy: set[asyncio.Task] = set()

    @property
    def idle(self) -> bool:
        return not self._busy

    async def run(self) -> None:
        await follow_assignments(self._nc, OUR_CONSUMERS[0], self._assigned)

    def _assigned(self, alert_id: str, unit_id: str, attempt: int) -> None:
        task = asyncio.create_task(self._handle(alert_id, unit_id))
        self._busy.add(task)
        task.add_done_callback(self._busy.discard)

    async def stop(self) -> None:
        for task in list(self._busy):
            task.cancel()
        await asyncio.gather(*self._busy, return_exceptions=True)

    async def _handle(self, alert_id: str, unit_id: str) -> None:
        i = int(alert_id.removeprefix("PF-"))
        await asyncio.sleep(self._rng.uniform(0.2, 1.0))  # on the way
        if not await self._step(alert_id, "ack", {"unit_id": unit_id}, unit_id, done_in=("acknowledged", "closed")):
            return
        await asyncio.sleep(self._rng.uniform(0.1, 0.5))
        chosen = disposition(i)
        body = {"unit_id": unit_id, "officer_id": f"P{unit_id[1:]}00", "disposition": chosen,
                "note": "现场调解未果，移交调解" if chosen == "referred_to_mediation" else ""}
        if await self._step(alert_id, "close", body, unit_id, done_in=("closed",)):
            self._tally.closed[alert_id] = chosen

    async def _step(self, alert_id: str, action: str, body: dict, unit_id: str, done_in: tuple[str, ...]) -> bool:
        """POST the action; a 409 after a lost answer is fine when the alert shows it done by this unit."""
        path = f"/v1/alerts/{alert_id}"
        response = await _retrying(self._http, self._tally, "POST", self._urls, f"{path}/{action}", json=body)
        if response.status_code == 200:
            return True
        if response.status_code != 409:
            raise AssertionError(f"POST {path}/{action}: {response.status_code} {response.text}")
        alert = (await _retrying(self._http, self._tally, "GET", self._urls, path)).json()
        return alert.get("state") in done_in and alert.get("unit_id") == unit_id  # else it moved on: told again


class Phones:
    """The callers' phones: what notify's embedded gateway sent them, and their replies through notify."""

    def __init__(self, http: httpx.AsyncClient, urls: list[str], tally: Tally) -> None:
        self._http, self._urls, self._tally = http, urls, tally
        self._busy: set[asyncio.Task] = set()

    @property
    def idle(self) -> bool:
        return not self._busy

    async def run(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(1.0)
            n += 1
            try:
                response = await self._http.get(f"{self._urls[n % 2]}/v1/sms/outbox", params={"limit": 500})
            except httpx.TransportError:
                continue
            if response.status_code != 200:
                continue
            for record in response.json():
                if record["sms_id"] in self._tally.sms_seen:
                    continue
                self._tally.sms_seen[record["sms_id"]] = record
                reply = self._reply_to(record)
                if reply is not None:
                    task = asyncio.create_task(self._reply(record["sms_id"], *reply))
                    self._busy.add(task)
                    task.add_done_callback(self._busy.discard)

    def _reply_to(self, record: dict) -> tuple[str, str, str] | None:
        """(alert id or callback id, phone, text) of the reply this SMS gets, or None."""
        party = re.fullmatch(r"137(\d)000(\d{4})", record["phone"])
        if party is not None:  # a case party answers its callback SMS
            callback_id = record["sms_id"].rsplit(".", 1)[0]
            text = CALLBACK_REPLIES[(int(party.group(1)) + int(party.group(2))) % len(CALLBACK_REPLIES)]
            if record["sms_id"].endswith(".r"):
                text = AFTER_REPROMPT
            # a party has a 7-day and a 3-day callback open at once when its case is solved: the code says which
            code = record["text"].split("回访码", 1)[1][:4]
            return None if text is None else (callback_id, record["phone"], f"{code} {text}")
        found = re.fullmatch(r"1390000(\d{4})", record["phone"])
        if found is None:
            return None
        i = int(found.group(1))
        text = REPLIES[i % len(REPLIES)]
        if record["sms_id"].endswith(":reprompt"):
            text = AFTER_REPROMPT
        return None if text is None else (f"PF-{i:04d}", record["phone"], text)

    async def _reply(self, sms_id: str, alert_id: str, phone: str, text: str) -> None:
        await asyncio.sleep(random.uniform(0.2, 1.5))  # the citizen reads it
        form = {"from": phone, "to": "10690110", "text": text, "id": f"mo-{sms_id.replace(':', '-')}"[:60]}
        response = await _retrying(self._http, self._tally, "POST", self._urls, "/v1/sms/inbound", data=form)
        assert response.status_code == 202, f"POST /v1/sms/inbound: {response.status_code} {response.text}"
        if alert_id.startswith("cb-"):
            self._tally.answers[alert_id].append(text.split(" ", 1)[1])  # without the code
        else:
            self._tally.replies[alert_id].append(text)


# --- watching and checking -------------------------------------------------------------------------


async def _outboxes_waiting(dbs: dict) -> dict[str, int]:
    waiting = {}
    for name, db in dbs.items():
        for collection in await db.list_collection_names():
            n = await db[collection].count_documents({"outbox_ms": {"$exists": True}})
            if n:
                waiting[f"{name}.{collection}"] = n
    return waiting


async def _progress(dbs: dict, tally: Tally, notify: Notify) -> dict[str, str]:
    """What is not done yet, by part; empty when every part has done what the load asked of it."""
    left: dict[str, str] = {}
    states = Counter([d["state"] async for d in dbs["dispatch"].alerts.find({}, {"state": 1})])
    if states["closed"] < ALERTS:
        left["alerts"] = f"{dict(states)}"
    referred = sum(1 for d in tally.closed.values() if d == "referred_to_mediation")
    disputes = await dbs["mediation"].disputes.count_documents({"source": "alert"})
    if disputes < referred:
        left["disputes"] = f"{disputes} of {referred}"
    surveys = await dbs["rating"].surveys.count_documents({"subject_type": "alert"})
    if surveys < len(tally.closed):
        left["surveys"] = f"{surveys} of {len(tally.closed)}"
    if notify.sms:
        queued = await dbs["notify"].sms_messages.count_documents({"state": "queued"})
        if queued:
            left["sms"] = f"{queued} queued"
        sent = await dbs["notify"].sms_embedded_outbox.count_documents({})
        if len(tally.sms_seen) < sent:
            left["phones"] = f"read {len(tally.sms_seen)} of {sent} SMS sent"
        expected = sum(1 for texts in tally.replies.values() if any(t in LEVEL_OF for t in texts))
        ratings = await dbs["rating"].ratings.count_documents({"channel": "sms", "subject_type": "alert"})
        if ratings < expected:
            left["ratings"] = f"{ratings} of {expected}"
    visits = await dbs["community"].visits.count_documents({})
    if visits < len(tally.visits):
        left["visits"] = f"{visits} of {len(tally.visits)}"
    counted = sum([(d.get("counts") or {}).get("visits", 0) async for d in dbs["community"].sheets.find({})])
    if counted < len(tally.visits):
        left["sheets"] = f"{counted} of {len(tally.visits)} visits counted"
    from_visits = await dbs["mediation"].disputes.count_documents({"source": "visit"})
    if from_visits < len(_dispute_visits(tally)):
        left["visit disputes"] = f"{from_visits} of {len(_dispute_visits(tally))}"
    if notify.callbacks:
        expected = len(_callbacks_due(tally))
        callbacks = await dbs["notify"].callbacks.count_documents({})
        if callbacks < expected:
            left["callbacks"] = f"{callbacks} of {expected}"
        answered = [c for c, texts in tally.answers.items() if any(t in LEVEL_OF for t in texts)]
        rated = await dbs["rating"].ratings.count_documents({"subject_type": "callback"})
        done = await dbs["notify"].callbacks.count_documents({"channel": "sms", "level": {"$ne": None}})
        if rated < done:
            left["callback ratings"] = f"{rated} of {done} done with a level ({len(answered)} answered)"
    return left


async def _quiescence(dbs: dict, nc, unit: Unit, phones: Phones | None, tally: Tally,
                      notify: Notify) -> str | None:
    """Until every part has done its share, no consumer holds work, no outbox waits, the simulated unit and
    phones are idle, and the streams stand still for 2 s. None when reached, else what was not."""
    js = nc.jetstream()
    deadline = time.monotonic() + QUIET_WITHIN_S
    last, still_since, told = None, time.monotonic(), time.monotonic()
    left: dict[str, str] = {"everything": "not looked at yet"}
    in_hand: dict[str, int] = {}
    outboxes: dict[str, int] = {}
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        if time.monotonic() - told >= 5:
            told = time.monotonic()
            print(f"  waiting for quiet: left {left}, in hand {in_hand}, outboxes {outboxes}", flush=True)
        try:
            left = await _progress(dbs, tally, notify)
            outboxes = await _outboxes_waiting(dbs)
            in_hand = await unfinished_work(js, list(STREAMS), skip=OUR_CONSUMERS)
            seqs = tuple([(await js.stream_info(s)).state.last_seq for s in STREAMS])
        except Exception as exc:  # noqa: BLE001 - a part is still coming back
            left = {"looking": repr(exc)[:120]}
            continue
        if seqs != last:
            last, still_since = seqs, time.monotonic()
        idle = unit.idle and (phones is None or phones.idle)
        if not left and not outboxes and not in_hand and idle and time.monotonic() - still_since >= 2.0:
            return None
    return (f"not quiet within {QUIET_WITHIN_S}s: left {left}, consumers in hand {in_hand}, outboxes {outboxes}, "
            f"unit idle={unit.idle}, phones idle={phones is None or phones.idle}")


@dataclass
class Kind:
    """One kind of fact: how many the load called for, were stored, were told, and which are lost or doubled."""

    expected: int = 0
    stored: int = 0
    told: int = 0
    told_as: str = "told"
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)

    def line(self, name: str) -> str:
        return (f"{name}: expected={self.expected} stored={self.stored} {self.told_as}={self.told} "
                f"lost={len(self.lost)} doubled={len(self.doubled)}")


@dataclass
class Report:
    kinds: dict[str, Kind] = field(default_factory=lambda: defaultdict(Kind))
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dead_letters: int = 0

    def summary(self, h: Harness, tally: Tally, seconds: float) -> str:
        injected = ", ".join(f"{f.what} @{f.at:.1f}s" for f in h.faults)
        kinds = " | ".join(kind.line(name) for name, kind in self.kinds.items())
        skipped = f" | not checked: {', '.join(self.skipped)}" if self.skipped else ""
        notes = f" | {'; '.join(self.notes)}" if self.notes else ""
        return (f"PLATFORM FAULTS SUMMARY: injected [{injected}] | sent: alerts={tally.alerts_sent} "
                f"(+{tally.alerts_resent} resent) cases={len(tally.cases_accepted)} (+{tally.cases_resent} resent) "
                f"solved={len(tally.cases_solved)} replies={sum(len(t) for t in tally.replies.values())} | {kinds} "
                f"| over_capacity={len(tally.over_capacity)} snapshots={tally.snapshots} "
                f"dead_letters={self.dead_letters}{skipped}{notes} | {seconds:.1f}s")

    def finish(self) -> None:
        for name, kind in self.kinds.items():
            if kind.lost:
                self.problems.append(f"LOST {len(kind.lost)} {name}: {', '.join(sorted(kind.lost)[:12])}"
                                     f"{' …' if len(kind.lost) > 12 else ''}")
            if kind.doubled:
                self.problems.append(f"DOUBLED {len(kind.doubled)} {name}: {', '.join(sorted(kind.doubled)[:12])}"
                                     f"{' …' if len(kind.doubled) > 12 else ''}")


def _by_msg_id(messages: list, subject: str) -> Counter:
    return Counter(msg_id for _, s, msg_id, _ in messages if s == subject)


async def _check(dbs: dict, nc, tally: Tally, notify: Notify, h: Harness) -> Report:
    report = Report()
    streams = {name: await read_stream(nc, name) for name in ("ALERTS", "DISPUTES", "CASES", "CALLBACKS", "RATINGS",
                                                               "SMS", "COMMUNITY")}
    await _check_alerts(dbs["dispatch"], streams["ALERTS"], tally, report)
    await _check_disputes(dbs["mediation"], streams["DISPUTES"], tally, report)
    await _check_surveys(dbs["rating"], streams["SMS"], tally, report)
    if notify.sms:
        await _check_ratings(dbs["rating"], streams["RATINGS"], tally, report)
        await _check_sms(dbs["notify"], streams["SMS"], tally, report, h)
    else:
        report.skipped += ["ratings", "sms (notify serves no SMS gateway)"]
    await _check_visits(dbs, streams["COMMUNITY"], tally, report)
    await _check_sheets(dbs["community"], streams, report)
    if notify.callbacks:
        await _check_callbacks(dbs["notify"], streams["CALLBACKS"], tally, report)
    if notify.callbacks and notify.sms:
        await _check_answers(dbs["notify"], dbs["rating"], streams["RATINGS"], tally, report)
    else:
        report.skipped.append("callbacks (notify serves no callbacks)")
    report.dead_letters = (await nc.jetstream().stream_info("DEADLETTER")).state.messages
    if report.dead_letters:
        dead = await read_stream(nc, "DEADLETTER")
        report.problems.append(f"{report.dead_letters} dead letters: " + "; ".join(
            f"{b.get('consumer')} dead-lettered {b.get('msg_id')} ({b.get('original_subject')}): {b.get('reason')}"
            for _, _, _, b in dead[:5]))
    report.finish()
    return report


async def _check_alerts(db, messages: list, tally: Tally, report: Report) -> None:
    """Every alert stored once and closed; none held twice; no unit over capacity; each closing told once."""
    kind = report.kinds["alerts"]
    ids = [f"PF-{i:04d}" for i in range(ALERTS)]
    kind.expected = len(ids)
    docs = [d async for d in db.alerts.find({})]
    kind.stored = len(docs)
    stored = Counter(d["_id"] for d in docs)
    kind.lost += [f"{a} never stored" for a in ids if a not in stored]
    kind.lost += [f"{d['_id']} {d['state']}" for d in docs if d["state"] != "closed"]
    kind.doubled += [f"{a} stored {n} times" for a, n in stored.items() if n > 1]
    kind.doubled += [f"{a} stored but never sent" for a in stored if a not in set(ids)]
    held = [d for d in docs if d["state"] in ("assigned", "acknowledged")]
    kind.doubled += [f"place {s} held by {n} alerts" for s, n in Counter(d["slot"] for d in held).items() if n > 1]
    for d in docs:
        if sum(1 for a in d.get("assignments", []) if a.get("end") is None) > 1:
            kind.doubled.append(f"{d['_id']} held by two units at once")
    report.problems += [f"over capacity in a snapshot: {s}" for s in tally.over_capacity[:10]]
    closings = Counter(b["alert_id"] for _, s, _, b in messages if s == ALERTS_CLOSED)
    kind.told = len(closings)
    kind.lost += [f"{d['_id']} closed but alerts.closed never told" for d in docs
                  if d["state"] == "closed" and d["_id"] not in closings]
    kind.doubled += [f"{a} alerts.closed told {n} times" for a, n in closings.items() if n > 1]


async def _check_disputes(db, messages: list, tally: Tally, report: Report) -> None:
    """Every alert closed as referred_to_mediation has exactly one dispute, opened once in the stream."""
    kind = report.kinds["disputes"]
    referred = sorted(a for a, d in tally.closed.items() if d == "referred_to_mediation")
    kind.expected = len(referred)
    docs = [d async for d in db.disputes.find({"source": "alert"}, {"source_ref": 1})]
    kind.stored = len(docs)
    per_alert = Counter(d["source_ref"] for d in docs)
    kind.lost += [f"no dispute for {a}" for a in referred if a not in per_alert]
    kind.doubled += [f"{a} has {n} disputes" for a, n in per_alert.items() if n > 1]
    kind.doubled += [f"dispute for {a}, not referred" for a in per_alert if a not in set(referred)]
    opened = Counter(b["dispute_id"] for _, s, _, b in messages if s == DISPUTES_OPENED)
    kind.told = len(opened)
    kind.lost += [f"{d['_id']} never told disputes.opened" for d in docs if d["_id"] not in opened]
    kind.doubled += [f"{d} disputes.opened told {n} times" for d, n in opened.items() if n > 1]


async def _check_surveys(db, sms_stream: list, tally: Tally, report: Report) -> None:
    """Every closed alert's caller is surveyed once (one survey per subject and phone, one sms.send for it)."""
    kind = report.kinds["surveys"]
    kind.expected = len(tally.closed)
    docs = [d async for d in db.surveys.find({"subject_type": "alert"})]
    kind.stored = len(docs)
    per_subject = Counter((d["subject_id"], d["phone"]) for d in docs)
    for alert_id in tally.closed:
        if (alert_id, caller_phone(int(alert_id.removeprefix("PF-")))) not in per_subject:
            kind.lost.append(f"no survey of {alert_id}")
    kind.doubled += [f"{s} surveyed {n} times" for s, n in per_subject.items() if n > 1]
    not_sent = Counter(d["state"] for d in docs if d["state"] in ("scheduled", "suppressed", "failed"))
    if not_sent:
        report.problems.append(f"surveys not sent: {dict(not_sent)}")
    commands = Counter(b["ref"] for _, s, _, b in sms_stream if s == SMS_SEND and b.get("purpose") == "survey")
    kind.told = len(commands)
    kind.lost += [f"{d['_id']} ({d['subject_id']}) sent but no sms.send" for d in docs
                  if d["state"] not in ("scheduled", "suppressed") and d["_id"] not in commands]
    kind.doubled += [f"{s} asked for {n} survey SMS" for s, n in commands.items() if n > 1]


async def _check_ratings(db, messages: list, tally: Tally, report: Report) -> None:
    """Every valid reply that reached notify became exactly one rating, of the level of the first valid reply."""
    kind = report.kinds["ratings"]
    wanted = {}
    for alert_id, texts in tally.replies.items():
        valid = [t for t in texts if t in LEVEL_OF]
        if valid:
            wanted[alert_id] = LEVEL_OF[valid[0]]
    kind.expected = len(wanted)
    docs = [d async for d in db.ratings.find({"channel": "sms", "subject_type": "alert"})]
    kind.stored = len(docs)
    per_subject = Counter(d["subject_id"] for d in docs)
    level = {d["subject_id"]: d["level"] for d in docs}
    kind.lost += [f"{a} replied, no rating" for a in wanted if a not in per_subject]
    kind.doubled += [f"{a} rated {n} times" for a, n in per_subject.items() if n > 1]
    kind.doubled += [f"{a} rated without a valid reply" for a in per_subject if a not in wanted]
    wrong = [f"{a}: {level[a]}, replied {w}" for a, w in wanted.items() if a in level and level[a] != w]
    if wrong:
        report.problems.append(f"{len(wrong)} ratings of another level than replied: {wrong[:10]}")
    told = Counter(b["rating_id"] for _, s, _, b in messages if s == RATINGS_RECEIVED and b.get("channel") == "sms"
                   and b.get("subject_type") == "alert")
    kind.told = len(told)
    kind.lost += [f"{d['_id']} never told ratings.received" for d in docs if d["_id"] not in told]
    kind.doubled += [f"{r} ratings.received told {n} times" for r, n in told.items() if n > 1]
    reprompted = [a for a, texts in tally.replies.items() if texts and texts[0] == UNREADABLE]
    unanswered = [a for a in reprompted if AFTER_REPROMPT not in tally.replies[a]]
    if unanswered:
        report.problems.append(f"{len(unanswered)} unreadable replies never re-prompted: {sorted(unanswered)[:10]}")


async def _check_sms(db, messages: list, tally: Tally, report: Report, h: Harness) -> None:
    """Every sms.send stored once by sms_id and sent once by the gateway: its sms_messages document, the
    embedded gateway's record, the `sms.sent` lines of the notify replicas' logs, the sent facts told."""
    kind = report.kinds["sms"]
    commands = Counter(b["sms_id"] for _, s, _, b in messages if s == SMS_SEND)
    kind.expected = len(commands)
    docs = {d["_id"]: d async for d in db.sms_messages.find({})}
    kind.stored = len(docs)
    records = {d["_id"]: d["sent_at"] async for d in db.sms_embedded_outbox.find({}, {"sent_at": 1})}
    kind.lost += [f"{m} asked for, never stored" for m in commands if m not in docs]
    kind.lost += [f"{m} {d['state']}" for m, d in docs.items() if d["state"] == "queued"]
    kind.lost += [f"{m} {d['state']} without a gateway record" for m, d in docs.items()
                  if d["state"] in ("sent", "delivered") and m not in records]
    kind.doubled += [f"{m} recorded by the gateway but {docs[m]['state']}" for m in records
                     if m in docs and docs[m]["state"] not in ("sent", "delivered")]
    kind.doubled += [f"{m} stored but never asked for" for m in docs if m not in commands]
    sends = Counter()
    pattern = re.compile(r'"sms_id": "([^"]+)"')
    for name, replica in h.replicas.items():
        if not name.startswith("notify-") or not replica.log_path.exists():
            continue
        for line in replica.log_path.read_text(errors="replace").splitlines():
            if '"event": "sms.sent"' in line and (found := pattern.search(line)):
                sends[found.group(1)] += 1
    kind.doubled += [f"{m} sent {n} times by the gateway" for m, n in sends.items() if n > 1]
    told = Counter(b["sms_id"] for _, s, _, b in messages
                   if s.startswith(SMS_DELIVERY) and b.get("status") == "sent")  # sms.delivery.<requester>
    kind.told, kind.told_as = len(records), "sent"
    kind.doubled += [f"{m} told sent {n} times" for m, n in told.items() if n > 1]
    # A later try starts only once the lease of the one before ran out: a gateway record from before
    # that moment means the first try had handed the message over, and the later one did so again.
    retried = sorted(m for m, d in docs.items() if d.get("attempts", 0) > 1)
    lease = timedelta(seconds=SMS_LEASE_S)
    for m in retried:
        first, handed = docs[m].get("first_try_at"), records.get(m)
        if first is not None and handed is not None and docs[m]["state"] in ("sent", "delivered") \
                and _utc(handed) < _utc(first) + lease:
            kind.doubled.append(f"{m} handed to the gateway by its first try at {_utc(handed):%H:%M:%S.%f} and "
                                f"again by try {docs[m]['attempts']} after the lease")
    if retried:
        report.notes.append(f"sms tried more than once: {retried[:8]}")
    surveys_seen = [m for m in tally.sms_seen if m.endswith(":survey")]
    report.notes.append(f"phones read {len(tally.sms_seen)} SMS ({len(surveys_seen)} surveys)")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _check_answers(notify_db, rating_db, messages: list, tally: Tally, report: Report) -> None:
    """Every callback SMS answered with a level: the callback done once by SMS with that level (unless the
    case was solved first: superseded), and exactly one rating of that callback with that level, told once."""
    kind = report.kinds["answers"]
    wanted = {}
    for callback_id, texts in tally.answers.items():
        valid = [t for t in texts if t in LEVEL_OF]
        if valid:
            wanted[callback_id] = LEVEL_OF[valid[0]]
    docs = {d["_id"]: d async for d in notify_db.callbacks.find({"_id": {"$in": list(tally.answers)}})}
    superseded = {c for c, d in docs.items() if d["state"] == "superseded"}
    wanted = {c: level for c, level in wanted.items() if c not in superseded}
    kind.expected = len(wanted)
    ratings = [d async for d in rating_db.ratings.find({"subject_type": "callback"})]
    per_callback = Counter(d["subject_id"] for d in ratings)
    level = {d["subject_id"]: d["level"] for d in ratings}
    kind.stored = sum(1 for c in wanted if c in per_callback)
    kind.lost += [f"{c} answered, callback {docs.get(c, {}).get('state')}" for c in wanted
                  if docs.get(c, {}).get("state") != "done" or docs[c].get("channel") != "sms"]
    kind.lost += [f"{c} answered, no rating" for c in wanted if c not in per_callback]
    kind.doubled += [f"{c} rated {n} times" for c, n in per_callback.items() if n > 1]
    kind.doubled += [f"{c} rated without an answer of a level" for c in per_callback if c not in wanted]
    wrong = [f"{c}: rated {level[c]}, callback {docs[c].get('level')}, answered {w}" for c, w in wanted.items()
             if c in level and (level[c] != w or docs.get(c, {}).get("level") != w)]
    if wrong:
        report.problems.append(f"{len(wrong)} callbacks of another level than answered: {wrong[:10]}")
    told = Counter(b["rating_id"] for _, s, _, b in messages
                   if s == RATINGS_RECEIVED and b.get("subject_type") == "callback")
    kind.told = len(told)
    kind.lost += [f"{d['_id']} never told ratings.received" for d in ratings if d["_id"] not in told]
    kind.doubled += [f"{r} ratings.received told {n} times" for r, n in told.items() if n > 1]
    reprompted = [c for c, texts in tally.answers.items() if texts and texts[0] == CALLBACK_UNREADABLE
                  and c not in superseded and docs.get(c, {}).get("state") not in ("manual", "done")]
    unanswered = [c for c in reprompted if AFTER_REPROMPT not in tally.answers[c]]
    if unanswered:
        report.problems.append(f"{len(unanswered)} unreadable answers never re-prompted: {sorted(unanswered)[:10]}")
    report.notes.append(f"{len(tally.answers)} callback SMS answered, {len(superseded)} of them superseded first")


def _callbacks_due(tally: Tally) -> set[tuple[str, str, str]]:
    """(case, party, rule) of every callback the cases call for: unsolved_7d for a case not solved,
    solved_3d for a solved one. A solved case's unsolved_7d is there only when notify heard of the
    acceptance before the solving (then it is superseded); heard after, there is nothing to supersede."""
    return {(c, p, "solved_3d" if c in tally.cases_solved else "unsolved_7d")
            for c, parties in tally.cases_accepted.items() for p in parties}


async def _check_callbacks(db, messages: list, tally: Tally, report: Report) -> None:
    """One callback per party and rule, none missing, each scheduled once in the stream; a solved case's
    7-day callbacks, where there are any, superseded."""
    kind = report.kinds["callbacks"]
    wanted = _callbacks_due(tally)
    allowed = wanted | {(c, p, "unsolved_7d") for c in tally.cases_solved for p in tally.cases_accepted[c]}
    kind.expected = len(wanted)
    docs = [d async for d in db.callbacks.find({}, {"case_id": 1, "party_id": 1, "rule": 1, "state": 1})]
    per_party = Counter((d["case_id"], d["party_id"], d["rule"]) for d in docs)
    kind.stored = sum(1 for key in per_party if key in wanted)
    report.notes.append(f"{len(per_party) - kind.stored} 7-day callbacks of solved cases, superseded")
    kind.lost += [f"{c}/{p}/{r}" for c, p, r in sorted(wanted) if (c, p, r) not in per_party]
    kind.doubled += [f"{c}/{p}/{r} x{n}" for (c, p, r), n in per_party.items() if n > 1]
    kind.doubled += [f"{c}/{p}/{r} not called for" for (c, p, r) in per_party if (c, p, r) not in allowed]
    scheduled = Counter(b["callback_id"] for _, s, _, b in messages if s == "callbacks.scheduled")
    kind.told = len(scheduled)
    kind.lost += [f"{d['_id']} never told callbacks.scheduled" for d in docs if d["_id"] not in scheduled]
    kind.doubled += [f"{c} callbacks.scheduled told {n} times" for c, n in scheduled.items() if n > 1]
    open_7d = [d["_id"] for d in docs if d["case_id"] in tally.cases_solved and d["rule"] == "unsolved_7d"
               and d["state"] in ("scheduled", "sent", "delivered", "manual", "overdue")]
    if open_7d:
        report.problems.append(f"{len(open_7d)} 7-day callbacks of solved cases not superseded: {open_7d[:8]}")


def _dispute_visits(tally: Tally) -> set[str]:
    return {v for r, v in tally.visits.items() if int(r.removeprefix("PV-")) % DISPUTE_EVERY == 0}


async def _check_visits(dbs: dict, messages: list, tally: Tally, report: Report) -> None:
    """Every visit community answered stored once and told once; every dispute finding one dispute in mediation."""
    kind = report.kinds["visits"]
    kind.expected = len(tally.visits)
    docs = Counter([d["_id"] async for d in dbs["community"].visits.find({}, {"_id": 1})])
    kind.stored = len(docs)
    kind.lost += [f"{r}: {v} not stored" for r, v in tally.visits.items() if v not in docs]
    kind.doubled += [f"{v} stored but not answered" for v in docs if v not in set(tally.visits.values())]
    told = Counter(b["visit_id"] for _, s, _, b in messages if s == VISITS_RECORDED)
    kind.told = len(told)
    kind.lost += [f"{v} never told visits.recorded" for v in docs if v not in told]
    kind.doubled += [f"{v} visits.recorded told {n} times" for v, n in told.items() if n > 1]
    disputes = report.kinds["visit disputes"]
    wanted = _dispute_visits(tally)
    disputes.expected = len(wanted)
    per_visit = Counter([d["source_ref"] async for d in dbs["mediation"].disputes.find({"source": "visit"},
                                                                                       {"source_ref": 1})])
    disputes.stored = disputes.told = len(per_visit)
    disputes.lost += [f"no dispute for {v}" for v in wanted if v not in per_visit]
    disputes.doubled += [f"{v} has {n} disputes" for v, n in per_visit.items() if n > 1]
    disputes.doubled += [f"dispute for {v}, no dispute finding" for v in per_visit if v not in wanted]


async def _check_sheets(db, streams: dict, report: Report) -> None:
    """The month sheets count each fact of the streams once for each officer it names: the sums of their
    counters against the facts (a shortfall is lost, an excess doubled); the scorecard's copies equal them."""
    kind = report.kinds["sheet counts"]
    assigned = {(b["alert_id"], b["attempt"]): b["officers"] for _, s, _, b in streams["ALERTS"]
                if s == ALERTS_ASSIGNED}
    acked = {b["alert_id"]: b.get("officers", []) for _, s, _, b in streams["ALERTS"] if s == ALERTS_ACKNOWLEDGED}
    rated = {b["rating_id"] for _, s, _, b in streams["RATINGS"] if s == RATINGS_RECEIVED and b.get("officer_id")}
    visits = {b["visit_id"] for _, s, _, b in streams["COMMUNITY"] if s == VISITS_RECORDED}
    expected = {"alerts_assigned": sum(len(o) for o in assigned.values()),
                "alerts_acked": sum(len(o) for o in acked.values()), "ratings": len(rated), "visits": len(visits)}
    counted: Counter = Counter()
    totals = {d["_id"]: d.get("counts") async for d in db.sheet_totals.find({}, {"counts": 1})}
    async for sheet in db.sheets.find({}, {"counts": 1}):
        counted.update({k: v for k, v in (sheet.get("counts") or {}).items() if k in expected})
        if totals.get(sheet["_id"]) != sheet.get("counts"):
            report.problems.append(f"the scorecard's copy of sheet {sheet['_id']} is {totals.get(sheet['_id'])}, "
                                   f"the sheet {sheet.get('counts')}")
    kind.expected, kind.stored, kind.told_as, kind.told = sum(expected.values()), sum(counted.values()), "kinds", 4
    for name, n in expected.items():
        if counted[name] < n:
            kind.lost.append(f"{name}: {counted[name]} counted of {n}")
        elif counted[name] > n:
            kind.doubled.append(f"{name}: {counted[name]} counted of {n}")
