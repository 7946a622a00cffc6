from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from notify.sms.settings import SmsGatewaySettings


class NotifySettings(SmsGatewaySettings):
    model_config = SettingsConfigDict(env_prefix="FQ_NOTIFY_", extra="ignore")

    http_port: int = Field(default=8103, description="Listen port.")
    mongo_db: str = Field(default="fengqiao_notify", description="The service's own database.")
