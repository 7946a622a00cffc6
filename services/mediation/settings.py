from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings


class MediationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_MEDIATION_", extra="ignore")

    http_port: int = 8102
    mongo_db: str = "fengqiao_mediation"
    #: where a high-risk dispute reported without coordinates is sent: the station (枫亭派出所)
    station_lon: float = Field(default=118.9651, ge=-180, le=180)
    station_lat: float = Field(default=25.2284, ge=-90, le=90)
    #: the station's own risk rules (format of mediation/domain/risk_rules.toml); empty: the packaged ones
    risk_rules_path: Path | None = None
