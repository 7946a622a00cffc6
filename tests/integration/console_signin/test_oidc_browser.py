"""统一身份认证登录 in a real browser (Debian's chromium through Playwright; skipped, saying why, without it).

The console is served as http://localhost:<port> and the provider as http://127.0.0.1:<port>: two sites,
as a station's console and its identity provider are. The SameSite=Strict session is sent on the first
page after the provider's redirect back (the callback answers a page of ours that moves on by itself, so
that page's request is same-site even in a browser that counts the whole redirect chain; this chromium
would send it after a plain redirect too).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from console.live import Hub
from console.settings import ConsoleSettings
from console.upstream import Upstream
from console.web import Console, build_app
from tests.e2e.console_browser import browser_or_skip

from .oidc_provider import FakeProvider, Served
from .test_oidc_signin import API, CLIENT_ID, CLIENT_SECRET, Services


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from browser_or_skip()


def _console(provider: FakeProvider, services: Services, **extra: Any) -> Served:
    settings = ConsoleSettings(
        environment="test", oidc_issuer=provider.issuer, oidc_audience=API, oidc_jwks_url=provider.jwks_url,
        oidc_client_id=CLIENT_ID, oidc_client_secret=SecretStr(CLIENT_SECRET), oidc_roles_claim="realm_access.roles",
        oidc_role_map={"fq-desk": "duty_desk"}, **extra)
    bases = {"dispatch": "http://d", "mediation": "http://m", "notify": "http://n", "rating": "http://r",
             "community": ""}
    console = Served(build_app(Console(settings, Upstream(bases, 1.0, transport=services.transport), Hub()), {}))
    console.start()
    return console


def _signed_in(browser: Any, base: str) -> tuple[Any, Any]:
    """A new browser context signed in through the provider (统一身份认证登录), on the duty desk."""
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.goto(base + "/login?next=/desk")
    page.click("#oidc-signin")
    page.wait_for_url(base + "/desk", timeout=15_000)
    return context, page


def test_a_person_signs_in_at_the_provider_works_and_signs_out(browser: Any) -> None:
    provider = FakeProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, api_audience=API).start()
    services = Services()
    console = _console(provider, services)
    base = f"http://localhost:{console.port}"
    try:
        context, page = _signed_in(browser, base)
        header = page.inner_text("header")
        assert "张警官" in header and "P1001" in header and "值班员" in header
        [access] = provider.issued
        assert services.calls and {c[2] for c in services.calls} == {f"Bearer {access}"}
        cookies = {c["name"]: c for c in context.cookies(base)}
        assert cookies["fq_session"]["httpOnly"] and cookies["fq_session"]["sameSite"] == "Strict"
        assert "fq_oidc_flow" not in cookies

        page.click("header form[action='/logout'] button")
        page.wait_for_url(provider.issuer + "/logout*", timeout=15_000)
        assert "fq_session" not in {c["name"] for c in context.cookies(base)}
        page.goto(base + "/desk")
        assert page.url.startswith(base + "/login")
        context.close()
    finally:
        console.stop()
        provider.stop()


def test_a_session_outlives_its_access_token_in_the_browser(browser: Any) -> None:
    """The renewed cookies a page's answer carries are the ones the browser sends next (SameSite=Strict)."""
    provider = FakeProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, api_audience=API)
    provider.access_lifetime_s = 8
    provider.start()
    services = Services()
    console = _console(provider, services, oidc_leeway_s=0)
    base = f"http://localhost:{console.port}"
    try:
        context, page = _signed_in(browser, base)
        page.wait_for_timeout(9_500)  # past the access token's eight seconds
        page.goto(base + "/disputes")
        assert page.url == base + "/disputes" and "张警官" in page.inner_text("header")
        first, renewed = provider.issued[:2]
        assert [r["grant_type"] for r in provider.token_requests] == ["authorization_code", "refresh_token"]
        cookies = {c["name"]: c for c in context.cookies(base)}
        assert cookies["fq_session"]["value"] == renewed and cookies["fq_refresh"]["httpOnly"]
        page.goto(base + "/callbacks")  # the browser sent the renewed cookies: nothing renewed again
        assert page.url == base + "/callbacks" and len(provider.token_requests) == 2
        assert services.calls[-1][2] == f"Bearer {renewed}" and first != renewed
        context.close()
    finally:
        console.stop()
        provider.stop()
