"""What a use case can answer besides success.

Handlers raise these; each entrypoint translates them once: the HTTP layer to 404 / 409 / 422
(`common.http`), the consume loop to dead-letter or a delayed redelivery (`common.consume`).
No handler imports either entrypoint, and this module imports no driver: which driver failures
mean "a dependency is down" is `common.failures`.
"""

from __future__ import annotations


class UseCaseError(Exception):
    """A use case did not do what was asked, for a reason the caller can read."""


class NotFound(UseCaseError):
    """The thing named does not exist (HTTP 404; an event naming it is dead-lettered)."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} not found")
        self.kind = kind
        self.ident = ident


class Refused(UseCaseError):
    """The rules refuse the command in the present state (HTTP 409; an event is dead-lettered)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Invalid(UseCaseError):
    """A field of the request breaks a rule that the schema alone cannot state (HTTP 422 naming the field)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Conflict(UseCaseError):
    """Others kept changing the same thing while we tried (HTTP 409 "try again"; an event is redelivered)."""
