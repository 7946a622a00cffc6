from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from notify.sms.settings import SmsGatewaySettings


class OfficerContact(BaseModel):
    """How the callback SMS names the responsible officer (承办民警) and where the party may call."""

    name: str = Field(min_length=1, max_length=6, description="As signed in the SMS, e.g. 张伟.")
    phone: str = Field(default="", max_length=16, description="The officer's work phone; empty: the station's.")


class NotifySettings(SmsGatewaySettings):
    model_config = SettingsConfigDict(env_prefix="FQ_NOTIFY_", extra="ignore")

    http_port: int = Field(default=8103, description="Listen port.")
    mongo_db: str = Field(default="fengqiao_notify", description="The service's own database.")

    station_name: str = Field(default="枫亭派出所", min_length=1, max_length=12,
                              description="The signature of every callback SMS (【枫亭派出所】).")
    station_phone: str = Field(default="0594-7651234", min_length=1, max_length=16,
                               description="The contact number in a callback SMS when the officer has none.")
    officers: dict[str, OfficerContact] = Field(
        default_factory=dict,
        description='officer_id -> name and phone for the SMS, '
                    'e.g. FQ_NOTIFY_OFFICERS=\'{"P1001": {"name": "张伟"}}\'.')
    sms_allowed_from: time = Field(default=time(8, 0), description="First local time a callback SMS may go (included).")
    sms_allowed_until: time = Field(default=time(21, 0), description="End of the allowed SMS hours (excluded).")
    sms_delay_s: float = Field(default=0.0, ge=0, le=7 * 86400,
                               description="Wait between the case event and the first callback SMS.")
    sms_retry_delays_s: list[float] = Field(
        default=[60.0, 300.0, 1800.0, 7200.0], min_length=0, max_length=10,
        description="The wait after the 1st, 2nd… failed send; after the last one the callback goes manual.")
    manual_lead_h: float = Field(default=24.0, ge=0, le=72,
                                 description="The SMS gives way to a manual task this many hours before the deadline.")
    holiday_extension: bool = Field(default=False,
                                    description="A last day that is a rest day moves to the next working day.")
    calendar_path: Path | None = Field(
        default=None, description="The station's holiday calendar (TOML, see notify/domain/holidays.py); "
                                  "asked before the chinesecalendar package.")
    objection_within_h: float = Field(
        default=72.0, gt=0, le=30 * 24,
        description="An objection (异议) is explained by the responsible officer within this many hours; "
                    "then it goes to station leadership.")
    sweep_limit: int = Field(default=500, ge=1, le=10_000,
                             description="Callbacks one sweep tick reads (the due ones, through the index).")
    sweep_concurrency: int = Field(default=32, ge=1, le=256,
                                   description="Due callbacks a sweep tick fires at once.")

    @field_validator("sms_retry_delays_s")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(wait <= 0 for wait in value):
            raise ValueError("retry delays must be positive")
        return value

    @model_validator(mode="after")
    def _hours_in_order(self) -> NotifySettings:
        if self.sms_allowed_from >= self.sms_allowed_until:
            raise ValueError("sms_allowed_from must come before sms_allowed_until (within one day)")
        return self

    @property
    def objection_within(self) -> timedelta:
        return timedelta(hours=self.objection_within_h)

    @property
    def retry_delays(self) -> tuple[timedelta, ...]:
        return tuple(timedelta(seconds=s) for s in self.sms_retry_delays_s)
