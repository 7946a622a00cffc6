"""Settings of the SMS gateway part of notify (read with notify's prefix, FQ_NOTIFY_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from common.settings import ServiceSettings, reveal

Purpose = Literal["callback", "survey", "reprompt", "notice"]


class SmsGatewaySettings(ServiceSettings):
    sms_gateway: Literal["embedded", "kannel"] | None = Field(
        default=None,
        description="Required to serve: `kannel` (Kannel's sendsms: real SMS) or `embedded` (nothing leaves: it "
                    "records what is sent and fakes the receipts; `fengqiao up` and tests).")

    # --- the station's rules -------------------------------------------------------------------
    sms_daily_limit: int = Field(
        default=3, ge=0, le=100,
        description="No phone gets more SMS than this per local day from the station; one over is failed "
                    "`rate_limited` (0: none at all).")
    sms_opt_out_exempt: list[Purpose] = Field(
        default_factory=list, max_length=4,
        description="Purposes sent even to a phone on the opt-out list (none by default: a callback to an "
                    "opted-out party is made by phone or visit instead).")

    # --- retries -------------------------------------------------------------------------------
    sms_retry_first_s: float = Field(
        default=30.0, gt=0, description="Wait after the first send the gateway could not take; doubles each try.")
    sms_retry_longest_s: float = Field(default=600.0, gt=0, description="The longest wait between two tries.")
    sms_give_up_after_s: float = Field(
        default=7200.0, gt=0,
        description="From the first try: a message the gateway still cannot take fails `gateway_down_gave_up`.")
    sms_send_lease_s: float = Field(
        default=60.0, gt=0, description="How long a try in flight keeps other replicas off the message.")
    sms_lost_try_wait_s: float = Field(
        default=300.0, ge=0,
        description="A try whose outcome was lost (its replica stopped between handing the SMS to the gateway and "
                    "saving the answer) is tried again only after this wait for the gateway's report, so the "
                    "citizen is not sent it twice.")
    sms_send_concurrency: int = Field(default=8, ge=1, le=256, description="Sends in flight at once per replica.")

    # --- the embedded gateway --------------------------------------------------------------------
    sms_embedded_receipt_delay_s: float = Field(
        default=2.0, ge=0, description="Embedded gateway: the delivery receipt comes this long after sending.")
    sms_embedded_failing_numbers: list[str] = Field(
        default_factory=list, max_length=1000,
        description="Embedded gateway: numbers whose messages fail (`undeliverable`), for tests and staging.")

    # --- Kannel ----------------------------------------------------------------------------------
    sms_kannel_url: str = Field(
        default="http://127.0.0.1:13013", description="Kannel smsbox's sendsms address (scheme, host, port).")
    sms_kannel_username: str = Field(default="fengqiao", max_length=64, description="Kannel sendsms-user.")
    sms_kannel_password: SecretStr = Field(default=SecretStr(""), description="Kannel sendsms-user's password.")
    sms_kannel_from: str = Field(
        default="", max_length=32, description="The station's sender number or short code (empty: Kannel's default).")
    sms_kannel_timeout_s: float = Field(default=5.0, gt=0, le=60, description="One sendsms call's timeout.")
    sms_callback_url: str = Field(
        default="http://127.0.0.1:8103",
        description="notify's address as Kannel reaches it: delivery reports go to <this>/v1/sms/dlr.")
    sms_callback_token: SecretStr = Field(
        default=SecretStr(""),
        description="The token Kannel authenticates with when it hands notify a reply (get-url) or a delivery "
                    "report (dlr-url): the url's password, sent as Basic auth; an integration token of notify.")

    @model_validator(mode="after")
    def _sane_retries(self) -> SmsGatewaySettings:
        if self.sms_retry_longest_s < self.sms_retry_first_s:
            raise ValueError("sms_retry_longest_s must be at least sms_retry_first_s")
        password, token = reveal(self.sms_kannel_password), reveal(self.sms_callback_token)
        if len(password) > 256 or len(token) > 256:
            raise ValueError("sms_kannel_password and sms_callback_token are at most 256 characters")
        if self.sms_gateway == "kannel" and self.environment == "production" and not password:
            raise ValueError("the kannel gateway needs sms_kannel_password in production")
        if token and token not in self.tokens:  # Kannel's token, given once: it is an integration token
            self.tokens[token] = ["integration"]
        if self.sms_gateway == "kannel" and self.environment == "production" and not token:
            raise ValueError("the kannel gateway needs sms_callback_token in production (Kannel's replies and "
                             "delivery reports authenticate with it)")
        return self

    def refuses_to_start(self) -> str | None:
        if self.sms_gateway is None:
            return ("no SMS gateway chosen: set FQ_NOTIFY_SMS_GATEWAY=kannel (with FQ_NOTIFY_SMS_KANNEL_URL and "
                    "FQ_NOTIFY_SMS_KANNEL_PASSWORD) to send real SMS, or FQ_NOTIFY_SMS_GATEWAY=embedded to send "
                    "none (development only: receipts are faked)")
        return None
