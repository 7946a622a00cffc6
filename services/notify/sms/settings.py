"""Settings of the SMS gateway part of notify (read with notify's prefix, FQ_NOTIFY_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.settings import ServiceSettings


class SmsGatewaySettings(ServiceSettings):
    sms_gateway: Literal["embedded", "kannel"] = Field(
        default="embedded", description="embedded: records what is sent (fengqiao up); kannel: Kannel's sendsms")
