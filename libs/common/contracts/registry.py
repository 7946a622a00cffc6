"""The list of public events, and their JSON Schema files under `contracts/schemas/`."""

from __future__ import annotations

import json
from pathlib import Path

from common.contracts import alerts, callbacks, cases, deadletter, disputes, objections, ratings, sms
from common.contracts.base import Event

#: every public event, in the order docs/events.md lists them
CONTRACTS: tuple[type[Event], ...] = (
    alerts.AlertReceived,
    cases.CaseAccepted,
    cases.CaseSolved,
    ratings.RatingRequested,
    alerts.AlertAssigned,
    alerts.AlertUnassigned,
    alerts.AlertReleased,
    alerts.AlertAcknowledged,
    alerts.AlertClosed,
    alerts.GridReplaced,
    alerts.UnitStatusChanged,
    disputes.DisputeOpened,
    disputes.DisputeContacted,
    disputes.DisputeEscalated,
    disputes.DisputeResolved,
    disputes.DisputeClosed,
    disputes.DisputeReopened,
    disputes.DisputeOverdue,
    disputes.DisputeFollowupDue,
    ratings.RatingSurveySent,
    ratings.RatingReceived,
    ratings.RatingDissatisfied,
    ratings.RatingFollowupOverdue,
    callbacks.CallbackScheduled,
    callbacks.CallbackSent,
    callbacks.CallbackDelivered,
    callbacks.CallbackManual,
    callbacks.CallbackCompleted,
    callbacks.CallbackOverdue,
    callbacks.CallbackSuperseded,
    objections.ObjectionOpened,
    objections.ObjectionExplained,
    objections.ObjectionEscalated,
    sms.SmsSendRequested,
    sms.SmsInbound,
    sms.SmsAnsweredNotify,
    sms.SmsAnsweredRating,
    sms.SmsDelivery,
    sms.SmsDeliveryNotify,
    sms.SmsDeliveryRating,
    deadletter.DeadLetter,
)

BY_SUBJECT: dict[str, type[Event]] = {c.subject: c for c in CONTRACTS if "<" not in c.subject}


def schema_filename(contract: type[Event]) -> str:
    name = "deadletter" if contract is deadletter.DeadLetter else contract.subject
    return f"{name}.v{contract.version}.json"


def json_schema(contract: type[Event]) -> dict:
    schema = contract.model_json_schema(mode="validation")
    schema["$id"] = f"https://fengqiao.example/schemas/{schema_filename(contract)}"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["x-subject"] = contract.subject
    schema["x-version"] = contract.version
    return schema


def rendered_schemas() -> dict[str, str]:
    return {
        schema_filename(c): json.dumps(json_schema(c), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        for c in CONTRACTS
    }


def write_schemas(folder: Path) -> list[str]:
    """Write every schema file; return the names that changed."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in rendered_schemas().items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    return changed
