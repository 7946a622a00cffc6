"""What the SMS gateway consumes from JetStream: the `sms.send` command of every service."""

from __future__ import annotations

from typing import Any

from common.consume import Consumer
from common.contracts.sms import SmsSendRequested
from notify.sms import handlers
from notify.sms.handlers import Sms


async def _send(s: Sms, command: SmsSendRequested) -> None:
    await handlers.request_sms(s, command)


def consumers(s: Sms) -> list[Consumer[Any]]:
    """notify's entrypoints list these beside the callbacks' consumers."""
    return [Consumer("notify-sms-send", SmsSendRequested, lambda command, _: _send(s, command))]
