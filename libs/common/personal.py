"""Personal data (phone and ID numbers): whole to the roles that act on a case, masked for every other.

SPEC §4: the duty desk, officers, mediators and admins see them whole, one record at a time;
every other role, every listing and every log sees them masked (138****8000,
3503**********1234). A record shown whole is noted on the caller's `Principal` (its ids), and
the audit trail records it after the response (`common.audit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common.logs import mask_phones

if TYPE_CHECKING:
    from common.auth import Principal

#: roles that act on a case, and so see phone and ID numbers whole (SPEC §4); others see them masked
PERSONAL_DATA_ROLES = frozenset({"admin", "duty_desk", "officer", "mediator"})

_PERSONAL_KEYS = frozenset({"phone", "caller_phone", "id_number"})
#: how many ids of one response the audit trail keeps
_MAX_IDS = 50


def _mask_value(key: str, value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    if key == "id_number":
        return value[:4] + "*" * max(len(value) - 8, 0) + value[-4:] if len(value) > 8 else "*" * len(value)
    return mask_phones(value) if mask_phones(value) != value else value[:3] + "****" + value[-4:]


def masked(data: Any) -> Any:
    """`data` with every phone and ID number masked (138****8000, 3503**********1234), at any depth,
    in free text too."""
    if isinstance(data, dict):
        return {k: _mask_value(k, v) if k in _PERSONAL_KEYS else masked(v) for k, v in data.items()}
    if isinstance(data, list):
        return [masked(v) for v in data]
    if isinstance(data, str):
        return mask_phones(data)  # a phone written into a note or a summary
    return data


def has_personal_data(data: Any) -> bool:
    """Whether `data` holds a phone or ID number (a key named so with a value), at any depth."""
    if isinstance(data, dict):
        return any((k in _PERSONAL_KEYS and bool(v)) or has_personal_data(v) for k, v in data.items())
    if isinstance(data, list):
        return any(has_personal_data(v) for v in data)
    return False


def ids_of(data: Any) -> list[str]:
    """The ids a response is about: its own `*_id` fields (not those of nested records), at most 50."""
    if isinstance(data, dict):
        return [f"{k}={v}" for k, v in data.items() if k.endswith("_id") and isinstance(v, str | int)][:_MAX_IDS]
    return []


def personal(data: Any, principal: Principal, *, listing: bool = False,
             whole_for: frozenset[str] | None = None) -> Any:
    """What `principal` may see of `data`: whole for the roles that act on it (`whole_for` when a route
    names its own, e.g. leadership calling back the dissatisfied), one by one; masked otherwise.
    Shown whole, its ids are noted for the audit trail."""
    sees = bool(principal.roles & whole_for) if whole_for is not None else principal.sees_personal_data
    if sees and not listing:
        if has_personal_data(data):
            principal.shown_whole.extend(ids_of(data) or ["(no id)"])
        return data
    return masked(data)
