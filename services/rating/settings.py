from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings


class RatingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_RATING_", extra="ignore")

    http_port: int = 8104
    mongo_db: str = "fengqiao_rating"
