"""Which failures mean "a dependency (the store, the broker) is away or busy: try again later", whoever
raised them: the drivers' errors, known here only, apart from the use-case errors (`common.errors`).

The HTTP layer answers them 503 with Retry-After, the consume loop redelivers later, the outbox keeps
what it could not publish staged.
"""

from __future__ import annotations

import asyncio

from nats.errors import ConnectionClosedError, NoRespondersError, NoServersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, ServerSelectionTimeoutError, WriteConcernError

#: exceptions that mean "a dependency is away or busy: try again later", whoever raised them
DEPENDENCY_DOWN: tuple[type[BaseException], ...] = (
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
