"""Each service's OpenAPI pages work on a network with no internet: opened in a real headless Chromium with
every request that leaves 127.0.0.1 blocked, /docs lists the service's operations and /redoc renders them."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import uvicorn

from fengqiao.deployfiles import offline_parts
from fengqiao.services import SERVICES

_STOPPED_BY_POLICY = ("csp", "net::err_blocked_by_csp")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not os.path.exists(CHROMIUM):
    pytest.skip("no chromium on this machine (.ci/run installs it with apt)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: the services with an HTTP API (the console serves pages, with no OpenAPI document of its own)
DOCUMENTED = [name for name in SERVICES if name != "console"]


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    """Every registered service's own app (built without servers: the pages need none) on 127.0.0.1."""
    servers, urls = [], {}
    for name in DOCUMENTED:
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(offline_parts(name).app, host="127.0.0.1", port=port,
                                               log_config=None, access_log=False, lifespan="off"))
        threading.Thread(target=server.run, daemon=True).start()
        servers.append(server)
        urls[name] = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not all(s.started for s in servers) and time.monotonic() < deadline:
        time.sleep(0.05)
    yield urls
    for server in servers:
        server.should_exit = True


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def _open(browser, url: str, ready: str) -> tuple[str, list[str], list[str]]:
    """The page's text once `ready` shows, the requests that tried to leave 127.0.0.1 (blocked here), and those
    that failed otherwise."""
    blocked: list[str] = []
    failed: list[str] = []
    page = browser.new_page()

    def only_loopback(route) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", None) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    # a request the page's policy stopped in the browser never left it; any other failure is a broken page
    page.on("requestfailed", lambda request: None if (request.failure or "").lower() in _STOPPED_BY_POLICY
            else failed.append(f"{request.url}: {request.failure}"))
    page.goto(url)
    page.wait_for_selector(ready, timeout=20_000)
    text = page.inner_text("body")
    page.close()
    return text, blocked, failed


def _paths(name: str) -> set[str]:
    schema = offline_parts(name).app.openapi()
    return {p for p in schema["paths"] if p.startswith("/v1/")}


@pytest.mark.parametrize("name", DOCUMENTED)
def test_docs_lists_the_operations_with_nothing_from_outside(served, browser, name: str) -> None:
    text, blocked, failed = _open(browser, f"{served[name]}/docs", ".opblock")
    assert blocked == [] and failed == []
    missing = [p for p in _paths(name) if p not in text]
    assert missing == [], f"{name}/docs does not list {missing}"


@pytest.mark.parametrize("name", DOCUMENTED)
def test_redoc_renders_with_nothing_from_outside(served, browser, name: str) -> None:
    text, blocked, failed = _open(browser, f"{served[name]}/redoc", "[data-section-id]")
    assert blocked == [] and failed == []
    assert offline_parts(name).app.title in text
