"""Kannel's entrypoint (deploy/kannel/start.sh), run here as the image runs it with a stand-in box:
the configuration written with the secrets, the box's output with every URL password masked (Kannel
prints whole URLs, notify's token in them, when notify is slow), signals handed on, its status kept."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START = ROOT / "deploy" / "kannel" / "start.sh"
SECRETS = {"KANNEL_ADMIN_PASSWORD": "admin-pw-0001", "KANNEL_SENDSMS_PASSWORD": "send-pw-0002",
           "KANNEL_NOTIFY_TOKEN": "notify-token-0003"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "KANNEL_RUN_DIR": str(tmp_path),
            "KANNEL_TEMPLATE": str(ROOT / "deploy" / "kannel" / "kannel.conf.in"), **SECRETS}


def _start(env: dict[str, str], box: str) -> subprocess.Popen:
    return subprocess.Popen(["sh", str(START), "sh", "-c", box], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_the_configuration_is_written_for_kannel_alone_with_the_secrets(env, tmp_path: Path) -> None:
    run = _start(env, 'grep -c "notify-token-0003@notify:8103" "$0"')
    out, err = run.communicate(timeout=30)
    assert run.returncode == 0, err
    assert err.strip() == "1"  # the box's output comes out on stderr, through the filter
    conf = tmp_path / "kannel.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    text = conf.read_text(encoding="utf-8")
    assert all(value in text for value in SECRETS.values()) and "@KANNEL_" not in text
    assert not (tmp_path / "kannel.output").exists()


def test_urls_with_a_password_are_masked_in_the_box_output_and_its_status_is_kept(env) -> None:
    box = ("echo \"ERROR: Couldn't fetch <http://kannel:notify-token-0003@notify:8103/v1/sms/inbound?from=1>\"; "
           "echo 'sendsms?username=fengqiao&password=send-pw-0002&to=13800138000' >&2; "
           "echo 'INFO: Starting to service <你好> from <13800138000>'; exit 3")
    run = _start(env, box)
    out, err = run.communicate(timeout=30)
    assert run.returncode == 3
    assert not any(value in out + err for value in SECRETS.values()), err
    lines = err.splitlines()
    assert "Couldn't fetch <http://kannel:***@notify:8103/v1/sms/inbound?from=1>" in lines[0]
    assert "sendsms?username=fengqiao&password=***&to=138****8000" in err
    assert "Starting to service <你好> from <138****8000>" in err  # the rest untouched, the phone masked


@pytest.mark.parametrize(("line", "shown"), [
    ("sendsms sender:<fengqiao:10690> to:<13800138000> msg:<x>",
     "sendsms sender:<fengqiao:10690> to:<138****8000> msg:<x>"),
    ("from <+8613900139000> to <10690>", "from <+86139****9000> to <10690>"),
    ("13800138000 13900139000", "138****8000 139****9000"),  # the first and the last of the line, one apart
    ("id 213800138000 and 1380013800012", "id 213800138000 and 1380013800012"),  # digits around: not a phone
    ("12800138000", "12800138000"),  # 12x is no mobile prefix
])
def test_a_citizens_mobile_number_is_masked_in_the_box_output(env, line: str, shown: str) -> None:
    run = _start(env, f"echo '{line}'")
    out, err = run.communicate(timeout=30)
    assert err.strip() == shown


def test_sigterm_reaches_the_box_and_the_script_ends_with_it(env) -> None:
    run = _start(env, 'trap "echo box stopping; exit 0" TERM; echo ready; while :; do sleep 0.1; done')
    assert run.stderr is not None and run.stderr.readline().strip() == "ready"
    started = time.monotonic()
    run.send_signal(signal.SIGTERM)
    rest = run.stderr.read()
    assert run.wait(timeout=10) == 0 and "box stopping" in rest
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(("name", "value", "said"), [
    ("KANNEL_NOTIFY_TOKEN", "", "KANNEL_NOTIFY_TOKEN is not set"),
    ("KANNEL_SENDSMS_PASSWORD", "a/b", "may hold only letters"),
])
def test_a_missing_or_unsafe_secret_stops_it_saying_which(env, name: str, value: str, said: str) -> None:
    run = _start({**env, name: value}, "echo should-not-run")
    out, err = run.communicate(timeout=30)
    assert run.returncode == 2 and said in err and "should-not-run" not in out + err
