from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings


class MediationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_MEDIATION_", extra="ignore")

    http_port: int = 8102
    mongo_db: str = "fengqiao_mediation"
