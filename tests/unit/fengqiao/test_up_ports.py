"""`fengqiao up` keeps the documented ports across a quick restart."""

from __future__ import annotations

import socket

from fengqiao.up import _port


def _time_wait_port() -> int:
    """A port whose server (with SO_REUSEADDR, as uvicorn's) closed a connection first: left in TIME_WAIT."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the side that closes first keeps the TIME_WAIT
    server.close()
    client.close()
    return port


def test_a_port_in_time_wait_is_still_the_services_port() -> None:
    port = _time_wait_port()
    assert _port(port) == port


def test_a_port_someone_listens_on_is_not() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert _port(port) != port
