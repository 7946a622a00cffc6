"""The README's configuration table names every setting a service reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from fengqiao.services import SERVICES

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_setting_is_documented(service: str) -> None:
    settings = SERVICES[service].settings_class()
    missing = [name.upper() for name in settings.model_fields if f"`{name.upper()}`" not in README]
    assert missing == [], f"README's configuration table lacks {missing}"


def test_the_readme_commands_are_the_ci_commands() -> None:
    ci = (Path(__file__).resolve().parents[3] / ".ci" / "run").read_text(encoding="utf-8")
    test_command = ci.strip().splitlines()[-1]
    assert test_command in README
