"""The citizens' phones behind Kannel's fake SMSC, in the compose network (tests/deploy/test_compose.py).

Connects to bearerbox's fake SMSC port like Kannel's own fakesmsc, prints each SMS the station sends
as a JSON line, and answers it from the phone it reached with REPLY (a satisfied citizen: "1").
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from urllib.parse import unquote_to_bytes

HOST, PORT = os.environ.get("SMSC_HOST", "kannel-bearerbox"), int(os.environ.get("SMSC_PORT", "13014"))
REPLY = os.environ.get("REPLY", "1")


def _text(kind: str, data: str) -> tuple[str, bool]:
    """The text of one line, and whether it completes a message (the last part of a long one)."""
    if kind == "text":
        return unquote_to_bytes(data.replace("+", " ")).decode("utf-8", "replace"), True
    if kind == "udh":  # Kannel 1.4.5 writes `udh <header> data <body>`
        header, _, rest = data.partition(" ")
        head = unquote_to_bytes(header)
        body = unquote_to_bytes(rest.removeprefix("data ").removeprefix("text ").replace("+", " "))
        # concatenation IE: 00 (8-bit reference: total, number at 4, 5) or 08 (16-bit: at 5, 6)
        total, number = (head[5], head[6]) if head[1] == 8 else (head[4], head[5])
        return body.decode("utf-16-be", "replace"), number == total
    return unquote_to_bytes(data.replace("+", " ")).decode("utf-16-be", "replace"), True


async def main() -> None:
    while True:
        try:
            reader, writer = await asyncio.open_connection(HOST, PORT)
            break
        except OSError:
            await asyncio.sleep(0.5)
    print(json.dumps({"connected": f"{HOST}:{PORT}"}), flush=True)
    pieces: list[str] = []
    while line := await reader.readline():
        sender, receiver, kind, data = line.decode("ascii").rstrip("\n").split(" ", 3)
        text, last = _text(kind, data)
        pieces.append(text)
        if not last:
            continue
        print(json.dumps({"from": sender, "to": receiver, "text": "".join(pieces)}, ensure_ascii=False), flush=True)
        pieces = []
        writer.write(f"{receiver} {sender} text {REPLY}\n".encode())
        await writer.drain()
        print(json.dumps({"replied": REPLY, "from": receiver}), flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
