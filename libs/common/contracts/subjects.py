"""Every subject and stream name of the platform, written once."""

from __future__ import annotations

# Inbound, from other systems (SPEC §3).
ALERTS_RECEIVED = "alerts.received"
CASES_ACCEPTED = "cases.accepted"
CASES_SOLVED = "cases.solved"
RATINGS_REQUESTED = "ratings.requested"

# Facts published by dispatch.
ALERTS_ASSIGNED = "alerts.assigned"
ALERTS_UNASSIGNED = "alerts.unassigned"
ALERTS_RELEASED = "alerts.released"
ALERTS_ACKNOWLEDGED = "alerts.acknowledged"
ALERTS_CLOSED = "alerts.closed"
GRID_REPLACED = "grid.replaced"
UNITS_STATUS_CHANGED = "units.status_changed"
#: core NATS only (no stream): replicas of dispatch telling each other the units' places they take and give back
DISPATCH_UNIT_LOAD = "dispatch.internal.unit_load"

# Facts published by mediation.
DISPUTES_OPENED = "disputes.opened"
DISPUTES_CONTACTED = "disputes.contacted"
DISPUTES_ESCALATED = "disputes.escalated"
DISPUTES_RESOLVED = "disputes.resolved"
DISPUTES_CLOSED = "disputes.closed"
DISPUTES_REOPENED = "disputes.reopened"
DISPUTES_OVERDUE = "disputes.overdue"
DISPUTES_FOLLOWUP_DUE = "disputes.followup_due"

# Facts published by rating.
RATINGS_SURVEY_SENT = "ratings.survey_sent"
RATINGS_RECEIVED = "ratings.received"
RATINGS_DISSATISFIED = "ratings.dissatisfied"
RATINGS_FOLLOWUP_OVERDUE = "ratings.followup_overdue"

# Facts published by notify about callbacks (案件回访).
CALLBACKS_SCHEDULED = "callbacks.scheduled"
CALLBACKS_SENT = "callbacks.sent"
CALLBACKS_DELIVERED = "callbacks.delivered"
CALLBACKS_MANUAL = "callbacks.manual"
CALLBACKS_COMPLETED = "callbacks.completed"
CALLBACKS_OVERDUE = "callbacks.overdue"
CALLBACKS_SUPERSEDED = "callbacks.superseded"
#: a party objects to a callback (异议): the officer explains (说理式执法), or leadership takes it
CALLBACKS_OBJECTION_OPENED = "callbacks.objection_opened"
CALLBACKS_OBJECTION_EXPLAINED = "callbacks.objection_explained"
CALLBACKS_OBJECTION_ESCALATED = "callbacks.objection_escalated"

# The SMS gateway (notify): a command in, facts out.
SMS_SEND = "sms.send"
#: every inbound SMS, for other systems: no service of ours reads it (the gateway tells owners their answers)
SMS_INBOUND = "sms.inbound"
#: receipts of SMS asked for by a requester that has no subject of its own (other systems)
SMS_DELIVERY = "sms.delivery"
#: an inbound SMS the gateway matched to a question, told to that question's owner only
SMS_ANSWERED_NOTIFY = "sms.answered.notify"
SMS_ANSWERED_RATING = "sms.answered.rating"
#: what became of an SMS, told to the service that asked for it only
SMS_DELIVERY_NOTIFY = "sms.delivery.notify"
SMS_DELIVERY_RATING = "sms.delivery.rating"

DEADLETTER_PREFIX = "deadletter"


def deadletter_subject(subject: str) -> str:
    """Where a message on `subject` goes when it cannot be processed."""
    return f"{DEADLETTER_PREFIX}.{subject}"


#: JetStream streams and the subjects each one captures.
STREAMS: dict[str, list[str]] = {
    "ALERTS": ["alerts.>"],
    "DISPATCH": ["grid.>", "units.>"],
    "DISPUTES": ["disputes.>"],
    "CASES": ["cases.>"],
    "CALLBACKS": ["callbacks.>"],
    "RATINGS": ["ratings.>"],
    "SMS": ["sms.>"],
    "DEADLETTER": [f"{DEADLETTER_PREFIX}.>"],
}


def stream_for(subject: str) -> str:
    prefix = subject.split(".", 1)[0]
    for name, patterns in STREAMS.items():
        if any(p.split(".", 1)[0] == prefix for p in patterns):
            return name
    raise KeyError(f"no stream captures {subject!r}")
