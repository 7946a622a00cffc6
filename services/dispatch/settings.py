from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FQ_DISPATCH_", extra="ignore")

    http_port: int = 8101
    mongo_db: str = "fengqiao_dispatch"
    #: a unit must acknowledge within this time or the alert goes to the next-best unit
    ack_timeout_s: float = Field(default=60.0, gt=0)
    #: past this distance from every available post, the alert goes to the duty desk (overflow)
    overflow_radius_m: float = Field(default=5000.0, gt=0)
    #: alerts held by the duty desk are offered to units again when capacity frees up
    retry_unassigned: bool = True
    #: each replica re-reads every unit's status about this often (a slice each second), and hands
    #: on alerts left with a unit gone off duty
    view_refresh_s: float = Field(default=30.0, gt=0)
    #: each replica re-reads which places every unit's alerts hold about this often (a few units a
    #: second); in between the replicas tell each other the places they take and give back
    places_refresh_s: float = Field(default=600.0, gt=0)
