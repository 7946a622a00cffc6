"""A real Kannel (bearerbox + smsbox) on 127.0.0.1 for tests, and a fake SMSC client standing in for the phones.

Kannel's `smsc = fake` listens for one client speaking plain lines `sender receiver type data`:
what Kannel sends to a phone arrives as such a line (Chinese as `ucs-2`, URL-encoded UTF-16BE,
spaces as `+`; a text over 70 characters as `udh` parts, with `concatenation = true` on the
sendsms-user), and a line the client writes is a phone's message to the station.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_to_bytes

from fengqiao.embedded import EmbeddedServerError, free_port, wait_for_port

SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def kannel_binaries() -> tuple[str, str] | None:
    """bearerbox and smsbox, or None when Kannel is not installed."""
    found = []
    for name in ("bearerbox", "smsbox"):
        path = shutil.which(name) or next((f"{d}/{name}" for d in SBIN if Path(d, name).exists()), None)
        if path is None:
            return None
        found.append(path)
    return found[0], found[1]


@dataclass
class Kannel:
    folder: Path
    inbound_url: str
    username: str = "fengqiao"
    password: str = "sendsms-secret"
    admin_port: int = field(default_factory=free_port)
    smsbox_port: int = field(default_factory=free_port)
    smsc_port: int = field(default_factory=free_port)
    sendsms_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}"

    def config(self) -> str:
        return f"""
group = core
admin-port = {self.admin_port}
admin-interface = 127.0.0.1
admin-password = admin-secret
admin-allow-ip = 127.0.0.1
smsbox-port = {self.smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
dlr-storage = internal
log-level = 1

group = smsc
smsc = fake
smsc-id = fake
port = {self.smsc_port}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
mo-recode = true

group = sendsms-user
username = {self.username}
password = {self.password}
concatenation = true
max-messages = 5

group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "{self.inbound_url}?from=%p&to=%P&text=%a&coding=%c&charset=%C&id=%I"
"""

    def start(self, binaries: tuple[str, str]) -> None:
        conf = self.folder / "kannel.conf"
        conf.write_text(self.config())
        bearerbox, smsbox = binaries
        self.processes.append(self._run(bearerbox, conf, "bearerbox.log"))
        wait_for_port(self.admin_port, 10, self.processes[0], "bearerbox")  # not the SMSC port: one client only
        wait_for_port(self.smsbox_port, 10, self.processes[0], "bearerbox")
        self.processes.append(self._run(smsbox, conf, "smsbox.log"))
        wait_for_port(self.sendsms_port, 10, self.processes[1], "smsbox")

    def _run(self, binary: str, conf: Path, log: str) -> subprocess.Popen:
        out = (self.folder / log).open("wb")
        return subprocess.Popen([binary, "-v", "1", str(conf)], stdout=out, stderr=subprocess.STDOUT,
                                cwd=self.folder, start_new_session=True)

    def stop(self) -> None:
        for process in reversed(self.processes):  # smsbox first, then bearerbox
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.folder.glob("*.log")))


@dataclass(frozen=True)
class SmscMessage:
    sender: str
    receiver: str
    #: how Kannel sent it: text, ucs-2, or udh (parts of a concatenated SMS)
    kind: str
    parts: int
    text: str


def _bytes(data: str) -> bytes:
    return unquote_to_bytes(data.replace("+", "%20"))


class FakeSmsc:
    """The phones' side of Kannel's fake SMSC."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self, timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
                return
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    raise EmbeddedServerError(f"the fake SMSC port {self._port} did not accept") from None
                await asyncio.sleep(0.05)

    async def receive(self, timeout: float = 10.0) -> SmscMessage:
        """The next message Kannel sends to a phone, reassembled from its parts as a phone does (UCS-2)."""
        assert self._reader is not None
        pieces: dict[int, bytes] = {}
        while True:
            raw = await asyncio.wait_for(self._reader.readline(), timeout)
            sender, receiver, kind, data = raw.decode("ascii").rstrip("\n").split(" ", 3)
            if kind == "text":
                return SmscMessage(sender, receiver, kind, 1, data)
            if kind != "udh":
                return SmscMessage(sender, receiver, kind, 1, _bytes(data).decode("utf-16-be"))
            # Kannel 1.4.5 writes `udh <header> data <body>`
            encoded_header, _, rest = data.partition(" ")
            header, body = _bytes(encoded_header), _bytes(rest.removeprefix("data ").removeprefix("text "))
            # UDH: length, IE 00 (concatenation, 8-bit reference), IE length 3, reference, total, this part
            total, number = header[4], header[5]
            pieces[number] = body
            if len(pieces) == total:
                text = b"".join(pieces[n] for n in sorted(pieces)).decode("utf-16-be")
                return SmscMessage(sender, receiver, kind, total, text)

    async def send(self, sender: str, receiver: str, text: str) -> None:
        """A phone's message to the station (Kannel takes `text` lines as they are: UTF-8 here)."""
        assert self._writer is not None
        self._writer.write(f"{sender} {receiver} text {text}\n".encode())
        await self._writer.drain()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
