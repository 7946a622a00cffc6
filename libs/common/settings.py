"""Settings every service shares; each service subclasses with its own env prefix.

Secrets are typed as secrets and never rendered: the connection URLs (they carry passwords) are
`SecretStr`, the static tokens a `Tokens` table whose text shows no token. `secret_values()`
lists them for the log redactor (`common.logs.register_secrets`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, PlainSerializer, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The token `fengqiao up` hands out for local work; refused when environment=production.
DEVELOPMENT_TOKEN = "dev-token"  # noqa: S105 - a known placeholder, rejected in production

ROLES = frozenset({"admin", "duty_desk", "officer", "mediator", "leadership", "integration", "viewer"})


class Tokens(dict[str, list[str]]):
    """Static bearer tokens -> roles; written (repr, str, logs) with every token hidden."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"'***{i}': {roles!r}" for i, roles in enumerate(self.values())) + "}"

    __str__ = __repr__


TokenTable = Annotated[dict[str, list[str]], AfterValidator(Tokens),
                      PlainSerializer(lambda tokens: {f"***{i}": r for i, r in enumerate(tokens.values())})]


def reveal(value: Any) -> str:
    """The text of a setting, whether typed as a secret or (copied in by a test) plain."""
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_", extra="ignore", env_nested_delimiter="__")

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        description="`production` refuses the development token and tokens shorter than 16 characters.",
    )
    nats_url: SecretStr = Field(
        default=SecretStr("nats://127.0.0.1:4222"),
        description="NATS servers, comma-separated for a cluster; `nats://user:password@host:4222` with a "
        "NATS user (deploy/nats/auth.conf).",
    )
    mongo_url: SecretStr = Field(
        default=SecretStr("mongodb://127.0.0.1:27017"),
        description="MongoDB (a replica set in production); only single-document atomicity is relied on.",
    )
    mongo_db: str = Field(default="", description="The service's own database.")
    http_host: str = Field(default="127.0.0.1", description="Listen address (`0.0.0.0` in a container).")
    http_port: int = Field(default=8000, description="Listen port.")
    tokens: TokenTable = Field(
        default_factory=lambda: Tokens({DEVELOPMENT_TOKEN: ["admin"]}),
        description="JSON: bearer token -> roles (admin, duty_desk, officer, mediator, leadership, integration, "
        "viewer).",
    )
    station_timezone: str = Field(
        default="Asia/Shanghai", description="Where days and weeks are counted and times shown; stored in UTC."
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_json: bool | None = Field(
        default=None, description="`true`: JSON lines; `false`: readable lines; unset: JSON unless on a terminal."
    )
    stream_replicas: int = Field(
        default=1, ge=1, le=5,
        description="JetStream replicas of the streams every replica declares: 3 on a production cluster, the "
        "same in every service (a lower value would shrink the streams).",
    )
    consumer_batch: int = Field(default=64, ge=1, le=1000, description="Messages fetched at once.")
    consumer_concurrency: int = Field(
        default=32, ge=1, le=1000, description="Messages in hand at once per consumer."
    )
    ack_wait_s: dict[str, float] = Field(
        default_factory=dict,
        description="JSON: consumer (durable name) -> seconds JetStream waits for a message's acknowledgement "
        "before handing it to another replica; a consumer not named keeps its own (a few seconds for alerts, "
        "30 s for the others). In-progress signals keep a message that takes longer.",
    )
    max_deliver: int = Field(
        default=8, ge=2, description="Deliveries before a failing message goes to its dead-letter subject."
    )
    sweep_interval_s: float = Field(
        default=1.0, gt=0,
        description="How often deadlines (acknowledgement timeouts, first contact, follow-ups) are looked for.",
    )
    shutdown_grace_s: float = Field(
        default=10.0, gt=0, description="Time to finish the messages in hand on SIGTERM."
    )
    gauges_interval_s: float = Field(
        default=15.0, gt=0,
        description="How often the gauges on /metrics (waiting alerts, overdue work, consumer lag) are read.",
    )

    @field_validator("station_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("tokens")
    @classmethod
    def _known_roles(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for token, roles in value.items():
            unknown = set(roles) - ROLES
            if unknown:
                raise ValueError(f"token {token[:4]}… has unknown roles {sorted(unknown)}; known: {sorted(ROLES)}")
            if not token.strip():
                raise ValueError("an empty token is not allowed")
        return value

    @model_validator(mode="after")
    def _no_placeholder_in_production(self) -> ServiceSettings:
        if self.environment == "production":
            weak = [t for t in self.tokens if t == DEVELOPMENT_TOKEN or len(t) < 16]
            if weak:
                raise ValueError("production refuses the development token and tokens shorter than 16 characters")
        return self

    def refuses_to_start(self) -> str | None:
        """Why `fengqiao serve` must not start on these settings (one line), or None."""
        return None

    def secret_values(self) -> list[str]:
        """Every secret of these settings as text: tokens, passwords, URLs with credentials (for the redactor)."""
        found = [*self.tokens]
        for name, value in self:
            if isinstance(value, SecretStr):
                found.append(value.get_secret_value())
            if name.endswith(("_password", "_secret", "_token")) and value:
                found.append(reveal(value))
        return [v for v in found if v]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.station_timezone)
