"""A fake OpenID Connect provider on 127.0.0.1 (Starlette under uvicorn, in a thread), keys made with joserfc.

It does what a station's Keycloak does for the console: discovery, JWKS, the authorization endpoint (a
redirect back with a one-time code, or `access_denied`), the token endpoint (checks the client's secret,
the redirect URL and the PKCE verifier against the S256 challenge; refresh tokens, rotated on each use as
Keycloak does with "revoke refresh token" on) and an end-session endpoint. What it signs the test
changes: the nonce, the tokens' lifetimes, the roles, whether it gives refresh tokens.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import socket
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

REALM = "/realms/station"


class Served:
    """An ASGI app under uvicorn on 127.0.0.1 in a thread, on a port bound before it starts."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._server.force_exit = True  # open streams (the console's events) do not hold it
        self._thread.join(timeout=10)
        self._sock.close()


class FakeProvider:
    def __init__(self, *, client_id: str, client_secret: str, api_audience: str) -> None:
        self.client_id, self.client_secret, self.api_audience = client_id, client_secret, api_audience
        self.key = RSAKey.generate_key(2048, parameters={"kid": "idp-1", "use": "sig"}, private=True)
        self.roles = ["fq-desk", "offline_access"]
        self.username = "P1001"
        self.deny = False
        self.nonce_override: str | None = None
        self.id_lifetime_s = 300
        self.access_lifetime_s = 300
        self.codes: dict[str, dict[str, str]] = {}
        self.token_requests: list[dict[str, str]] = []
        self.issued: list[str] = []  # access tokens handed out
        self.refresh = True  # hand out refresh tokens
        self.refresh_lifetime_s = 1800
        self.refresh_tokens: dict[str, str] = {}  # the ones still good, and whose
        self.refreshed: list[str] = []  # refresh tokens handed out, spent or not
        self.refresh_delay_s = 0.0  # the token endpoint's answer to a refresh grant waits this long
        self.failing = False  # the token endpoint answers 503 (a provider restarting)
        self.end_session = True
        self.issuer = ""  # known once the port is
        app = Starlette(routes=[
            Route(REALM + "/.well-known/openid-configuration", self._discovery),
            Route(REALM + "/certs", self._certs),
            Route(REALM + "/auth", self._authorize),
            Route(REALM + "/token", self._token, methods=["POST"]),
            Route(REALM + "/logout", self._logout),
        ])
        self._served = Served(app)
        self.base = f"http://127.0.0.1:{self._served.port}"
        self.issuer = self.base + REALM

    @property
    def jwks_url(self) -> str:
        return self.issuer + "/certs"

    def start(self) -> FakeProvider:
        self._served.start()
        return self

    def stop(self) -> None:
        self._served.stop()

    # ------------------------------------------------------------------ endpoints

    async def _discovery(self, _: Request) -> Response:
        document = {"issuer": self.issuer, "authorization_endpoint": self.issuer + "/auth",
                    "token_endpoint": self.issuer + "/token", "jwks_uri": self.jwks_url,
                    "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}
        if self.end_session:
            document["end_session_endpoint"] = self.issuer + "/logout"
        return JSONResponse(document)

    async def _certs(self, _: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return PlainTextResponse("unknown client", status_code=400)
        if self.deny:
            return RedirectResponse(q["redirect_uri"] + "?" + urlencode({"error": "access_denied",
                                                                          "state": q.get("state", "")}), 302)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {k: q.get(k, "") for k in ("nonce", "code_challenge", "code_challenge_method",
                                                      "redirect_uri", "scope")}
        return RedirectResponse(q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")}),
                                302)

    async def _token(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
        self.token_requests.append(form)
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") == "refresh_token":
            return await self._refresh(form)
        asked = self.codes.pop(form.get("code", ""), None)  # a code is used once
        if asked is None or form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if asked["code_challenge_method"] != "S256" or challenge != asked["code_challenge"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, status_code=400)
        if form.get("redirect_uri") != asked["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(self._tokens(self.username, self.nonce_override if self.nonce_override is not None
                                         else asked["nonce"]))

    async def _refresh(self, form: dict[str, str]) -> Response:
        if self.refresh_delay_s:
            await asyncio.sleep(self.refresh_delay_s)
        if self.failing:
            return PlainTextResponse("restarting", status_code=503)
        username = self.refresh_tokens.pop(form.get("refresh_token", ""), None)  # rotated: each is used once
        if username is None:
            return JSONResponse({"error": "invalid_grant", "error_description": "Token is not active"},
                                status_code=400)
        return JSONResponse(self._tokens(username, None))

    def revoke(self) -> None:
        """The user signed out at the provider (or an administrator ended the session): no refresh works."""
        self.refresh_tokens.clear()

    def _tokens(self, username: str, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        common = {"iss": self.issuer, "sub": "user-" + username, "iat": now,
                  "preferred_username": username, "name": "张警官"}
        access = self._sign({**common, "aud": self.api_audience, "azp": self.client_id,
                             "exp": now + self.access_lifetime_s, "realm_access": {"roles": self.roles}})
        self.issued.append(access)
        tokens: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": self.access_lifetime_s}
        if nonce is not None:  # the code grant's answer: an ID token too
            tokens["id_token"] = self._sign({**common, "aud": self.client_id, "exp": now + self.id_lifetime_s,
                                             "nonce": nonce})
        if self.refresh:
            refresh = secrets.token_urlsafe(32)
            self.refresh_tokens[refresh] = username
            self.refreshed.append(refresh)
            tokens.update(refresh_token=refresh, refresh_expires_in=self.refresh_lifetime_s)
        return tokens

    async def _logout(self, _: Request) -> Response:
        return PlainTextResponse("signed out")

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}, claims, self.key)
