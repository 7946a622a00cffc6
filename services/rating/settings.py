from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings


class RatingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_RATING_", extra="ignore")

    http_port: int = Field(default=8104, description="Listen port.")
    mongo_db: str = Field(default="fengqiao_rating", description="The service's own database.")
