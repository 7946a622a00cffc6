from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
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
    session_hours: float = Field(default=12, gt=0, le=168, description="A sign-in lasts this long (one duty shift).")

    @field_validator("dispatch_url", "mediation_url", "notify_url", "rating_url", "community_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
