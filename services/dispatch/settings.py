from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings
from dispatch.figures_settings import FigureSettings


class DispatchSettings(FigureSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_DISPATCH_", extra="ignore")

    http_port: int = Field(default=8101, description="Listen port.")
    mongo_db: str = Field(default="fengqiao_dispatch", description="The service's own database.")
    ack_timeout_s: float = Field(
        default=60.0, gt=0,
        description="A unit must acknowledge within this time, else the alert goes to the next-best unit.",
    )
    overflow_radius_m: float = Field(
        default=5000.0, gt=0,
        description="Past this distance from every post that can take it, the alert goes to the duty desk.",
    )
    retry_unassigned: bool = Field(
        default=True,
        description="Alerts held by the duty desk are offered a place as soon as one frees up (urgent, then oldest, "
                    "first), and by a safety net every 2 x SWEEP_INTERVAL_S."
    )
    view_refresh_s: float = Field(
        default=30.0, gt=0,
        description="Each replica re-reads every unit's status about this often (a slice each second), and "
        "hands on alerts left with a unit gone off duty.",
    )
    places_refresh_s: float = Field(
        default=600.0, gt=0,
        description="Each replica re-reads which places every unit's alerts hold about this often (a few units "
        "a second); in between the replicas tell each other the places they take and give back.",
    )
