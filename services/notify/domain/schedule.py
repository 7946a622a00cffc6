"""When a callback SMS is sent, retried, or given up for a manual callback (人工回访).

Times, all decided by `SendPolicy` (a station setting; defaults in brackets):

- **allowed hours** [08:00–21:00 local, start included, end excluded]: no SMS outside them.
- **first send**: `now + delay` [0], moved to the start of the next allowed hours when outside
  them (a case accepted at 23:00 is messaged at 08:00 the next morning).
- **manual cutoff** = `due_at - manual_lead` [24 h]: the last moment an SMS may still be sent.
  A send or retry that would fall at or after it is not scheduled; the callback becomes a
  manual task for the responsible officer instead. So a manual task opens at least
  `manual_lead` before the deadline — the officer has a full day to phone or visit — except for
  a case that arrived too late for that.
- **manual task**: opened at once (its `opened_at` is now) and due at the callback's deadline,
  when the party has no phone, the gateway cannot deliver after the last retry, or no send time
  is left before the cutoff.
- **retries** [1 min, 5 min, 30 min, 2 h after each failure]: the n-th failure waits
  `retry_delays[n-1]`, then the wait moves into allowed hours; after the last delay, or when
  the retry would be at/after the cutoff: manual.
- **overdue**: at `now >= due_at` there is nothing to send: the callback is overdue at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from common.domain import require_aware
from notify.domain.deadlines import DEFAULT_ZONE

DEFAULT_RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))


@dataclass(frozen=True)
class SendPolicy:
    zone: ZoneInfo = DEFAULT_ZONE
    allowed_from: time = time(8, 0)  # first allowed local time, included
    allowed_until: time = time(21, 0)  # end of the allowed hours, excluded
    delay: timedelta = timedelta(0)  # between the case event and the first send
    retry_delays: tuple[timedelta, ...] = field(default=DEFAULT_RETRY_DELAYS)
    manual_lead: timedelta = timedelta(hours=24)  # the SMS gives up this long before the deadline

    def __post_init__(self) -> None:
        if self.allowed_from >= self.allowed_until:
            raise ValueError("allowed SMS hours must start before they end, within one day")
        if self.delay < timedelta(0) or self.manual_lead < timedelta(0):
            raise ValueError("delay and manual_lead cannot be negative")
        if any(wait <= timedelta(0) for wait in self.retry_delays):
            raise ValueError("retry delays must be positive")

    def is_allowed(self, moment: datetime) -> bool:
        """Inside the allowed hours, local time."""
        clock = moment.astimezone(self.zone).time()
        return self.allowed_from <= clock < self.allowed_until

    def next_allowed(self, moment: datetime) -> datetime:
        """`moment` if inside the allowed hours, else the start of the next allowed hours (UTC)."""
        require_aware(moment)
        local = moment.astimezone(self.zone)
        if self.is_allowed(moment):
            return moment
        day = local.date() if local.time() < self.allowed_from else local.date() + timedelta(days=1)
        return datetime.combine(day, self.allowed_from, tzinfo=self.zone).astimezone(UTC)

    def start_of_next_day(self, moment: datetime) -> datetime:
        """The start of the allowed hours on the local day after `moment` (for a rate-limited phone)."""
        require_aware(moment)
        day = moment.astimezone(self.zone).date() + timedelta(days=1)
        return datetime.combine(day, self.allowed_from, tzinfo=self.zone).astimezone(UTC)

    def manual_cutoff(self, due_at: datetime) -> datetime:
        """From this moment on no SMS is sent: the callback is a manual task."""
        return due_at - self.manual_lead

    def first_send_at(self, now: datetime, due_at: datetime) -> datetime | None:
        """When to send the first SMS, or None when no allowed time is left before the cutoff."""
        return self.send_at_or_after(now + self.delay, due_at)

    def send_at_or_after(self, moment: datetime, due_at: datetime) -> datetime | None:
        """The first allowed time from `moment`, or None when it is at or after the cutoff."""
        at = self.next_allowed(moment)
        return at if at < self.manual_cutoff(due_at) else None

    def retry_at(self, failed_at: datetime, failures: int, due_at: datetime) -> datetime | None:
        """When to retry after the `failures`-th failed send (1 = the first), or None: go manual."""
        if failures < 1:
            raise ValueError("a retry follows at least one failure")
        if failures > len(self.retry_delays):
            return None
        return self.send_at_or_after(failed_at + self.retry_delays[failures - 1], due_at)
