"""The platform's services and how to build each one (imported lazily: a container loads one)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from common.runtime import Build
from common.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    env_prefix: str
    default_port: int

    def settings_class(self) -> type[ServiceSettings]:
        return importlib.import_module(f"{self.name}.settings").__dict__[f"{self.name.capitalize()}Settings"]

    def build(self) -> Build:
        return importlib.import_module(f"{self.name}.bootstrap").build


SERVICES: dict[str, ServiceSpec] = {
    s.name: s
    for s in (
        ServiceSpec("dispatch", "FQ_DISPATCH_", 8101),
        ServiceSpec("mediation", "FQ_MEDIATION_", 8102),
        ServiceSpec("notify", "FQ_NOTIFY_", 8103),
        ServiceSpec("rating", "FQ_RATING_", 8104),
    )
}
