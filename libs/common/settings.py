"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The token `fengqiao up` hands out for local work; refused when environment=production.
DEVELOPMENT_TOKEN = "dev-token"  # noqa: S105 - a known placeholder, rejected in production

ROLES = frozenset({"admin", "duty_desk", "officer", "mediator", "leadership", "integration", "viewer"})


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_", extra="ignore", env_nested_delimiter="__")

    environment: Literal["development", "test", "production"] = "development"
    nats_url: str = "nats://127.0.0.1:4222"
    mongo_url: str = "mongodb://127.0.0.1:27017"
    mongo_db: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    #: bearer token -> roles, e.g. FQ_DISPATCH_TOKENS='{"s3cret": ["duty_desk"]}'
    tokens: dict[str, list[str]] = Field(default_factory=lambda: {DEVELOPMENT_TOKEN: ["admin"]})
    station_timezone: str = "Asia/Shanghai"
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON unless stdout is a terminal
    #: JetStream replicas for the streams this service declares (3 on a production cluster).
    stream_replicas: int = Field(default=1, ge=1, le=5)
    consumer_batch: int = Field(default=64, ge=1, le=1000)
    consumer_concurrency: int = Field(default=32, ge=1, le=1000)
    max_deliver: int = Field(default=8, ge=2)
    sweep_interval_s: float = Field(default=1.0, gt=0)
    shutdown_grace_s: float = Field(default=10.0, gt=0)

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

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.station_timezone)
