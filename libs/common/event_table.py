"""One table per service from its domain events to public contracts, read by one function.

    EVENTS: EventTable[Station] = {
        ev.DisputeContacted: Row(contract.DisputeContacted),            # the event's own fields
        ev.DisputeOpened: Row(contract.DisputeOpened, _opened),         # built by (context, aggregate, event)
        ev.DisputeHighRisk: Row(AlertReceived, _raised_alert, by_key),  # its msg id: the contract's key
        ev.SurveySent: (Row(RatingSurveySent, _sent), Row(SmsSendRequested, _sms, by_key)),  # two messages
        ev.SurveyExpired: INSIDE,                                        # stays inside the service
    }
    uow = UnitOfWork(repo, publisher, lambda d: public_events(EVENTS, station, d), kind="dispute")

Adding an event is a domain event class, a contract, and a row. A domain event without a row is a
mistake the first test of its command finds (`LookupError`), not an event silently dropped.
A msg id is deterministic, so a redelivered command or a re-run save stages the same ids and JetStream
drops the duplicates; the default, `per_command`, tells commands apart by the length of the history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

from common.contracts.base import Event
from common.domain import DomainEvent

C = TypeVar("C")

#: a msg id from the aggregate, the domain event and the contract it became
MsgId = Callable[[Any, Any, Event], str]


def _tail(subject: str) -> str:
    return subject.split(".", 1)[-1]


def per_command(aggregate: Any, event: Any, public: Event) -> str:
    """`<id>/<subject after its first segment>/<history length>`: one per command that recorded it."""
    return f"{aggregate.ident}/{_tail(public.subject)}/{len(aggregate.history)}"


def once(name: str | None = None) -> MsgId:
    """`<id>/<name or subject after its first segment>`: an event an aggregate records once in its life."""
    return lambda aggregate, event, public: f"{aggregate.ident}/{name or _tail(public.subject)}"


def by_key(aggregate: Any, event: Any, public: Event) -> str:
    """The contract's own key (an alert's id, an SMS's id): the msg id other publishers of it use too."""
    key = public.business_id
    if not key:
        raise ValueError(f"{type(public).__name__} has no key to use as its msg id")
    return str(key)


@dataclass(frozen=True)
class Row(Generic[C]):
    """What one domain event becomes: `contract`, built by `build(context, aggregate, event)` (default:
    from the event's own fields), published with the msg id `msg_id(aggregate, event, contract)`."""

    contract: type[Event]
    build: Callable[[C, Any, Any], Event] | None = None
    msg_id: MsgId = per_command

    def stage(self, context: C, aggregate: Any, event: DomainEvent) -> tuple[Event, str]:
        public = self.build(context, aggregate, event) if self.build else self.contract(**asdict(event))
        if not isinstance(public, self.contract):
            raise TypeError(f"the row of {type(event).__name__} built a {type(public).__name__}, "
                            f"not a {self.contract.__name__}")
        return public, self.msg_id(aggregate, event, public)


#: a domain event that stays inside the service (history, figures): no contract
INSIDE: tuple[Row[Any], ...] = ()

#: a service's table: every domain event type its aggregates record -> a row, several rows, or INSIDE
EventTable = Mapping[type[DomainEvent], Row[C] | tuple[Row[C], ...]]


def rows_of(table: EventTable[C], event_type: type) -> tuple[Row[C], ...]:
    try:
        rows = table[event_type]
    except KeyError:
        raise LookupError(
            f"{event_type.__name__} has no row in the service's events table: add one (INSIDE if it stays inside)"
        ) from None
    return rows if isinstance(rows, tuple) else (rows,)


def public_events(table: EventTable[C], context: C, aggregate: Any) -> list[tuple[Event, str]]:
    """The domain events the aggregate recorded since it was loaded, as contracts with their msg ids, in order."""
    return [row.stage(context, aggregate, event) for event in aggregate.events for row in rows_of(table, type(event))]

