"""The station's OpenID Connect sign-in: authorization code with PKCE (S256), state and nonce in a signed cookie.

The provider is found from `<issuer>/.well-known/openid-configuration`. The callback checks the state,
exchanges the code at the token endpoint, verifies the ID token with common.auth's verifier (signature by
the provider's JWKS, `iss`, `aud` = the client id, `exp`, `nonce`) and the access token exactly as the
services will (their audience, their role claim): the user is signed in with that access token and the
roles it carries. No code, token or secret is written to a log or a page; what went wrong is said in
Chinese on the sign-in page (`SignInRefused`).

When the provider hands out a refresh token, the session lasts the station's shift (`session_hours`, and
no longer than the provider lets the refresh token live) rather than the access token's few minutes:
the refresh token is kept encrypted in the browser's cookie (`Seal.hide`), and a request arriving when
the access token is about to expire renews it first (`OidcSignIn.renew`, once per refresh token however
many requests carry it at that moment — a provider rotating refresh tokens refuses the second use).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import structlog
from joserfc import jwe, jwt
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
#: an access token is renewed this long before it expires (or in the last fifth of its life, if shorter)
RENEW_AHEAD_S = 60.0
#: the longest refresh token kept (Keycloak's are JWTs of about 800 characters)
REFRESH_TOKEN_MAX = 2800
#: a renewal's outcome is kept this long for the requests that carried the old refresh token meanwhile
RENEWAL_KEPT_S = 30.0


class SignInRefused(Exception):
    """The sign-in did not complete; `message` is what the page says (Chinese, nothing secret)."""

    def __init__(self, message: str, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.message = message
        self.reason = reason  # for the log: a fixed word or the provider's error code, never a value it was sent
        self.status = status


class Seal:
    """Signs small claim sets for the console's own cookies (HS256 with `session_secret`, joserfc), and
    hides the ones whose content is itself a secret (a refresh token: JWE, `dir` + A256GCM, with a key
    derived from the same secret)."""

    def __init__(self, secret: str, now: Callable[[], float] = time.time) -> None:
        raw = secret.encode("utf-8") if secret else secrets.token_bytes(32)
        self._key = OctKey.import_key(raw)
        self._hiding_key = OctKey.import_key(hashlib.sha256(b"fengqiao-console-hidden\0" + raw).digest())
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

    def hide(self, claims: dict[str, Any], lifetime_s: float) -> str:
        plain = json.dumps({**claims, "exp": int(self._now() + lifetime_s)}, separators=(",", ":")).encode()
        return jwe.encrypt_compact({"alg": "dir", "enc": "A256GCM"}, plain, self._hiding_key)

    def reveal(self, value: str) -> dict[str, Any] | None:
        """The claims of a cookie this console hid and that has not expired, or None."""
        if not value:
            return None
        try:
            claims = json.loads(jwe.decrypt_compact(value, self._hiding_key,
                                                    algorithms=["dir", "A256GCM"]).plaintext or b"")
        except (JoseError, ValueError):
            return None
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int) or claims["exp"] <= self._now():
            return None
        return claims


def renewal_due(expires_at: float, received_at: float, now: float) -> bool:
    """Whether an access token received at `received_at` and expiring at `expires_at` is renewed now: in its
    last RENEW_AHEAD_S, or its last fifth when it lives less than five times that."""
    return now >= expires_at - min(RENEW_AHEAD_S, (expires_at - received_at) / 5)


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
    refresh_token: str = ""  # empty: the provider gave none, the session ends with the access token
    refresh_expires_at: float = float("inf")  # when the provider says the refresh token lapses


@dataclass(frozen=True)
class Kept:
    """A session renewable through the provider: its access token and the hidden cookie keeping the rest."""

    access_token: str
    refresh_cookie: str
    until: float  # when the session ends: the shift's end, or the refresh token's, whichever is first


class Dropped(Exception):
    """The provider refused to renew the session (signed out there, refresh token revoked, role gone)."""


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
        self._renewals: dict[str, tuple[float, asyncio.Future[Kept]]] = {}

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
        body = await self._token_request({"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": redirect_url, "code_verifier": verifier})
        if not isinstance(body.get("id_token"), str) or not isinstance(body.get("access_token"), str):
            raise SignInRefused("统一身份认证的应答缺少令牌，请联系系统管理员。", "tokens_missing", 502)
        return body

    async def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        """The token endpoint's answer to one grant, with the client's credentials; SignInRefused if refused
        (status 503 when the provider is away or failing, which a renewal tries again later)."""
        meta = await self.metadata()
        form = {**form, "client_id": self.settings.client_id}
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
            raise SignInRefused(f"统一身份认证拒绝了本次登录（{code}），请重新登录。", f"token_refused:{code}",
                                503 if response.status_code >= 500 else 401)
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
        return SignedIn(tokens["access_token"], principal, name, actor, float(access["exp"]),
                        *self._refresh_of(tokens))

    def _refresh_of(self, tokens: dict[str, Any]) -> tuple[str, float]:
        refresh = tokens.get("refresh_token")
        # hidden, a token grows by a third: past this its cookie would pass the 4 KB a browser keeps (and be dropped)
        if not isinstance(refresh, str) or not refresh or len(refresh) > REFRESH_TOKEN_MAX:
            return "", float("inf")
        lifetime = tokens.get("refresh_expires_in")
        # Keycloak says 0 for an offline token (no lapse but the shift's); a lifetime it does not say is none
        if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) and lifetime > 0:
            return refresh, self._now() + float(lifetime)
        return refresh, float("inf")

    # ------------------------------------------------------------------ keeping a session

    def keep(self, signed: SignedIn, since: float) -> Kept | None:
        """The session of a sign-in at `since`, renewable while the shift and the refresh token last; None
        when the provider gave no refresh token (the session is the access token's life)."""
        if not signed.refresh_token:
            return None
        until = min(since + self.settings.session_hours * 3600, signed.refresh_expires_at)
        lifetime = until - self._now()
        if lifetime <= 0:
            return None
        claims = {"rt": signed.refresh_token, "sub": signed.principal.subject, "since": since,
                  "got": self._now(), "at_exp": signed.expires_at}
        return Kept(signed.access_token, self.seal.hide(claims, lifetime), until)

    def due(self, refresh_cookie: str) -> dict[str, Any] | None:
        """The kept session's claims when its access token is to be renewed now, else None."""
        kept = self.seal.reveal(refresh_cookie)
        if kept is None or not all(isinstance(kept.get(k), str) for k in ("rt", "sub")) or not all(
                isinstance(kept.get(k), int | float) for k in ("since", "got", "at_exp")):
            return None
        return kept if renewal_due(kept["at_exp"], kept["got"], self._now()) else None

    async def renew(self, kept: dict[str, Any]) -> Kept:
        """A new access token for a kept session, asked of the provider once however many requests carry the
        same refresh token now (the outcome is kept RENEWAL_KEPT_S). Dropped when the provider refuses it;
        SignInRefused (503) when it cannot be asked now."""
        key = hashlib.sha256(kept["rt"].encode("utf-8")).hexdigest()
        now = self._now()
        for old in [k for k, (at, _) in self._renewals.items() if now - at > RENEWAL_KEPT_S]:
            del self._renewals[old]
        if key not in self._renewals:
            renewing = asyncio.ensure_future(self._renew(kept))
            # its outcome is read by whoever still waits; a browser gone meanwhile leaves none unread
            renewing.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._renewals[key] = (now, renewing)
        _, renewal = self._renewals[key]
        try:
            return await asyncio.shield(renewal)
        except SignInRefused:
            self._renewals.pop(key, None)  # away: the next request tries again
            raise

    async def _renew(self, kept: dict[str, Any]) -> Kept:
        try:
            tokens = await self._token_request({"grant_type": "refresh_token", "refresh_token": kept["rt"]})
        except SignInRefused as refused:
            if refused.status >= 500:
                log.warning("signin.renewal_failed", reason=refused.reason)
                raise
            log.info("signin.renewal_refused", subject=kept["sub"], reason=refused.reason)
            raise Dropped(refused.reason) from None
        assert self.identity.oidc is not None
        access_token = tokens.get("access_token")
        if not isinstance(access_token, str):
            raise Dropped("tokens_missing")
        try:
            access = await self.identity.oidc.claims(access_token)
        except ProviderUnreachable:
            raise SignInRefused("统一身份认证服务的密钥暂不可取，请稍后再试。", "jwks_unreachable", 503) from None
        except InvalidToken as exc:
            raise Dropped(f"token_invalid:{str(exc).split(':', 1)[0][:80]}") from None
        if str(access["sub"]) != kept["sub"]:
            raise Dropped("token_invalid:sub_differs")
        principal = Principal(token_hint="jwt", roles=self.identity.oidc.roles_of(access), subject=kept["sub"])
        if not principal.roles:
            raise Dropped("no_role")
        refresh, refresh_expires_at = self._refresh_of(tokens)
        signed = SignedIn(access_token, principal, "", "", float(access["exp"]),
                          refresh or kept["rt"], refresh_expires_at)  # a provider that does not rotate keeps the old
        renewed = self.keep(signed, float(kept["since"]))
        if renewed is None:
            raise Dropped("session_over")
        log.info("signin.renewed", subject=kept["sub"])
        return renewed

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
