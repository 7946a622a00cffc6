"""Bearer JWTs of the station's OpenID Connect provider: keys the test makes, a JWKS it serves on 127.0.0.1.

A good token gets in with its mapped role; expired, not-yet-valid, wrong audience, wrong issuer,
`alg: none`, unsigned, signed by another key, and HS256 with the public key as secret are 401.
A rotated key is fetched on its unknown `kid`; a provider away with no key kept is 503.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from common.auth import Principal
from common.http import create_app, require
from common.settings import ServiceSettings

Officer = Annotated[Principal, Depends(require("officer"))]
ISSUER = "https://idp.station.local/realms/fengqiao"
AUDIENCE = "fengqiao"


class Jwks:
    """A JWKS endpoint on 127.0.0.1 whose keys the test changes; counts the fetches."""

    def __init__(self) -> None:
        self.keys: list[Any] = []
        self.fetches = 0
        self.down = False
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                jwks.fetches += 1
                if jwks.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps({"keys": [k.as_dict(private=False) for k in jwks.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    served = Jwks()
    served.keys = [RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"}, private=True)]
    yield served
    served.server.shutdown()


def _settings(jwks: Jwks, **extra: Any) -> ServiceSettings:
    return ServiceSettings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url=jwks.url,
                           oidc_roles_claim="realm_access.roles",
                           oidc_role_map={"fq-officer": "officer", "fq-viewer": "viewer"}, **extra)


def _app(settings: ServiceSettings):
    app = create_app("t", settings, {})

    @app.get("/v1/whoami")
    async def whoami(principal: Officer) -> dict:
        return {"who": principal.who, "roles": sorted(principal.roles)}

    return app


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "officer-P1001", "iat": now, "nbf": now - 5, "exp": now + 300,
              "realm_access": {"roles": ["fq-officer", "offline_access"]}}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _token(key: Any, alg: str = "RS256", **changes: Any) -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, _claims(**changes), key)


async def _get(app, token: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        return await http.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"})


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_a_good_token_gets_in_with_its_mapped_role(jwks: Jwks) -> None:
    app = _app(_settings(jwks))
    response = await _get(app, _token(jwks.keys[0]))
    assert response.status_code == 200, response.text
    assert response.json() == {"who": "officer-P1001", "roles": ["officer"]}
    assert (await _get(app, _token(jwks.keys[0], sub="officer-P1002"))).json()["who"] == "officer-P1002"
    assert jwks.fetches == 1  # the keys are kept


async def test_a_token_without_the_route_s_role_is_403(jwks: Jwks) -> None:
    app = _app(_settings(jwks))
    viewer = _token(jwks.keys[0], realm_access={"roles": ["fq-viewer"]})
    assert (await _get(app, viewer)).status_code == 403
    nothing_of_ours = _token(jwks.keys[0], realm_access={"roles": ["admin-of-something-else"]})
    assert (await _get(app, nothing_of_ours)).status_code == 403


def _bad_tokens(key: Any, other: Any) -> dict[str, str]:
    now = int(time.time())
    header, payload = _b64({"alg": "none", "kid": key.kid}), _b64(_claims())
    public_as_secret = OctKey.import_key(json.dumps(key.as_dict(private=False)).encode())
    return {
        "expired": _token(key, exp=now - 60, iat=now - 400, nbf=now - 400),
        "not yet valid": _token(key, nbf=now + 600),
        "wrong audience": _token(key, aud="another-client"),
        "wrong issuer": _token(key, iss="https://evil.example/realms/fengqiao"),
        "no expiry": _token(key, exp=None),
        "alg none": f"{header}.{payload}.",
        "unsigned": f"{_b64({'alg': 'RS256', 'kid': key.kid})}.{payload}.",
        "signature of another key with the same kid": jwt.encode({"alg": "RS256", "kid": key.kid}, _claims(), other),
        "HS256 with the public key as secret": jwt.encode(
            {"alg": "HS256", "kid": key.kid}, _claims(), public_as_secret, algorithms=["HS256"]),
        "tampered payload": ".".join([_token(key).split(".")[0], _b64(_claims(sub="admin")),
                                      _token(key).split(".")[2]]),
        "garbage": "a.b.c",
    }


@pytest.mark.parametrize("case", ["expired", "not yet valid", "wrong audience", "wrong issuer", "no expiry",
                                  "alg none", "unsigned", "signature of another key with the same kid",
                                  "HS256 with the public key as secret", "tampered payload", "garbage"])
async def test_each_bad_token_is_401(jwks: Jwks, case: str) -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    token = _bad_tokens(jwks.keys[0], other)[case]
    response = await _get(_app(_settings(jwks)), token)
    assert response.status_code == 401, (case, response.text)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert token not in response.text


async def test_a_rotated_key_is_fetched_on_its_unknown_kid(jwks: Jwks) -> None:
    app = _app(_settings(jwks, oidc_jwks_min_refresh_s=0))
    assert (await _get(app, _token(jwks.keys[0]))).status_code == 200
    new = ECKey.generate_key("P-256", parameters={"kid": "k2", "use": "sig"}, private=True)
    jwks.keys = [jwks.keys[0], new]
    assert (await _get(app, _token(new, alg="ES256"))).status_code == 200
    assert jwks.fetches == 2


async def test_unknown_kids_do_not_hammer_the_provider(jwks: Jwks) -> None:
    app = _app(_settings(jwks, oidc_jwks_min_refresh_s=60))
    assert (await _get(app, _token(jwks.keys[0]))).status_code == 200
    stranger = RSAKey.generate_key(2048, parameters={"kid": "nobody"}, private=True)
    for _ in range(5):
        assert (await _get(app, _token(stranger))).status_code == 401
    assert jwks.fetches == 1  # within the minimum interval: refused without asking again


async def test_static_tokens_still_work_beside_jwts(jwks: Jwks) -> None:
    app = _app(_settings(jwks, tokens={"officer-token-0123456789": ["officer"]}))
    response = await _get(app, "officer-token-0123456789")
    assert response.status_code == 200 and response.json()["who"].startswith("token:")
    assert "officer-token" not in response.json()["who"]


async def test_a_provider_away_with_no_key_kept_is_503_not_401(jwks: Jwks) -> None:
    jwks.down = True
    response = await _get(_app(_settings(jwks)), _token(jwks.keys[0]))
    assert response.status_code == 503 and response.headers["Retry-After"]


async def test_without_an_issuer_a_jwt_is_just_an_unknown_token(jwks: Jwks) -> None:
    assert (await _get(_app(ServiceSettings()), _token(jwks.keys[0]))).status_code == 401
    assert jwks.fetches == 0


@pytest.mark.parametrize(("given", "error"), [
    ({"oidc_issuer": ISSUER}, "set together"),
    ({"oidc_algorithms": ["HS256"]}, "asymmetric"),
    ({"oidc_algorithms": ["none"]}, "asymmetric"),
    ({"oidc_role_map": {"x": "superuser"}}, "unknown roles"),
    ({"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE, "oidc_jwks_url": "http://idp/certs",
      "environment": "production", "tokens": {"a-long-enough-token-123": ["admin"]}}, "https"),
])
def test_settings_refuse_an_unsafe_or_partial_provider(given: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ServiceSettings(**given)


async def test_notify_s_sms_routes_take_the_provider_s_jwt_as_bearer_or_basic_password(jwks: Jwks) -> None:
    """The gateway's routes read a token from Basic auth too (Kannel's way), through the same identity."""
    from common.clock import FakeClock
    from common.fakes import FakePublisher
    from notify.bootstrap import wire_in_memory
    from notify.settings import NotifySettings
    from notify.sms.entrypoints.api import router

    settings = NotifySettings(environment="test", oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url=jwks.url,
                              oidc_roles_claim="realm_access.roles", oidc_role_map={"fq-officer": "officer"})
    n = wire_in_memory(settings, FakeClock(), FakePublisher())
    app = create_app("notify", n.settings, {}, context=n, routers=(router,))
    token = _token(jwks.keys[0])
    basic = "Basic " + base64.b64encode(f"officer:{token}".encode()).decode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        for header in (f"Bearer {token}", basic):
            listed = await http.get("/v1/sms/inbound", params={"matched": "false"}, headers={"Authorization": header})
            assert listed.status_code == 200, listed.text
            handed = await http.post("/v1/sms/inbound", json={"from": "13800138000", "text": "1"},
                                     headers={"Authorization": header})
            assert handed.status_code == 403  # an officer is not the gateway
        expired = _token(jwks.keys[0], exp=int(time.time()) - 3600)
        refused = await http.get("/v1/sms/inbound", params={"matched": "false"},
                                 headers={"Authorization": f"Bearer {expired}"})
        assert refused.status_code == 401 and "Basic" in refused.headers["WWW-Authenticate"]
