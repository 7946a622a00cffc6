"""Which failures mean "a dependency is away: try again later" (503 / redelivery), and which do not."""

from __future__ import annotations

import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError, BadRequestError, NoStreamResponseError, NotFoundError, ServiceUnavailableError
from pymongo.errors import AutoReconnect, DuplicateKeyError, OperationFailure, ServerSelectionTimeoutError

from common.bus import BrokerUnavailable
from common.errors import Conflict, NotFound, Refused
from common.failures import dependency_down


@pytest.mark.parametrize("exc", [
    ServerSelectionTimeoutError("x"), AutoReconnect("x"), NatsTimeoutError(),
    NoRespondersError(), NoStreamResponseError(), ServiceUnavailableError(code=503), APIError(code=503),
    BadRequestError(code=409, err_code=10158, description="duplicate message id is in process"),
    BrokerUnavailable("away"), TimeoutError(),
])
def test_a_dependency_away(exc: BaseException) -> None:
    assert dependency_down(exc)


@pytest.mark.parametrize("exc", [
    NotFound("alert", "a"), Refused("no"), Conflict("busy"), BadRequestError(code=400, err_code=10058),
    BadRequestError(code=400, err_code=10071, description="wrong last sequence"),
    NotFoundError(code=404), DuplicateKeyError("dup"), OperationFailure("bad query"), KeyError("bug"),
])
def test_not_a_dependency_away(exc: BaseException) -> None:
    assert not dependency_down(exc)
