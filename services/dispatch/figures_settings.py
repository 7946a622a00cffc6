"""Settings of dispatch's headline figures and patrol hotspots (FQ_DISPATCH_ prefix, with the rest)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator, model_validator

from dispatch.domain.trends import CATEGORIES


class FigureSettings(BaseModel):
    preventable_categories: list[str] = Field(
        default=["theft", "fraud"],
        description="可防性警情: the alert categories counted as preventable (theft covers burglary; JSON list).",
    )
    criminal_categories: list[str] = Field(
        default=["theft", "fraud", "violence"],
        description="两降一升: the categories counted as criminal alerts (刑事警情; JSON list).",
    )
    public_order_categories: list[str] = Field(
        default=["dispute", "noise"],
        description="两降一升: the categories counted as public-order alerts (治安警情; JSON list).",
    )
    hotspot_cell_m: float = Field(
        default=500.0, ge=50, le=5000,
        description="Side of the square cells hotspots are counted in, metres (changing it starts the counts anew).",
    )
    figure_marks_kept_s: float = Field(
        default=60, ge=60,
        description="How long at least a roll-up remembers an alert it counted (and while the alert's counts are "
        "still staged in it): counts applied again within it add nothing.",
    )

    @field_validator("preventable_categories", "criminal_categories", "public_order_categories")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; expected some of {', '.join(CATEGORIES)}")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _apart(self) -> FigureSettings:
        both = set(self.criminal_categories) & set(self.public_order_categories)
        if both:
            raise ValueError(f"a category cannot be criminal and public-order both: {sorted(both)}")
        return self
