"""A real browser for the console's tests: Debian's chromium driven by Playwright (skipped, saying why, without it)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import PUBLISH_TIMEOUT_S

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: 1366×768, the duty desk's screen
VIEWPORT = {"width": 1366, "height": 768}
LOCAL_PREFIXES = ("http://127.0.0.1:", "data:", "blob:", "about:")


def browser_or_skip() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (.ci/run installs it with apt-get: chromium fonts-wqy-microhei)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    """A page with what it logged as errors and every request that left 127.0.0.1."""

    page: Any
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


def open_page(browser: Any, base: str, token: str, actor: str = "P9001") -> Watched:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    watched = Watched(page)
    page.on("console", lambda m: m.type == "error" and watched.errors.append(m.text))
    page.on("pageerror", lambda e: watched.errors.append(str(e)))
    page.on("request", lambda r: r.url.startswith(LOCAL_PREFIXES) or watched.outside.append(r.url))
    page.goto(base + "/login")
    page.fill("#token", token)
    page.fill("#actor", actor)
    page.click("#signin")
    page.wait_for_url(base + "/desk")
    page.wait_for_selector("#live.on")  # the live stream is open
    return watched


async def _publish(nats_url: str, subject: str, payload: dict[str, Any], msg_id: str) -> None:
    import nats

    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(subject, json.dumps(payload, ensure_ascii=False).encode(),
                                     timeout=PUBLISH_TIMEOUT_S, headers={"Nats-Msg-Id": msg_id})
    finally:
        await nc.close()


def publish(nats_url: str, subject: str, payload: dict[str, Any], msg_id: str) -> None:
    """Publish from a thread of its own: Playwright's sync API keeps an event loop in this one."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _publish(nats_url, subject, payload, msg_id)).result(timeout=30)
