from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings
from rating.domain import SurveyPolicy


class RatingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_RATING_", extra="ignore")

    http_port: int = Field(default=8104, description="Listen port.")
    mongo_db: str = Field(default="fengqiao_rating", description="The service's own database.")
    station_id: str = Field(default="station", min_length=1, max_length=64,
                            description="The key of the station's own row in the weekly report.")
    station_name: str = Field(default="枫亭派出所", min_length=1, max_length=20,
                              description="The station's name in the survey SMS 【…】.")
    names: dict[str, str] = Field(
        default_factory=dict,
        description="JSON: officer and unit ids -> names, in the survey SMS (民警张三) and the report's CSV.")
    send_from: time = Field(default=time(8, 0), description="Allowed hours of a survey SMS start (station zone).")
    send_until: time = Field(default=time(21, 0),
                             description="Allowed hours of a survey SMS end (station zone, exclusive).")
    cooldown_hours: float = Field(default=24, ge=0,
                                  description="A phone surveyed this recently is not surveyed for another subject.")
    expires_after_hours: float = Field(default=72, gt=0,
                                       description="An unanswered survey expires this long after it was sent.")
    stale_after_days: float = Field(default=7, gt=0,
                                    description="A contact older than this is not surveyed: nobody remembers it.")
    followup_within_days: float = Field(default=3, gt=0,
                                        description="Leadership follows a 不满意 up within this time.")
    followup_words_path: Path | None = Field(
        default=None, description="The station's words that make a comment a problem or a suggestion (TOML, see "
                                  "rating/domain/followup_words.toml, the default): such a rating is followed up "
                                  "by leadership whatever its level.")
    spot_check_share: float = Field(default=0.10, ge=0, le=1,
                                    description="The share of each officer's weekly SMS ratings called back.")
    spot_check_minimum: int = Field(default=1, ge=0, description="At least this many of them.")
    rollup_marks_kept_s: float = Field(
        default=60, ge=60,
        description="How long at least a report cell remembers an update it took (and while the update is still "
        "staged in its record): a redelivery within it changes nothing.")
    satisfaction_tell_s: float = Field(
        default=60.0, gt=0,
        description="How often the station's weekly satisfaction is checked and, when it changed, told "
        "(ratings.weekly_satisfaction) for dispatch's 两降一升 panel.")

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
