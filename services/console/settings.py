from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_CONSOLE_", extra="ignore")

    http_port: int = Field(default=8100, description="Listen port.")
    mongo_url: SecretStr = Field(default=SecretStr(""),
                                 description="Empty: the console keeps no data and connects to no store.")
    mongo_db: str = Field(default="", description="Not used: the console keeps no data of its own.")
    dispatch_url: str = Field(default="http://127.0.0.1:8101", description="dispatch's base URL (its HTTP API).")
    mediation_url: str = Field(default="http://127.0.0.1:8102", description="mediation's base URL.")
    notify_url: str = Field(default="http://127.0.0.1:8103", description="notify's base URL.")
    rating_url: str = Field(default="http://127.0.0.1:8104", description="rating's base URL.")
    community_url: str = Field(
        default="", description="community's base URL (the monthly sheet); empty: that panel says it is not there.")
    upstream_timeout_s: float = Field(default=5.0, gt=0, le=60,
                                      description="How long the console waits for a service's answer.")
    tile_url: str = Field(
        default="",
        description="An intranet tile server for the map, e.g. `http://gis.station/tiles/{z}/{x}/{y}.png`; empty: "
        "the grid on a plain background (no request leaves the console).")
    map_hours: float = Field(default=12, gt=0, le=168, description="Alerts received this long ago are on the map.")
    cookie_secure: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (set behind a TLS proxy).")
    session_hours: float = Field(default=12, gt=0, le=168, description="A sign-in lasts this long (one duty shift); "
                          "one through the provider no longer than its refresh token lasts (renewed before its "
                          "access token expires), or than its access token if the provider gives no refresh token.")

    # the station's OpenID Connect sign-in: the issuer, audience, JWKS and role claim are the common `oidc_*`
    oidc_client_id: str = Field(
        default="", max_length=500,
        description="The console's client id at the provider (the ID token's `aud`); empty: `oidc_audience`. "
        "With `oidc_issuer` set, the sign-in page offers 统一身份认证登录 (authorization code with PKCE).")
    oidc_client_secret: SecretStr = Field(
        default=SecretStr(""),
        description="The client's secret at the provider (sent to the token endpoint with HTTP Basic); empty: a "
        "public client, PKCE only.")
    oidc_redirect_url: str = Field(
        default="", max_length=1000,
        description="The callback registered at the provider, `https://<console>/login/oidc/callback`; empty: "
        "the address the browser used (required in production, where a proxy may hide it).")
    oidc_scopes: str = Field(
        default="openid profile", max_length=500,
        description="Scopes asked for at sign-in, separated by spaces; `openid` is always one.")
    session_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Key (32 characters or more) signing the sign-in's own cookies (state, nonce, PKCE verifier, "
        "who signed in) and encrypting the one keeping the provider's refresh token; every replica needs the "
        "same. Empty: a random one per process (one replica only; required in production when `oidc_issuer` is "
        "set).")

    @field_validator("oidc_scopes")
    @classmethod
    def _openid_scope(cls, value: str) -> str:
        scopes = value.split()
        return " ".join(scopes if "openid" in scopes else ["openid", *scopes])

    @model_validator(mode="after")
    def _sign_in_whole(self) -> ConsoleSettings:
        secret = self.session_secret.get_secret_value()
        if secret and len(secret) < 32:
            raise ValueError("session_secret must be 32 characters or more")
        if self.oidc_redirect_url and not self.oidc_redirect_url.startswith(("http://", "https://")):
            raise ValueError("oidc_redirect_url is an http(s) URL")
        if self.environment == "production" and self.oidc_issuer and not (secret and self.oidc_redirect_url):
            raise ValueError("production's OpenID Connect sign-in needs session_secret and oidc_redirect_url")
        return self

    @property
    def client_id(self) -> str:
        return self.oidc_client_id or self.oidc_audience

    @field_validator("dispatch_url", "mediation_url", "notify_url", "rating_url", "community_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
