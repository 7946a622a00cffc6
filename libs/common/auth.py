"""Who is calling: static bearer tokens, or JWTs of the station's OpenID Connect provider.

`require(*roles)` is the dependency every `/v1` route declares. A bearer token is looked up in
the static table (`FQ_<SERVICE>_TOKENS`) first; otherwise, when `oidc_issuer` is set, it is
verified as a JWT signed by a key of the provider's JWKS (joserfc): the signature with one of
`oidc_algorithms` (never `none`), `iss`, `aud`, `exp` (required) and `nbf` within
`oidc_leeway_s`, and the roles read from `oidc_roles_claim` through `oidc_role_map`. Anything
else is 401; a token without the route's role is 403.

The JWKS is fetched on first use and kept; a token naming a key id not in it fetches it again
(the provider rotated its keys), at most once per `oidc_jwks_min_refresh_s`, and a kept set is
fetched again after `oidc_jwks_max_age_s` (a key the provider withdrew stops working). A
provider that cannot be reached while no key is known is 503, not 401: nothing is wrong with
the caller's token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import structlog
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from common.personal import PERSONAL_DATA_ROLES
from common.settings import ROLES, ServiceSettings

log = structlog.get_logger(__name__)

@dataclass(frozen=True)
class Principal:
    """The caller of one request: who (`subject`), with which roles, and what it was shown whole."""

    token_hint: str
    roles: frozenset[str]
    #: the JWT's `sub`, or `token:<8 hex of the token's hash>` for a static token (never the token)
    subject: str = ""
    #: ids whose personal data this request showed whole (for the audit trail; `personal()` fills it)
    shown_whole: list[str] = field(default_factory=list, compare=False)

    @property
    def who(self) -> str:
        return self.subject or self.token_hint

    @property
    def sees_personal_data(self) -> bool:
        """Whether phone and ID numbers are shown whole to this caller (a role that acts on the case)."""
        return bool(self.roles & PERSONAL_DATA_ROLES)


def static_subject(token: str) -> str:
    """A static token's name in logs and the audit trail: stable, and not the token."""
    return "token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:8]


class InvalidToken(Exception):
    """The bearer token is not one we accept (said as 401)."""


class ProviderUnreachable(Exception):
    """The provider's JWKS could not be fetched and no key is known (said as 503)."""


JwksFetch = Callable[[str], Awaitable[dict[str, Any]]]


async def _fetch_jwks(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(url)
        response.raise_for_status()
        return response.json()


class OidcVerifier:
    """Verifies the provider's JWTs against its JWKS, kept and refreshed as the module says."""

    def __init__(self, settings: ServiceSettings, fetch: JwksFetch = _fetch_jwks,
                 now: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._fetch = fetch
        self._now = now
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _refresh(self, *, unknown_kid: bool) -> None:
        async with self._lock:
            age = self._now() - self._fetched_at
            if self._keys is not None and age < (self.settings.oidc_jwks_min_refresh_s if unknown_kid
                                                 else self.settings.oidc_jwks_max_age_s):
                return
            try:
                document = await self._fetch(self.settings.oidc_jwks_url)
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except Exception as exc:
                log.warning("oidc.jwks_failed", url=self.settings.oidc_jwks_url, error=repr(exc)[:300])
                if self._keys is None:
                    raise ProviderUnreachable(str(exc) or exc.__class__.__name__) from None
            self._fetched_at = self._now()

    async def verify(self, token: str) -> Principal:
        claims = await self.claims(token)
        return Principal(token_hint="jwt", roles=self.roles_of(claims), subject=str(claims["sub"]))

    async def claims(self, token: str, *, audience: str | None = None, nonce: str | None = None) -> dict[str, Any]:
        """The claims of a JWT whose signature, `iss`, `aud` (`oidc_audience` unless given), `exp`, `nbf` and
        `sub` hold — and its `nonce`, when one is given (an ID token of a sign-in this process began)."""
        await self._refresh(unknown_kid=False)  # fetches only when nothing is kept or the set is old
        try:
            token_obj = self._decode(token)
        except _UnknownKid:
            await self._refresh(unknown_kid=True)
            token_obj = self._decode(token)
        claims = token_obj.claims
        s = self.settings
        expected: dict[str, Any] = {
            "iss": {"essential": True, "value": s.oidc_issuer},
            "aud": {"essential": True, "value": audience if audience is not None else s.oidc_audience},
            "exp": {"essential": True}, "sub": {"essential": True},
        }
        if nonce is not None:
            expected["nonce"] = {"essential": True, "value": nonce}
        registry = jwt.JWTClaimsRegistry(now=int(self._now()), leeway=s.oidc_leeway_s, **expected)
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise InvalidToken(f"{exc.__class__.__name__}: {exc}") from None
        return claims

    def _decode(self, token: str) -> jwt.Token:
        assert self._keys is not None
        try:
            header = _header_of(token)
        except (ValueError, UnicodeDecodeError):
            raise InvalidToken("not a signed JWT") from None
        alg = header.get("alg")
        if alg not in self.settings.oidc_algorithms:
            raise InvalidToken(f"algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        try:
            self._keys.get_by_kid(kid)
        except JoseError:
            raise _UnknownKid(kid) from None
        try:
            return jwt.decode(token, self._keys, algorithms=list(self.settings.oidc_algorithms))
        except (JoseError, ValueError) as exc:
            raise InvalidToken(f"{exc.__class__.__name__}") from None

    def roles_of(self, claims: dict[str, Any]) -> frozenset[str]:
        value: Any = claims
        for part in self.settings.oidc_roles_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        granted = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        mapping = self.settings.oidc_role_map
        return frozenset(r for r in (mapping.get(g, g if not mapping else "") for g in granted if isinstance(g, str))
                         if r in ROLES)


class _UnknownKid(InvalidToken):
    pass


def _header_of(token: str) -> dict[str, Any]:
    """The JOSE header, read before verifying only to choose the key (joserfc verifies it again)."""
    head = token.split(".", 1)[0]
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    if not isinstance(header, dict):
        raise ValueError("the header is not an object")
    return header


class Identity:
    """Both ways a service knows a caller, built once per app from its settings."""

    def __init__(self, settings: ServiceSettings, fetch: JwksFetch = _fetch_jwks,
                 now: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.oidc = OidcVerifier(settings, fetch, now) if settings.oidc_issuer else None

    async def principal(self, token: str) -> Principal:
        roles = self.settings.tokens.get(token)
        if roles is not None:
            return Principal(token_hint=token[:4] + "…", roles=frozenset(roles), subject=static_subject(token))
        if self.oidc is not None and token.count(".") == 2:
            return await self.oidc.verify(token)
        raise InvalidToken("unknown token")


_bearer = HTTPBearer(auto_error=False)


def identity_of(request: Request) -> Identity:
    identity = getattr(request.app.state, "identity", None)
    if identity is None or identity.settings is not request.app.state.settings:
        identity = request.app.state.identity = Identity(request.app.state.settings)
    return identity


async def authenticate(request: Request, token: str, *, challenge: str = "Bearer",
                       detail: str = "a valid bearer token is required") -> Principal:
    """The caller holding `token` (a static token or the provider's JWT); 401, or 503 when the
    provider's keys cannot be fetched, as HTTP errors."""
    unauthorized = HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": challenge})
    if not token:
        raise unauthorized
    try:
        return await identity_of(request).principal(token)
    except ProviderUnreachable:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail="the identity provider's keys cannot be fetched: retry later",
                            headers={"Retry-After": "5"}) from None
    except InvalidToken as exc:
        log.info("auth.refused", path=request.url.path, reason=str(exc)[:200])
        raise unauthorized from None


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller's bearer token must carry one of `roles` (admin passes everywhere)."""

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        principal = await authenticate(request, credentials.credentials if credentials else "")
        if "admin" not in principal.roles and roles and not principal.roles.intersection(roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"needs one of the roles {sorted(roles)}")
        request.state.principal = principal  # the audit trail reads who called, after the response
        return principal

    dependency.roles = frozenset(roles)  # type: ignore[attr-defined]  # read by docs/roles.md's generator
    return dependency


