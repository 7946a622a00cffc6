from __future__ import annotations

from datetime import time, timedelta

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings
from rating.domain import SurveyPolicy


class RatingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_RATING_", extra="ignore")

    http_port: int = 8104
    mongo_db: str = "fengqiao_rating"
    #: the key of the station's own row in the weekly report, and its name in the survey SMS 【…】
    station_id: str = Field(default="station", min_length=1, max_length=64)
    station_name: str = Field(default="枫亭派出所", min_length=1, max_length=20)
    #: officer and unit ids -> what the citizen and the spreadsheet call them (民警张三, 枫亭警务室)
    names: dict[str, str] = Field(default_factory=dict)
    #: allowed hours of a survey SMS, station zone: from (inclusive) until (exclusive)
    send_from: time = time(8, 0)
    send_until: time = time(21, 0)
    #: a phone surveyed this long before is not surveyed for another subject
    cooldown_hours: float = Field(default=24, ge=0)
    expires_after_hours: float = Field(default=72, gt=0)
    #: an event older than this asks nobody: no one remembers a contact of last month
    stale_after_days: float = Field(default=7, gt=0)
    followup_within_days: float = Field(default=3, gt=0)
    spot_check_share: float = Field(default=0.10, ge=0, le=1)
    spot_check_minimum: int = Field(default=1, ge=0)
    #: how long a roll-up cell remembers an entry it took: far longer than anyone can hold it staged
    rollup_marks_kept_s: float = Field(default=3600, ge=60)

    @model_validator(mode="after")
    def _valid_policy(self) -> RatingSettings:
        self.policy  # noqa: B018 - raises for a window that is not within one day
        return self

    @property
    def policy(self) -> SurveyPolicy:
        return SurveyPolicy(
            zone=self.zone, send_from=self.send_from, send_until=self.send_until,
            cooldown=timedelta(hours=self.cooldown_hours), expires_after=timedelta(hours=self.expires_after_hours),
            stale_after=timedelta(days=self.stale_after_days),
            followup_within=timedelta(days=self.followup_within_days),
        )
