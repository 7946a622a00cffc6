"""What a use case can answer besides success, and which failures mean "a dependency is down".

Handlers raise these; each entrypoint translates them once: the HTTP layer to 404 / 409 / 422 / 503
(`common.http`), the consume loop to dead-letter or a delayed redelivery (`common.consume`).
No handler imports either entrypoint.
"""

from __future__ import annotations

import asyncio

from nats.errors import ConnectionClosedError, NoRespondersError, NoServersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, ServerSelectionTimeoutError, WriteConcernError


class UseCaseError(Exception):
    """A use case did not do what was asked, for a reason the caller can read."""


class NotFound(UseCaseError):
    """The thing named does not exist (HTTP 404; an event naming it is dead-lettered)."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} not found")
        self.kind = kind
        self.ident = ident


class Refused(UseCaseError):
    """The rules refuse the command in the present state (HTTP 409; an event is dead-lettered)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Invalid(UseCaseError):
    """A field of the request breaks a rule that the schema alone cannot state (HTTP 422 naming the field)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Conflict(UseCaseError):
    """Others kept changing the same thing while we tried (HTTP 409 "try again"; an event is redelivered)."""


class Unavailable(UseCaseError):
    """A dependency (the store, the broker, a gateway) is away: nothing was done; try again later."""


#: exceptions that mean "a dependency is away or busy: try again later", whoever raised them
DEPENDENCY_DOWN: tuple[type[BaseException], ...] = (
    Unavailable,
    ConnectionFailure,  # includes AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError
    ServerSelectionTimeoutError,
    ExecutionTimeout,
    WriteConcernError,
    NatsTimeoutError,
    NoServersError,
    NoRespondersError,
    NoStreamResponseError,  # a JetStream stream without a leader (an election in a cluster)
    ServiceUnavailableError,
    ConnectionClosedError,
    asyncio.TimeoutError,
    ConnectionError,  # includes common.bus.BrokerUnavailable
)


#: JetStream's "duplicate message id is in process" (JSStreamDuplicateMessageConflict, while a leader
#: changes): the same msg id is being stored; try again
_MSG_ID_IN_PROCESS = 10158


def dependency_down(exc: BaseException) -> bool:
    if isinstance(exc, APIError) and (exc.code == 503 or exc.err_code == _MSG_ID_IN_PROCESS):
        return True
    return isinstance(exc, DEPENDENCY_DOWN)
