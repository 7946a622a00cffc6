"""The configuration table names every setting a service reads; the README runs what CI runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.settings import ServiceSettings
from fengqiao.services import SERVICES

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
#: generated from the settings classes by `fengqiao deployfiles`; the README links to it
CONFIGURATION = (Path(__file__).resolve().parents[3] / "docs" / "configuration.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_setting_is_documented(service: str) -> None:
    settings = SERVICES[service].settings_class()
    prefix = SERVICES[service].env_prefix
    shared = ServiceSettings.model_fields
    missing = [name.upper() for name in settings.model_fields
               if f"`{'FQ_<SERVICE>_' if name in shared else prefix}{name.upper()}`" not in CONFIGURATION]
    assert missing == [], f"docs/configuration.md lacks {missing}"


def test_the_readme_commands_are_the_ci_commands() -> None:
    ci = (Path(__file__).resolve().parents[3] / ".ci" / "run").read_text(encoding="utf-8")
    test_command = ci.strip().splitlines()[-1]
    assert test_command in README


ROOT = Path(__file__).resolve().parents[3]


def test_the_layout_names_every_kernel_module_and_every_folder_of_the_tests() -> None:
    layout = README[README.index("## Layout"):README.index("## Benchmarks")]
    modules = [p.name for p in (ROOT / "libs" / "common").glob("*.py") if p.name != "__init__.py"]
    folders = [f"{p.name}/" for p in (ROOT / "tests").rglob("*") if p.is_dir() and p.name != "__pycache__"]
    missing = [name for name in [*modules, "contracts/", *folders] if f"`{name}`" not in layout]
    assert missing == [], f"README's layout does not name {missing}"
