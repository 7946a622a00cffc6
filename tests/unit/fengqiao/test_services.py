"""The service registry: every service once, with its own prefix and port, and the CLI offers exactly those."""

from __future__ import annotations

import pytest

from fengqiao.cli import _parser
from fengqiao.services import SERVICES


def test_each_service_has_its_own_prefix_and_port() -> None:
    prefixes = [spec.env_prefix for spec in SERVICES.values()]
    ports = [spec.default_port for spec in SERVICES.values()]
    assert prefixes == [f"FQ_{name.upper()}_" for name in SERVICES]
    assert len(set(ports)) == len(ports)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_a_service_reads_its_settings_under_its_prefix(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SERVICES[name]
    monkeypatch.setenv(f"{spec.env_prefix}HTTP_PORT", "9999")
    assert spec.settings_class()().http_port == 9999
    assert callable(spec.build())


def test_serve_offers_every_registered_service_and_no_other() -> None:
    parser = _parser()
    for name in SERVICES:
        assert parser.parse_args(["serve", name]).service == name
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "billing"])
