"""The registry of the platform's services: the one place that lists them.

A service is registered by its name here. Its package holds the rest, each once:
`<name>.settings.<Name>Settings` (the env prefix, `FQ_<NAME>_`, and the default
`http_port` are written there, where the service reads them) and `<name>.bootstrap.build`.
`fengqiao serve`'s choices, `fengqiao up` and the tests read this registry; the packages
are imported only when asked for, so a container loads one service.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common.runtime import Build
    from common.settings import ServiceSettings

#: every service of the platform, in the order `fengqiao up` starts and lists them
NAMES = ("dispatch", "mediation", "notify", "rating", "community", "console")


@dataclass(frozen=True)
class ServiceSpec:
    name: str

    def settings_class(self) -> type[ServiceSettings]:
        return getattr(importlib.import_module(f"{self.name}.settings"), f"{self.name.capitalize()}Settings")

    def build(self) -> Build:
        return importlib.import_module(f"{self.name}.bootstrap").build

    @property
    def env_prefix(self) -> str:
        return str(self.settings_class().model_config["env_prefix"])

    @property
    def keeps_data(self) -> bool:
        """Whether it has a MongoDB store of its own (the console keeps none)."""
        from common.settings import reveal

        return bool(reveal(self.settings_class().model_fields["mongo_url"].default))

    @property
    def default_port(self) -> int:
        return int(self.settings_class().model_fields["http_port"].default)


SERVICES: dict[str, ServiceSpec] = {name: ServiceSpec(name) for name in NAMES}
