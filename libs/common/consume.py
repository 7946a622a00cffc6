"""The one consume loop: a durable pull consumer with an explicit acknowledgement policy.

- valid and handled           -> ack
- invalid payload, or the use case answers NotFound / Refused / Invalid
                              -> dead-letter with the reason, then term (never redelivered)
- a dependency down, or Conflict (others kept changing it)
                              -> nak with a growing delay
- still failing at max_deliver -> dead-letter with the last error, then term

JetStream hands a message to another fetcher (another replica) when it is not acknowledged within
the consumer's `ack_wait_s`; a message handled longer than a third of it is kept with in-progress
signals, so a short `ack_wait_s` (seconds for alerts) costs nothing while the replica lives, and a
message held by a replica that died is handed on within that time.

A consumer is declared from its contract: the subject is the model's (`AlertClosed.subject`), and
the handler gets the validated event.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import structlog
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from common import metrics, tracing
from common.bus import Publisher
from common.contracts.base import Event
from common.contracts.deadletter import DeadLetter
from common.contracts.subjects import deadletter_subject, stream_for
from common.errors import Conflict, Invalid, NotFound, Refused, dependency_down

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=Event)


@dataclass(frozen=True, slots=True)
class Delivery:
    subject: str
    msg_id: str | None
    stream_seq: int
    num_delivered: int

    @property
    def redelivered(self) -> bool:
        return self.num_delivered > 1


@dataclass(frozen=True)
class Consumer(Generic[E]):
    durable: str
    model: type[E]
    handler: Callable[[E, Delivery], Awaitable[None]]
    #: how long a message waits for its acknowledgement before JetStream hands it to another fetcher;
    #: a service's `ack_wait_s` setting (by durable name) overrides it
    ack_wait_s: float = 30.0
    #: only where a bench or test feeds the model from another subject
    subject_override: str | None = None

    @property
    def subject(self) -> str:
        return self.subject_override or self.model.subject


def _backoff(num_delivered: int) -> float:
    return min(0.5 * 2 ** (num_delivered - 1), 30.0)


def _body_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode("ascii")


def _header_safe(text: str) -> str:
    return " ".join(text.split())[:200].encode("ascii", "replace").decode("ascii")


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ".".join(str(p) for p in e["loc"]) or "(body)", "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


class _InProgress:
    """Tells JetStream every `every_s` that a message is still being handled (a timer, no task, while it is quick)."""

    def __init__(self, msg: Msg, every_s: float) -> None:
        self._msg = msg
        self._every_s = every_s
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(every_s, self._signal)
        self._sending: asyncio.Task[None] | None = None

    def _signal(self) -> None:
        self._sending = self._loop.create_task(self._send())
        self._timer = self._loop.call_later(self._every_s, self._signal)

    async def _send(self) -> None:
        try:
            await self._msg.in_progress()
        except Exception as exc:  # the broker away: the message may be redelivered, which the handlers allow
            log.warning("message.in_progress_failed", error=repr(exc))

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class ConsumeLoop:
    """Runs one Consumer until `stop` is set, finishing the messages in hand."""

    def __init__(
        self,
        js: JetStreamContext,
        publisher: Publisher,
        consumer: Consumer[Any],
        *,
        batch: int = 64,
        concurrency: int = 32,
        max_deliver: int = 8,
        ack_wait_s: float | None = None,
    ) -> None:
        self._js = js
        self._publisher = publisher
        self._c = consumer
        self._batch = batch
        self._concurrency = concurrency
        self._max_deliver = max_deliver
        self._ack_wait_s = ack_wait_s or consumer.ack_wait_s

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        config = ConsumerConfig(
            durable_name=self._c.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._ack_wait_s,
            max_deliver=self._max_deliver,
            max_ack_pending=max(1000, self._batch * 4),
        )
        stream = stream_for(self._c.subject)
        with contextlib.suppress(NotFoundError):  # new: pull_subscribe creates it with this config
            info = await self._js.consumer_info(stream, self._c.durable)
            if info.config.ack_wait != config.ack_wait:  # changed since the consumer was created: update it
                await self._js.add_consumer(stream, config=config)
                log.info("consumer.updated", consumer=self._c.durable, ack_wait_s=config.ack_wait)
        return await self._js.pull_subscribe(self._c.subject, durable=self._c.durable, stream=stream, config=config)

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch while there is room: up to `concurrency` messages in hand, each handled on its own."""
        sub = await self._subscribed(stop)
        if sub is None:
            return  # stopped before the consumer could be reached
        log.info("consumer.started", consumer=self._c.durable, subject=self._c.subject)
        in_hand: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            room = self._concurrency - len(in_hand)
            if room <= 0:
                await asyncio.wait(in_hand, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                msgs = await sub.fetch(min(self._batch, room), timeout=1.0)
            except (TimeoutError, NatsTimeoutError):
                continue  # an empty batch: no messages right now
            except Exception as exc:  # the broker is away: wait and fetch again
                log.warning("consumer.fetch_failed", consumer=self._c.durable, error=str(exc))
                await asyncio.sleep(1.0)
                continue
            for msg in msgs:
                task = asyncio.create_task(self.handle(msg))
                in_hand.add(task)
                task.add_done_callback(in_hand.discard)
        if in_hand:
            await asyncio.wait(in_hand)  # finish the messages in hand before letting go
        with contextlib.suppress(Exception):
            await sub.unsubscribe()  # the durable consumer stays on the server; only this fetcher ends
        log.info("consumer.stopped", consumer=self._c.durable)

    async def _subscribed(self, stop: asyncio.Event) -> JetStreamContext.PullSubscription | None:
        """The durable consumer, tried again with a growing wait while JetStream cannot answer (a cluster
        electing the consumer's leader answers with timeouts): the service waits for it, it does not die."""
        delay = 0.5
        while not stop.is_set():
            try:
                return await self.subscribe()
            except Exception as exc:
                if not dependency_down(exc):
                    raise
                log.warning("consumer.subscribe_retry", consumer=self._c.durable, error=repr(exc), after_s=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 10.0)
        return None

    async def handle(self, msg: Msg) -> None:
        meta = msg.metadata
        delivery = Delivery(
            subject=msg.subject,
            msg_id=(msg.headers or {}).get("Nats-Msg-Id"),
            stream_seq=meta.sequence.stream,
            num_delivered=meta.num_delivered,
        )
        started = time.perf_counter()
        keep = _InProgress(msg, self._ack_wait_s / 3)
        try:
            with structlog.contextvars.bound_contextvars(
                subject=delivery.subject, stream_seq=delivery.stream_seq, msg_id=delivery.msg_id,
                consumer=self._c.durable,
            ), tracing.consuming(msg.headers, delivery.subject, self._c.durable, delivery.msg_id) as span:
                outcome = await self._process(msg, delivery)
                span.set_attribute("fengqiao.outcome", outcome)
        finally:
            keep.cancel()
        metrics.MESSAGES.labels(self._c.durable, outcome).inc()
        metrics.MESSAGE_SECONDS.labels(self._c.durable).observe(time.perf_counter() - started)

    async def _process(self, msg: Msg, delivery: Delivery) -> str:
        try:
            event = self._c.model.model_validate_json(msg.data)
        except ValidationError as exc:
            return await self._dead_letter(msg, delivery, "invalid payload", _errors(exc))
        with structlog.contextvars.bound_contextvars(business_id=event.business_id):
            try:
                await self._c.handler(event, delivery)
            except (NotFound, Refused) as exc:
                return await self._dead_letter(msg, delivery, f"rejected: {exc}", [])
            except Invalid as exc:
                errors = [{"loc": exc.field, "msg": exc.reason, "type": "value_error"}]
                return await self._dead_letter(msg, delivery, f"rejected: {exc}", errors)
            except Exception as exc:
                transient = dependency_down(exc) or isinstance(exc, Conflict)
                if delivery.num_delivered >= self._max_deliver:
                    log.error("message.gave_up", error=repr(exc), deliveries=delivery.num_delivered)
                    return await self._dead_letter(
                        msg, delivery, f"failed {delivery.num_delivered} times, last: {exc!r}", []
                    )
                if transient:
                    log.warning("message.retry", error=repr(exc), deliveries=delivery.num_delivered)
                else:
                    log.exception("message.failed", deliveries=delivery.num_delivered)
                await msg.nak(delay=_backoff(delivery.num_delivered))
                return "retried"
        await msg.ack()
        return "acked"

    async def _dead_letter(self, msg: Msg, delivery: Delivery, reason: str, errors: list[dict[str, Any]]) -> str:
        letter = DeadLetter(
            original_subject=delivery.subject,
            stream=msg.metadata.stream,
            stream_seq=delivery.stream_seq,
            msg_id=delivery.msg_id,
            consumer=self._c.durable,
            reason=reason,
            errors=errors,
            deliveries=delivery.num_delivered,
            at=datetime.now(UTC),
            data=_body_text(msg.data),
        )
        try:
            await self._publisher.publish_raw(
                deadletter_subject(delivery.subject),
                letter.model_dump_json().encode(),
                msg_id=f"dl:{msg.metadata.stream}:{delivery.stream_seq}:{self._c.durable}",
                headers={"Fq-Reason": _header_safe(reason)},
            )
        except Exception as exc:  # keep the message: it is retried rather than lost
            log.warning("deadletter.publish_failed", error=repr(exc))
            await msg.nak(delay=_backoff(delivery.num_delivered))
            return "retried"
        log.warning("message.deadlettered", reason=reason, errors=errors)
        metrics.DEADLETTERS.labels(delivery.subject, reason.split(":", 1)[0]).inc()
        await msg.term()
        return "deadlettered"
