from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings
from mediation.domain.deadlines import FirstContactRule


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
    first_contact_evening_from: time = Field(
        default=time(20, 0),
        description="事不过夜: a dispute reported from this local hour on is first contacted by "
        "FIRST_CONTACT_NEXT_DAY_BY the next day; one reported earlier before its day ends (local midnight).",
    )
    first_contact_next_day_by: time = Field(
        default=time(12, 0), description="事不过夜: the local hour of the next day an evening report is contacted by.",
    )

    @property
    def contact_rule(self) -> FirstContactRule:
        return FirstContactRule(self.zone, self.first_contact_evening_from, self.first_contact_next_day_by)
