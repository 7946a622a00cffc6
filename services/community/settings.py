from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat, field_validator
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings
from community.domain.scorecard import load_rules


class CommunitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_COMMUNITY_", extra="ignore")

    http_port: int = Field(default=8106, description="Listen port.")
    mongo_db: str = Field(default="fengqiao_community", description="The service's own database.")
    visit_quota: int = Field(default=60, ge=1, le=10_000,
                             description="Households each officer visits a month (每月走访60户以上).")
    hazard_deadline_days: dict[Literal["major", "serious", "minor"], PositiveFloat] = Field(
        default_factory=lambda: {"major": 3, "serious": 7, "minor": 15},
        description="JSON: days to rectify a hazard by severity (major 重大, serious 较大, minor 一般); a severity "
        "left out keeps its default.",
    )
    review_cadence_days: dict[Literal["high", "medium", "low"], PositiveFloat] = Field(
        default_factory=lambda: {"high": 30, "medium": 90, "low": 180},
        description="JSON: days between reviews of a key person by risk level (monthly for high risk); a level "
        "left out keeps its default.",
    )
    scorecard_path: Path | None = Field(
        default=None,
        description="The station's monthly sheet: items and weights (TOML, the format of "
        "community/domain/scorecard.toml); unset: the packaged sample.",
    )

    @field_validator("scorecard_path")
    @classmethod
    def _readable_sheet(cls, path: Path | None) -> Path | None:
        """A station's file that cannot be read, or names a wrong item or key, stops the service at its start."""
        if path is not None:
            try:
                load_rules(path)
            except (OSError, ValueError) as exc:  # tomllib's errors are ValueErrors
                raise ValueError(f"the scorecard file {path}: {exc}") from exc
        return path
