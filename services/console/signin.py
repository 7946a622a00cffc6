"""The station's OpenID Connect sign-in: authorization code with PKCE (S256), state and nonce in a signed cookie.

The provider is found from `<issuer>/.well-known/openid-configuration`. The callback checks the state,
exchanges the code at the token endpoint, verifies the ID token with common.auth's verifier (signature by
the provider's JWKS, `iss`, `aud` = the client id, `exp`, `nonce`) and the access token exactly as the
services will (their audience, their role claim): the user is signed in with that access token and the
roles it carries. No code, token or secret is written to a log or a page; what went wrong is said in
Chinese on the sign-in page (`SignInRefused`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import structlog
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from common.auth import Identity, InvalidToken, Principal, ProviderUnreachable
from common.domain import ID_PATTERN
from console.settings import ConsoleSettings

log = structlog.get_logger(__name__)

#: how long a browser may take at the provider between leaving the console and coming back
FLOW_S = 600
#: the discovery document is read again after this long (the provider's endpoints rarely move)
DISCOVERY_MAX_AGE_S = 3600.0


class SignInRefused(Exception):
    """The sign-in did not complete; `message` is what the page says (Chinese, nothing secret)."""

    def __init__(self, message: str, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.message = message
        self.reason = reason  # for the log: a fixed word or the provider's error code, never a value it was sent
        self.status = status


class Seal:
    """Signs small claim sets for the console's own cookies (HS256 with `session_secret`, joserfc)."""

    def __init__(self, secret: str, now: Callable[[], float] = time.time) -> None:
        self._key = OctKey.import_key(secret.encode("utf-8") if secret else secrets.token_bytes(32))
        self._now = now

    def seal(self, claims: dict[str, Any], lifetime_s: float) -> str:
        return jwt.encode({"alg": "HS256"}, {**claims, "exp": int(self._now() + lifetime_s)}, self._key)

    def open(self, value: str) -> dict[str, Any] | None:
        """The claims of a cookie this console sealed and that has not expired, or None."""
        if not value:
            return None
        try:
            claims = jwt.decode(value, self._key, algorithms=["HS256"]).claims
            jwt.JWTClaimsRegistry(now=int(self._now()), exp={"essential": True}).validate(claims)
        except (JoseError, ValueError):
            return None
        return claims


def pkce_challenge(verifier: str) -> str:
    """RFC 7636's S256: BASE64URL(SHA256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Flow:
    """One sign-in begun: where the browser goes and what its cookie keeps."""

    authorize_url: str
    cookie: str


@dataclass(frozen=True)
class SignedIn:
    access_token: str
    principal: Principal
    name: str
    actor: str
    expires_at: float


_ERROR_CODE = re.compile(r"[a-z_]{1,40}")


class OidcSignIn:
    """The console as an OpenID Connect client of the station's provider."""

    def __init__(self, settings: ConsoleSettings, identity: Identity, seal: Seal, client: httpx.AsyncClient,
                 now: Callable[[], float] = time.time) -> None:
        assert identity.oidc is not None, "the sign-in needs oidc_issuer"
        self.settings = settings
        self.identity = identity
        self.seal = seal
        self.client = client
        self._now = now
        self._metadata: dict[str, Any] | None = None
        self._read_at = float("-inf")

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (kept an hour); SignInRefused when it cannot be read."""
        if self._metadata is not None and self._now() - self._read_at < DISCOVERY_MAX_AGE_S:
            return self._metadata
        url = self.settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = await self.client.get(url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("signin.discovery_failed", url=url, error=exc.__class__.__name__)
            raise SignInRefused("统一身份认证服务暂不可达，请稍后再试，或使用令牌登录。", "provider_unreachable",
                                503) from None
        if not isinstance(document, dict) or document.get("issuer") != self.settings.oidc_issuer or not all(
                isinstance(document.get(k), str) for k in ("authorization_endpoint", "token_endpoint")):
            log.warning("signin.discovery_mismatch", url=url)
            raise SignInRefused("统一身份认证服务的配置与本平台不符，请联系系统管理员。", "discovery_mismatch", 502)
        self._metadata, self._read_at = document, self._now()
        return document

    def redirect_url(self, origin: str) -> str:
        return self.settings.oidc_redirect_url or origin.rstrip("/") + "/login/oidc/callback"

    def origin(self, seen: str) -> str:
        """The console's own address: the registered callback's, else the one the browser used."""
        if self.settings.oidc_redirect_url:
            scheme, rest = self.settings.oidc_redirect_url.split("://", 1)
            return f"{scheme}://{rest.split('/', 1)[0]}"
        return seen.rstrip("/")

    async def begin(self, origin: str, target: str) -> Flow:
        meta = await self.metadata()
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        query = urlencode({
            "response_type": "code", "client_id": self.settings.client_id, "redirect_uri": self.redirect_url(origin),
            "scope": self.settings.oidc_scopes, "state": state, "nonce": nonce,
            "code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256",
        })
        endpoint = meta["authorization_endpoint"]
        cookie = self.seal.seal({"state": state, "nonce": nonce, "verifier": verifier, "next": target}, FLOW_S)
        return Flow(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", cookie)

    async def finish(self, origin: str, params: dict[str, str], flow_cookie: str) -> tuple[SignedIn, str]:
        """The callback: the user signed in, and the page they were going to."""
        flow = self.seal.open(flow_cookie)
        if flow is None:
            raise SignInRefused("登录已过期或不是从本页发起，请重新登录。", "no_flow")
        target = str(flow.get("next") or "/desk")
        error = params.get("error", "")
        if error:
            code = error if _ERROR_CODE.fullmatch(error) else "invalid"
            if code == "access_denied":
                raise SignInRefused("您在统一身份认证处未同意授权，未登录。", "access_denied")
            raise SignInRefused(f"统一身份认证未完成登录（{code}），请重新登录。", f"provider_error:{code}")
        if not hmac.compare_digest(params.get("state", "").encode(), str(flow.get("state", "")).encode()):
            raise SignInRefused("登录请求校验失败（state 不符），请重新登录。", "bad_state")
        code = params.get("code", "")
        if not code:
            raise SignInRefused("统一身份认证未给出登录码，请重新登录。", "no_code")
        tokens = await self._exchange(code, str(flow["verifier"]), self.redirect_url(origin))
        return await self._signed_in(tokens, str(flow["nonce"])), target

    async def _exchange(self, code: str, verifier: str, redirect_url: str) -> dict[str, Any]:
        meta = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_url,
                "code_verifier": verifier, "client_id": self.settings.client_id}
        auth: httpx.BasicAuth | None = None
        secret = self.settings.oidc_client_secret.get_secret_value()
        if secret:
            methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            if "client_secret_basic" in methods:
                auth = httpx.BasicAuth(self.settings.client_id, secret)
            else:
                form["client_secret"] = secret
        try:
            response = await self.client.post(meta["token_endpoint"], data=form, auth=auth,
                                              headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            log.warning("signin.token_endpoint_unreachable", error=exc.__class__.__name__)
            raise SignInRefused("统一身份认证服务暂不可达，请稍后再试，或使用令牌登录。", "provider_unreachable",
                                503) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error", "") if isinstance(body, dict) else ""
            code = error if isinstance(error, str) and _ERROR_CODE.fullmatch(error) else f"http_{response.status_code}"
            raise SignInRefused(f"统一身份认证拒绝了本次登录（{code}），请重新登录。", f"token_refused:{code}")
        if not isinstance(body.get("id_token"), str) or not isinstance(body.get("access_token"), str):
            raise SignInRefused("统一身份认证的应答缺少令牌，请联系系统管理员。", "tokens_missing", 502)
        return body

    async def _signed_in(self, tokens: dict[str, Any], nonce: str) -> SignedIn:
        assert self.identity.oidc is not None
        try:
            claims = await self.identity.oidc.claims(tokens["id_token"], audience=self.settings.client_id,
                                                     nonce=nonce)
            access = await self.identity.oidc.claims(tokens["access_token"])  # as the services will read it
        except ProviderUnreachable:
            raise SignInRefused("统一身份认证服务的密钥暂不可取，请稍后再试。", "jwks_unreachable", 503) from None
        except InvalidToken as exc:
            reason = str(exc).split(":", 1)[0][:80]
            raise SignInRefused("统一身份认证的令牌未通过校验，未登录。", f"token_invalid:{reason}") from None
        principal = Principal(token_hint="jwt", roles=self.identity.oidc.roles_of(access), subject=str(access["sub"]))
        if not principal.roles:
            raise SignInRefused("您的账号在本平台没有角色，请联系系统管理员授权。", "no_role", 403)
        if str(claims["sub"]) != str(access["sub"]):
            raise SignInRefused("统一身份认证的令牌未通过校验，未登录。", "token_invalid:sub_differs")
        username = claims.get("preferred_username") or access.get("preferred_username") or claims["sub"]
        actor = str(username) if re.fullmatch(ID_PATTERN, str(username)) else ""
        name = str(claims.get("name") or username)[:64]
        log.info("signin.oidc", subject=principal.subject, roles=sorted(principal.roles))
        return SignedIn(tokens["access_token"], principal, name, actor, float(access["exp"]))

    async def end_session_url(self, origin: str) -> str | None:
        """Where sign-out sends the browser so the provider ends its session too, or None."""
        try:
            meta = await self.metadata()
        except SignInRefused:
            return None
        endpoint = meta.get("end_session_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            return None
        query = urlencode({"client_id": self.settings.client_id,
                           "post_logout_redirect_uri": self.origin(origin) + "/login"})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
