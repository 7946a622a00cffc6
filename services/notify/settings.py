from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from notify.sms.settings import SmsGatewaySettings


class NotifySettings(SmsGatewaySettings):
    model_config = SettingsConfigDict(env_prefix="FQ_NOTIFY_", extra="ignore")

    http_port: int = 8103
    mongo_db: str = "fengqiao_notify"
