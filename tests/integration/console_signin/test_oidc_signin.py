"""The console's 统一身份认证 sign-in against a fake OpenID Connect provider on 127.0.0.1.

The whole way (login page → provider → callback → a page with the user's role → an API call with the
access token), and each refusal said on the sign-in page, never a 500: a state that is not the one
sent, an ID token with another nonce, an expired token (at the callback, and a session outliving it),
consent denied, the provider away; sign-out ends the provider's session too. A session with a refresh
token lasts the shift: renewed before its access token expires, once for requests arriving together,
ended when the provider refuses, kept when the provider is away a moment. No code, token or client
secret appears in a page or a log line.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from console.live import Hub
from console.settings import ConsoleSettings
from console.upstream import Upstream
from console.web import Console, build_app

from .oidc_provider import FakeProvider

CLIENT_ID, CLIENT_SECRET, API = "fq-console", "console-client-secret-0123456789", "fengqiao-api"
STATIC = "static-duty-token-0001"


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    served = FakeProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, api_audience=API).start()
    yield served
    served.stop()


class Services:
    """The services behind the console (a stub transport): records each call and its bearer token."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path, request.headers.get("authorization", "")))
        if request.url.path == "/v1/grid":
            return httpx.Response(200, json={"type": "FeatureCollection", "features": []})
        return httpx.Response(200, json=[])


def _console(provider: FakeProvider, services: Services, **extra: Any) -> httpx.AsyncClient:
    settings = ConsoleSettings(
        environment="test", tokens={STATIC: ["duty_desk"]}, oidc_issuer=provider.issuer, oidc_audience=API,
        oidc_jwks_url=provider.jwks_url, oidc_client_id=CLIENT_ID, oidc_client_secret=SecretStr(CLIENT_SECRET),
        oidc_roles_claim="realm_access.roles", oidc_role_map={"fq-desk": "duty_desk", "fq-viewer": "viewer"},
        **extra)
    bases = {"dispatch": "http://d", "mediation": "http://m", "notify": "http://n", "rating": "http://r",
             "community": ""}
    console = Console(settings, Upstream(bases, 1.0, transport=services.transport), Hub())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(console, {})), base_url="http://console")


async def _to_provider(console: httpx.AsyncClient, next_page: str = "/desk") -> str:
    begin = await console.get(f"/login/oidc?next={next_page}")
    assert begin.status_code == 303, begin.text
    return begin.headers["location"]


async def _at_provider(url: str) -> str:
    """What the browser does at the provider: it redirects back to the console's callback."""
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(url)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert (back.scheme, back.netloc, back.path) == ("http", "console", "/login/oidc/callback")
    return f"{back.path}?{back.query}"


async def _sign_in(console: httpx.AsyncClient) -> httpx.Response:
    return await console.get(await _at_provider(await _to_provider(console)))


def _cookies(response: httpx.Response) -> dict[str, str]:
    return {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}


def _logged(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    """What was logged, but the test's own browser's requests (their URLs carry the code, as a browser's do)."""
    out, err = capsys.readouterr()
    own = ("http://console/", "/auth?")
    kept = [r.getMessage() for r in caplog.records]
    return out + err + "\n".join(m for r, m in zip(caplog.records, kept, strict=True)
                                 if not (r.name.startswith(("httpx", "httpcore")) and any(o in m for o in own)))


def _no_secret_in(text: str, provider: FakeProvider) -> None:
    assert CLIENT_SECRET not in text
    for token in provider.issued:
        assert token not in text and token.split(".")[2] not in text
    for token in provider.refreshed:
        assert token not in text
    for request in provider.token_requests:
        for field in ("code", "code_verifier", "refresh_token"):
            assert request.get(field, "\0") not in text


async def test_the_whole_sign_in_reaches_a_page_with_the_users_role_and_the_apis_get_the_access_token(
        provider: FakeProvider, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    services = Services()
    async with _console(provider, services) as console:
        login = await console.get("/login?next=/desk")
        assert "统一身份认证登录" in login.text and 'href="/login/oidc?next=/desk"' in login.text

        authorize = urlsplit(await _to_provider(console))
        asked = {k: v[0] for k, v in parse_qs(authorize.query).items()}
        assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == provider.issuer + "/auth"
        assert asked["client_id"] == CLIENT_ID and asked["code_challenge_method"] == "S256"
        assert asked["redirect_uri"] == "http://console/login/oidc/callback"
        assert asked["scope"].split() == ["openid", "profile"]
        assert len(asked["state"]) >= 32 and len(asked["nonce"]) >= 32 and asked["state"] != asked["nonce"]
        assert "code_verifier" not in asked and len(asked["code_challenge"]) == 43

        callback = await console.get(await _at_provider(authorize.geturl()))
        assert callback.status_code == 200, callback.text
        assert 'http-equiv="refresh" content="0;url=/desk"' in callback.text
        cookies = _cookies(callback)
        session, kept = cookies["fq_session"], cookies["fq_refresh"]
        assert "HttpOnly" in session and "SameSite=strict" in session
        assert "HttpOnly" in kept and "SameSite=strict" in kept
        for cookie in (session, kept):  # the refresh token's half hour (it is renewed), not the shift's 12 hours
            assert 1790 <= int(re.search(r"Max-Age=(\d+)", cookie).group(1)) <= 1800
        assert "Max-Age=0" in cookies["fq_oidc_flow"]  # the flow's state is spent

        desk = await console.get("/desk")
        assert desk.status_code == 200
        assert "值班员" in desk.text and "张警官" in desk.text and "P1001" in desk.text
        # every call the page made went with the provider's access token, the one the services accept
        [access] = provider.issued
        assert services.calls and {c[2] for c in services.calls} == {f"Bearer {access}"}
        assert provider.token_requests[0]["code_verifier"]  # the provider checked it against the challenge
        logged = _logged(caplog, capsys)
        assert "signin.oidc" in logged and "user-P1001" in logged  # the console's own lines were read
        # the refresh token is kept encrypted: not even its owner's browser reads it
        _no_secret_in(login.text + callback.text + desk.text + logged + kept.split(";")[0], provider)
        assert len(provider.token_requests) == 1  # a fresh token is not renewed


async def test_a_state_not_the_one_sent_is_refused_and_the_code_never_exchanged(provider: FakeProvider) -> None:
    async with _console(provider, Services()) as console:
        back = await _at_provider(await _to_provider(console))
        forged = re.sub(r"state=[^&]+", "state=forged-state-of-another-browser", back)
        refused = await console.get(forged)
        assert refused.status_code == 401 and "state 不符" in refused.text
        assert "fq_session" not in _cookies(refused)
        assert provider.token_requests == []
        # and the real state is spent with the cookie: the same callback again starts from nothing
        again = await console.get(back)
        assert again.status_code == 401 and "登录已过期或不是从本页发起" in again.text
        assert (await console.get("/desk", headers={"accept": "text/html"})).status_code == 303


async def test_a_callback_no_sign_in_here_began_is_refused(provider: FakeProvider) -> None:
    async with _console(provider, Services()) as browser_a, _console(provider, Services()) as browser_b:
        back = await _at_provider(await _to_provider(browser_a))
        refused = await browser_b.get(back)  # another browser (or a forged link) has no flow cookie
    assert refused.status_code == 401 and "登录已过期或不是从本页发起" in refused.text
    assert provider.token_requests == []


async def test_an_id_token_with_another_nonce_is_refused(provider: FakeProvider, caplog: pytest.LogCaptureFixture,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    provider.nonce_override = "a-nonce-from-another-sign-in"
    async with _console(provider, Services()) as console:
        refused = await _sign_in(console)
        assert refused.status_code == 401 and "未通过校验" in refused.text
        assert "fq_session" not in _cookies(refused)
        assert (await console.get("/desk", headers={"accept": "text/html"})).status_code == 303
    _no_secret_in(refused.text + _logged(caplog, capsys), provider)


async def test_an_expired_access_token_is_refused_at_the_callback(provider: FakeProvider) -> None:
    provider.access_lifetime_s = -60  # beyond the 30 s leeway
    async with _console(provider, Services()) as console:
        refused = await _sign_in(console)
    assert refused.status_code == 401 and "未通过校验" in refused.text and "fq_session" not in _cookies(refused)


async def test_an_expired_id_token_is_refused_at_the_callback(provider: FakeProvider) -> None:
    provider.id_lifetime_s = -1
    async with _console(provider, Services(), oidc_leeway_s=0) as console:
        refused = await _sign_in(console)
    assert refused.status_code == 401 and "未通过校验" in refused.text


async def test_without_a_refresh_token_the_session_ends_when_the_access_token_does(provider: FakeProvider) -> None:
    provider.refresh = False
    provider.access_lifetime_s = 8  # long enough to sign in and read a page on a loaded machine
    services = Services()
    async with _console(provider, services, oidc_leeway_s=0) as console:
        signed = await _sign_in(console)
        assert signed.status_code == 200
        assert int(re.search(r"Max-Age=(\d+)", _cookies(signed)["fq_session"]).group(1)) <= 8
        assert (await console.get("/desk")).status_code == 200
        expires = json.loads(base64.urlsafe_b64decode(provider.issued[0].split(".")[1] + "=="))["exp"]
        await asyncio.sleep(max(0.0, expires - time.time()) + 1.1)
        # the browser would have dropped the cookie; one that kept it is refused all the same
        console.cookies.set("fq_session", provider.issued[0], domain="console")
        calls_before = len(services.calls)
        page = await console.get("/desk", headers={"accept": "text/html"})
        assert (page.status_code, page.headers["location"]) == (303, "/login?next=/desk")
        assert len(services.calls) == calls_before
        assert [r["grant_type"] for r in provider.token_requests] == ["authorization_code"]


async def _past_the_access_token(provider: FakeProvider, index: int = -1) -> None:
    expires = json.loads(base64.urlsafe_b64decode(provider.issued[index].split(".")[1] + "=="))["exp"]
    await asyncio.sleep(max(0.0, expires - time.time()) + 1.1)


def _grants(provider: FakeProvider) -> list[str]:
    return [r["grant_type"] for r in provider.token_requests]


async def test_a_session_with_a_refresh_token_is_renewed_and_outlives_its_access_token(
        provider: FakeProvider, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    provider.access_lifetime_s = 8
    services = Services()
    async with _console(provider, services, oidc_leeway_s=0) as console:
        signed = await _sign_in(console)
        first_kept = console.cookies["fq_refresh"]
        assert (await console.get("/desk")).status_code == 200
        assert _grants(provider) == ["authorization_code"]
        await _past_the_access_token(provider)

        calls_before = len(services.calls)
        page = await console.get("/desk", headers={"accept": "text/html"})
        assert page.status_code == 200 and "张警官" in page.text and "P1001" in page.text  # still who signed in
        assert _grants(provider) == ["authorization_code", "refresh_token"]
        assert provider.token_requests[1]["refresh_token"] == provider.refreshed[0]
        old, new = provider.issued
        # the page was read with the new access token, and the browser was given it with a new hidden cookie
        assert {c[2] for c in services.calls[calls_before:]} == {f"Bearer {new}"}
        told = _cookies(page)
        assert told["fq_session"].startswith(f"fq_session={new};") and "HttpOnly" in told["fq_session"]
        assert console.cookies["fq_refresh"] != first_kept and "HttpOnly" in told["fq_refresh"]
        assert 1790 <= int(re.search(r"Max-Age=(\d+)", told["fq_refresh"]).group(1)) <= 1800

        again = await console.get("/desk")  # the new token is fresh: no renewal
        assert again.status_code == 200 and _grants(provider) == ["authorization_code", "refresh_token"]
        assert services.calls[-1][2] == f"Bearer {new}"
        logged = _logged(caplog, capsys)
        assert "signin.renewed" in logged
        _no_secret_in(signed.text + page.text + again.text + logged + told["fq_refresh"].split(";")[0], provider)
        assert old != new


async def test_requests_arriving_together_renew_once(provider: FakeProvider) -> None:
    provider.access_lifetime_s = 8
    provider.refresh_delay_s = 0.5  # the provider is slow: the other requests arrive while it answers
    services = Services()
    async with _console(provider, services, oidc_leeway_s=0) as console:
        await _sign_in(console)
        await _past_the_access_token(provider)
        calls_before = len(services.calls)
        pages = await asyncio.gather(*(console.get(path) for path in ("/desk", "/disputes", "/callbacks", "/desk")))
        assert [p.status_code for p in pages] == [200, 200, 200, 200]
        # one refresh grant: a provider rotating refresh tokens refuses a second use of the same one
        assert _grants(provider) == ["authorization_code", "refresh_token"]
        assert {c[2] for c in services.calls[calls_before:]} == {f"Bearer {provider.issued[1]}"}


async def test_a_renewal_the_provider_refuses_ends_the_session(
        provider: FakeProvider, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.INFO)
    provider.access_lifetime_s = 8
    async with _console(provider, Services(), oidc_leeway_s=0) as console:
        await _sign_in(console)
        provider.revoke()  # signed out at the provider, or the account disabled
        await _past_the_access_token(provider)
        page = await console.get("/desk", headers={"accept": "text/html"})
        assert (page.status_code, page.headers["location"]) == (303, "/login?next=/desk")
        cleared = _cookies(page)
        assert all("Max-Age=0" in cleared[name] for name in ("fq_session", "fq_refresh", "fq_who"))
        assert "signin.renewal_refused" in _logged(caplog, capsys)
        assert "fq_refresh" not in console.cookies
        assert _grants(provider) == ["authorization_code", "refresh_token"]  # asked once, not on every request


async def test_a_provider_away_at_renewal_keeps_the_session_for_the_next_try(provider: FakeProvider) -> None:
    provider.access_lifetime_s = 8
    services = Services()
    async with _console(provider, services, oidc_leeway_s=0) as console:
        await _sign_in(console)
        provider.failing = True
        await _past_the_access_token(provider)
        page = await console.get("/desk", headers={"accept": "text/html"})
        # the old token has expired, so this page goes to the sign-in; the kept session is not thrown away
        assert (page.status_code, page.headers["location"]) == (303, "/login?next=/desk")
        assert "fq_refresh" not in _cookies(page) and "fq_refresh" in console.cookies
        provider.failing = False
        again = await console.get("/desk", headers={"accept": "text/html"})
        assert again.status_code == 200
        assert _grants(provider) == ["authorization_code", "refresh_token", "refresh_token"]
        assert services.calls[-1][2] == f"Bearer {provider.issued[1]}"


async def test_an_account_without_a_role_of_ours_is_not_signed_in(provider: FakeProvider) -> None:
    provider.roles = ["offline_access"]
    async with _console(provider, Services()) as console:
        refused = await _sign_in(console)
    assert refused.status_code == 403 and "没有角色" in refused.text and "fq_session" not in _cookies(refused)


async def test_denied_consent_is_said_on_the_sign_in_page(provider: FakeProvider) -> None:
    provider.deny = True
    async with _console(provider, Services()) as console:
        refused = await _sign_in(console)
    assert refused.status_code == 401 and "未同意授权" in refused.text and "fq_session" not in _cookies(refused)


async def test_a_provider_away_is_a_message_not_a_500(provider: FakeProvider) -> None:
    async with _console(provider, Services()) as console:
        back = await _at_provider(await _to_provider(console))  # discovery read; the provider then goes away
        provider.stop()
        at_callback = await console.get(back)
        assert at_callback.status_code == 503 and "统一身份认证服务暂不可达" in at_callback.text
    async with _console(provider, Services()) as console:  # a console that never read the discovery
        at_start = await console.get("/login/oidc?next=/desk")
        assert at_start.status_code == 503 and "统一身份认证服务暂不可达" in at_start.text
        assert "令牌" in at_start.text  # the token field is still offered
        # the static token still signs in with the provider away
        static = await console.post("/login", content=f"token={STATIC}&actor=P9001",
                                    headers={"content-type": "application/x-www-form-urlencoded"})
        assert static.status_code == 303


async def test_sign_out_clears_the_session_and_ends_the_providers(provider: FakeProvider) -> None:
    async with _console(provider, Services()) as console:
        assert (await _sign_in(console)).status_code == 200
        out = await console.post("/logout")
        assert out.status_code == 303
        ended = urlsplit(out.headers["location"])
        assert f"{ended.scheme}://{ended.netloc}{ended.path}" == provider.issuer + "/logout"
        assert parse_qs(ended.query) == {"client_id": [CLIENT_ID],
                                         "post_logout_redirect_uri": ["http://console/login"]}
        cleared = _cookies(out)
        assert all('=""' in cleared[name] or "Max-Age=0" in cleared[name] for name in ("fq_session", "fq_who"))
        assert (await console.get("/desk", headers={"accept": "text/html"})).status_code == 303


async def test_sign_out_without_an_end_session_endpoint_or_of_a_static_token_stays_here(
        provider: FakeProvider) -> None:
    provider.end_session = False
    async with _console(provider, Services()) as console:
        await _sign_in(console)
        assert (await console.post("/logout")).headers["location"] == "/login"
    provider.end_session = True
    async with _console(provider, Services()) as console:
        await console.post("/login", content=f"token={STATIC}",
                           headers={"content-type": "application/x-www-form-urlencoded"})
        assert (await console.post("/logout")).headers["location"] == "/login"


async def test_without_an_issuer_the_page_offers_the_token_field_only() -> None:
    settings = ConsoleSettings(environment="test", tokens={STATIC: ["duty_desk"]})
    console = Console(settings, Upstream({}, 1.0, transport=Services().transport), Hub())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(console, {})),
                                 base_url="http://console") as client:
        page = await client.get("/login")
        assert "统一身份认证登录" not in page.text and 'name="token"' in page.text
        assert (await client.get("/login/oidc")).status_code == 404


def test_production_asks_for_a_shared_session_secret_and_the_registered_callback(provider: FakeProvider) -> None:
    base = {"environment": "production", "oidc_issuer": provider.issuer, "oidc_audience": API,
            "oidc_jwks_url": "https://idp.station/certs", "tokens": {"production-admin-token-01": ["admin"]},
            "nats_url": SecretStr("nats://u:p@nats:4222")}
    with pytest.raises(ValueError, match="session_secret and oidc_redirect_url"):
        ConsoleSettings(**base)
    with pytest.raises(ValueError, match="32 characters"):
        ConsoleSettings(**base, session_secret=SecretStr("x" * 31), oidc_redirect_url="https://c/login/oidc/callback")
    ok = ConsoleSettings(**base, session_secret=SecretStr("x" * 32), oidc_redirect_url="https://c/login/oidc/callback")
    assert ok.client_id == API and ok.oidc_client_secret.get_secret_value() == ""
    assert "x" * 32 in ok.secret_values() and json.dumps(ok.model_dump(mode="json")).count("x" * 32) == 0


def test_the_sign_in_cookies_are_sealed_and_expire() -> None:
    from console.signin import Seal, pkce_challenge

    clock = [1_000_000.0]
    seal = Seal("k" * 32, now=lambda: clock[0])
    value = seal.seal({"state": "s"}, 600)
    assert seal.open(value)["state"] == "s"
    assert Seal("j" * 32).open(value) is None  # another key
    head, body, sig = value.split(".")
    assert seal.open(f"{head}.{body}.{sig[:-2]}AA") is None
    clock[0] += 599
    assert seal.open(value) is not None  # the last second before `exp`
    clock[0] += 1
    assert seal.open(value) is None
    # RFC 7636, appendix B
    verifier, challenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert pkce_challenge(verifier) == challenge


async def test_no_span_records_the_callbacks_code(provider: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from common import tracing

    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)  # traced whatever the shell running the suite says
    caught = InMemorySpanExporter()
    assert tracing.configure("tests", processors=[SimpleSpanProcessor(caught)]) is not None
    async with _console(provider, Services()) as console:
        assert (await _sign_in(console)).status_code == 200
        assert (await console.get("/desk")).status_code == 200
    spans = caught.get_finished_spans()
    caught.shutdown()
    assert any(s.attributes.get("http.route") == "/desk" for s in spans)  # the app is traced
    [code] = [r["code"] for r in provider.token_requests]
    recorded = json.dumps([dict(s.attributes or {}) for s in spans], default=str)
    assert "/login/oidc/callback" not in recorded and code not in recorded
