"""notify serves only with an SMS gateway chosen by name; `fengqiao up` chooses the embedded one and keeps
the tokens it is given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fengqiao.cli import main
from fengqiao.services import SERVICES
from fengqiao.up import Platform


def test_serve_notify_without_a_gateway_refuses_in_one_line(monkeypatch, capsys) -> None:
    monkeypatch.delenv("FQ_NOTIFY_SMS_GATEWAY", raising=False)
    assert main(["serve", "notify"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "no SMS gateway chosen" in err[0] and "FQ_NOTIFY_SMS_GATEWAY=kannel" in err[0]
    assert "FQ_NOTIFY_SMS_GATEWAY=embedded" in err[0]


@pytest.mark.parametrize("gateway", ["embedded", "kannel"])
def test_a_gateway_chosen_by_name_is_no_refusal(monkeypatch, gateway: str) -> None:
    monkeypatch.setenv("FQ_NOTIFY_SMS_GATEWAY", gateway)
    assert SERVICES["notify"].settings_class()().refuses_to_start() is None


def test_the_other_services_have_no_gateway_to_choose(monkeypatch) -> None:
    for name in ("dispatch", "mediation", "rating"):
        assert SERVICES[name].settings_class()().refuses_to_start() is None


class _Server:
    url = "nats://127.0.0.1:1"


def _env(monkeypatch, tmp_path: Path, **given: str) -> dict[str, dict[str, str]]:
    for key, value in given.items():
        monkeypatch.setenv(key, value)
    platform = Platform(tmp_path)
    platform._nats.server = platform._store.server = _Server()  # type: ignore[assignment]
    return {name: platform._service(spec).env for name, spec in SERVICES.items()}


def test_up_asks_for_the_embedded_gateway_by_name(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FQ_NOTIFY_SMS_GATEWAY", raising=False)
    assert _env(monkeypatch, tmp_path)["notify"]["FQ_NOTIFY_SMS_GATEWAY"] == "embedded"
    assert "FQ_DISPATCH_SMS_GATEWAY" not in _env(monkeypatch, tmp_path)["dispatch"]
    # a gateway chosen in the environment is kept (notify at a local Kannel)
    assert _env(monkeypatch, tmp_path, FQ_NOTIFY_SMS_GATEWAY="kannel")["notify"]["FQ_NOTIFY_SMS_GATEWAY"] == "kannel"


def test_up_keeps_the_tokens_it_is_given_and_adds_its_own(monkeypatch, tmp_path: Path) -> None:
    given = {"viewer-token-0123456789": ["viewer"], "officer-token-012345678": ["officer"]}
    envs = _env(monkeypatch, tmp_path, FQ_RATING_TOKENS=json.dumps(given))
    assert json.loads(envs["rating"]["FQ_RATING_TOKENS"]) == {**given, "dev-token": ["admin"]}
    assert json.loads(envs["dispatch"]["FQ_DISPATCH_TOKENS"]) == {"dev-token": ["admin"]}
