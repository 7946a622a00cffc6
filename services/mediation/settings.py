from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings


class MediationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_MEDIATION_", extra="ignore")

    http_port: int = Field(default=8102, description="Listen port.")
    mongo_db: str = Field(default="fengqiao_mediation", description="The service's own database.")
    station_lon: float = Field(
        default=118.9651, ge=-180, le=180,
        description="Longitude of the station (枫亭派出所): where a threat reported without coordinates sends a unit.",
    )
    station_lat: float = Field(default=25.2284, ge=-90, le=90, description="Latitude of the station.")
    risk_rules_path: Path | None = Field(
        default=None,
        description="The station's own risk rules (TOML, the format of mediation/domain/risk_rules.toml); "
        "unset: the packaged ones.",
    )
