"""`fengqiao up` watches its children: one that exits is reaped, logged and started again.

Every child (nats-server, the store, each service) keeps its state on disk and its port,
so starting it again is all a restart needs. A child that exits is reaped at once (no
`<defunct>` left), logged with how it ended (exit code or signal) and the last line of its
log, and started again after a delay that doubles with each death in the window (0.5 s,
1 s, 2 s, 4 s …). A child that dies `max_deaths` times within `window_s` (a start that
fails counts as a death) is not a passing fault: the supervisor gives up, and `up` stops
everything and exits non-zero with the reason.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class Child(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def process(self) -> subprocess.Popen | None: ...

    @property
    def log_path(self) -> Path: ...

    def start(self) -> None: ...


@dataclass(frozen=True)
class RestartPolicy:
    max_deaths: int = 5
    window_s: float = 60.0
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay(self, deaths: int) -> float:
        """The wait before starting again a child that died `deaths` times in the window (1 = first)."""
        return min(self.first_delay_s * 2 ** (deaths - 1), self.max_delay_s)


class GaveUp(RuntimeError):
    """A child keeps dying: the platform cannot run."""


def how_it_ended(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def last_line(path: Path, limit: int = 300) -> str:
    """The last non-empty line of a log (read from its end), or '' if there is none."""
    try:
        with open(path, "rb") as log:
            log.seek(0, 2)
            size = log.tell()
            log.seek(max(0, size - 4096))
            lines = [ln for ln in log.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:limit] if lines else ""


@dataclass
class _Watch:
    deaths: list[float] = field(default_factory=list)
    restart_at: float | None = None


class Supervisor:
    def __init__(self, children: Iterable[Child], policy: RestartPolicy = RestartPolicy(),
                 log: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic) -> None:
        self.children = list(children)
        self.policy = policy
        self.log = log
        self.clock = clock
        self._watch = {child.name: _Watch() for child in self.children}

    def check(self) -> None:
        """Reap and note the children that exited, start again those whose delay is over.

        Raises GaveUp when a child died too often; the caller stops everything.
        """
        for child in self.children:
            watch = self._watch[child.name]
            if watch.restart_at is not None:
                if self.clock() >= watch.restart_at:
                    self._restart(child, watch)
                continue
            process = child.process
            if process is None or process.poll() is None:  # poll() reaps a child that exited
                continue
            self._died(child, watch, f"(pid {process.pid}) {how_it_ended(process.returncode)}")

    def _died(self, child: Child, watch: _Watch, how: str) -> None:
        now = self.clock()
        watch.deaths = [t for t in watch.deaths if now - t < self.policy.window_s] + [now]
        tail = last_line(child.log_path)
        said = f"; its log ({child.log_path}) ends: {tail}" if tail else f"; log: {child.log_path}"
        if len(watch.deaths) >= self.policy.max_deaths:
            raise GaveUp(f"{child.name} {how}, {len(watch.deaths)} times in {self.policy.window_s:g} s: "
                         f"giving up{said}")
        delay = self.policy.delay(len(watch.deaths))
        self.log(f"{child.name} {how}; starting it again in {delay:g} s{said}")
        watch.restart_at = now + delay

    def _restart(self, child: Child, watch: _Watch) -> None:
        watch.restart_at = None
        try:
            child.start()
        except Exception as exc:  # noqa: BLE001 - whatever stops a start is a death to count
            self._died(child, watch, f"failed to start ({exc})")
            return
        pid = child.process.pid if child.process is not None else "?"
        self.log(f"{child.name} started again (pid {pid})")
