"""Start the embedded NATS (JetStream) and MongoDB-wire store from the installed packages.

Both listen on free loopback ports, keep their data in a given folder, and are stopped
by whoever started them. Used by `fengqiao up` and by the integration tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fengqiao.walcheckpoint import WalCheckpointer


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be found or started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def binary(name: str) -> str:
    """The executable installed beside this interpreter (a venv's bin/), else on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise EmbeddedServerError(f"{name} is not installed: pip install -e '.[embedded]' (an extra)")
    return found


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "server") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise EmbeddedServerError(f"{what} exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise EmbeddedServerError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


@dataclass
class EmbeddedServer:
    name: str
    port: int
    url: str
    process: subprocess.Popen
    log_path: Path
    extra: dict[str, int] = field(default_factory=dict)
    #: runs beside the server and stops before it (the store's checkpointer)
    companion: WalCheckpointer | None = None

    def stop(self, timeout: float = 10.0) -> None:
        if self.companion is not None:
            self.companion.stop()
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def kill(self) -> None:
        if self.companion is not None:
            self.companion.stop()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def _spawn(cmd: list[str], log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        # a new session: Ctrl-C in the terminal reaches `fengqiao up`, which stops us in order
        return subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def _with_retries(start, port: int | None, attempts: int = 3):
    """A free port can be taken between our probe and the server's bind: try again on a new one."""
    for attempt in range(attempts):
        try:
            return start(port or free_port())
        except EmbeddedServerError:
            if port is not None or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def start_nats(data_dir: Path, port: int | None = None, timeout: float = 10.0) -> EmbeddedServer:
    return _with_retries(lambda p: _start_nats(data_dir, p, timeout), port)


def start_store(data_dir: Path, port: int | None = None, timeout: float = 15.0) -> EmbeddedServer:
    return _with_retries(lambda p: _start_store(data_dir, p, timeout), port)


def _start_nats(data_dir: Path, port: int, timeout: float) -> EmbeddedServer:
    monitor = free_port()
    store = data_dir / "jetstream"
    store.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "logs" / "nats-server.log"
    cmd = [binary("nats-server"), "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor), "-js", "-sd", str(store)]
    proc = _spawn(cmd, log_path)
    try:
        wait_for_port(port, timeout, proc, "nats-server")
        wait_for_port(monitor, timeout, proc, "nats-server monitor")
    except EmbeddedServerError:
        proc.kill()
        raise
    return EmbeddedServer("nats", port, f"nats://127.0.0.1:{port}", proc, log_path, {"monitor_port": monitor})


def _start_store(data_dir: Path, port: int, timeout: float) -> EmbeddedServer:
    store = data_dir / "store"
    store.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "logs" / "nx-27017.log"
    pid_file = data_dir / "nx-27017.pid"
    if pid_file.exists():
        _clear_stale_pid(pid_file)
    cmd = [
        sys.executable, "-m", "fengqiao.storeserver", "--data-dir", str(store), "--host", "127.0.0.1", "-p", str(port),
        "--log-file", str(log_path), "--pid-file", str(pid_file),
    ]
    proc = _spawn(cmd, data_dir / "logs" / "nx-27017.out")
    try:
        wait_for_port(port, timeout, proc, "nx-27017")
    except EmbeddedServerError:
        proc.kill()
        raise
    # its write-ahead logs are checkpointed beside it, off its lock (see fengqiao.walcheckpoint)
    return EmbeddedServer("store", port, f"mongodb://127.0.0.1:{port}/?directConnection=true", proc, log_path,
                          companion=WalCheckpointer(store).start())


def _clear_stale_pid(pid_file: Path) -> None:
    """nx-27017 refuses to start when its pid file names a live process; a dead one is ours to remove."""
    try:
        pid = int(pid_file.read_text().strip() or 0)
    except ValueError:
        pid = 0
    if pid:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            pid = 0
        except PermissionError:
            pass
    if pid:
        raise EmbeddedServerError(f"another nx-27017 (pid {pid}) is using {pid_file.parent}")
    pid_file.unlink(missing_ok=True)
