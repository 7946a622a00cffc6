"""The supervisor's policy, on fake children and a fake clock: restart with a growing delay, give up."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from fengqiao.supervise import GaveUp, RestartPolicy, Supervisor, how_it_ended, last_line


class FakeProcess:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode


class FakeChild:
    def __init__(self, name: str, log_path: Path, fail_starts: int = 0) -> None:
        self.name = name
        self.log_path = log_path
        self.process: FakeProcess | None = None
        self.starts = 0
        self.fail_starts = fail_starts
        self.start()

    def start(self) -> None:
        self.starts += 1
        if self.starts > 1 and self.fail_starts:
            self.fail_starts -= 1
            raise RuntimeError("port 4222 in use")
        self.process = FakeProcess(100 + self.starts)

    def die(self, returncode: int) -> None:
        assert self.process is not None
        self.process.returncode = returncode


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "nats-server.log"
    path.write_text("started\n[FTL] Error listening on port: 127.0.0.1:4222\n\n")
    return path


def test_a_dead_child_is_logged_and_started_again_after_the_delay(log_path: Path) -> None:
    clock, lines = Clock(), []
    child = FakeChild("nats-server", log_path)
    supervisor = Supervisor([child], log=lines.append, clock=clock)

    supervisor.check()
    assert (child.starts, lines) == (1, [])  # alive: nothing happens

    child.die(-signal.SIGKILL)
    supervisor.check()
    assert child.starts == 1
    assert lines == [f"nats-server (pid 101) was killed by SIGKILL; starting it again in 0.5 s; its log "
                     f"({log_path}) ends: [FTL] Error listening on port: 127.0.0.1:4222"]
    clock.now = 0.49
    supervisor.check()
    assert child.starts == 1  # not before the delay
    clock.now = 0.5
    supervisor.check()
    assert child.starts == 2 and lines[-1] == "nats-server started again (pid 102)"


def test_the_delay_doubles_with_each_death_in_the_window_and_then_it_gives_up(log_path: Path) -> None:
    clock, lines = Clock(), []
    child = FakeChild("dispatch", log_path)
    supervisor = Supervisor([child], policy=RestartPolicy(max_deaths=5, window_s=60), log=lines.append, clock=clock)
    delays = []
    for _ in range(4):
        child.die(1)
        supervisor.check()
        delays.append(float(lines[-1].split("again in ")[1].split(" s")[0]))
        clock.now += delays[-1]
        supervisor.check()
    assert delays == [0.5, 1, 2, 4]
    child.die(1)
    with pytest.raises(GaveUp, match=r"^dispatch \(pid 105\) exited with code 1, 5 times in 60 s: giving up"):
        supervisor.check()


def test_deaths_older_than_the_window_are_forgotten(log_path: Path) -> None:
    clock = Clock()
    child = FakeChild("rating", log_path)
    supervisor = Supervisor([child], policy=RestartPolicy(max_deaths=2, window_s=60), log=lambda _: None,
                            clock=clock)
    child.die(1)
    supervisor.check()
    clock.now = 60.0  # the first death is exactly a window old: it no longer counts
    supervisor.check()
    child.die(1)
    supervisor.check()  # one death in the window: started again, no GaveUp
    clock.now = 119.9
    supervisor.check()
    child.die(1)
    with pytest.raises(GaveUp):
        supervisor.check()  # 60.0 and 119.9 are within 60 s


def test_a_start_that_fails_counts_as_a_death(log_path: Path) -> None:
    clock, lines = Clock(), []
    child = FakeChild("nx-27017", log_path, fail_starts=10)
    supervisor = Supervisor([child], policy=RestartPolicy(max_deaths=3), log=lines.append, clock=clock)
    child.die(-signal.SIGTERM)
    supervisor.check()
    clock.now += 0.5
    supervisor.check()
    assert "nx-27017 failed to start (port 4222 in use); starting it again in 1 s" in lines[-1]
    clock.now += 1
    with pytest.raises(GaveUp, match="failed to start"):
        supervisor.check()


def test_how_a_child_ended() -> None:
    assert how_it_ended(0) == "exited with code 0"
    assert how_it_ended(3) == "exited with code 3"
    assert how_it_ended(-9) == "was killed by SIGKILL"
    assert how_it_ended(-200) == "was killed by signal 200"


def test_last_line_of_a_missing_or_empty_log(tmp_path: Path) -> None:
    assert last_line(tmp_path / "none.log") == ""
    (tmp_path / "empty.log").write_text("\n\n")
    assert last_line(tmp_path / "empty.log") == ""
