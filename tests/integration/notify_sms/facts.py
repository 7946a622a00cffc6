"""What the SMS gateway told, as JetStream keeps it: once per msg id.

A core subscription also sees a fact published twice (a replica or a receipt publishing what a
save left staged a moment earlier); JetStream drops the repeat by its msg id.
"""

from __future__ import annotations

from tests.support import Recorder


def told(recorder: Recorder, sms_id: str) -> list[str]:
    """The states told of one message, in order, once each."""
    seen = {m: b["status"] for s, b, m in recorder.messages if s.startswith("sms.delivery") and b["sms_id"] == sms_id}
    return list(seen.values())


def facts(recorder: Recorder, status: str) -> dict[str, dict]:
    """The facts of one status, by msg id."""
    return {m: b for s, b, m in recorder.messages if s.startswith("sms.delivery") and b["status"] == status}
