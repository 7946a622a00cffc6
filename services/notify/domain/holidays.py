"""Working days for the holiday extension of a callback deadline (法定节假日顺延).

A day is a *rest day* when it is a public holiday, or a Saturday/Sunday that is not an adjusted
working day (调休上班). Sources are asked in order, the first that covers the day's year answers:

1. the station's calendar file (`StationCalendar`, format below), when the station supplies one;
2. the `chinesecalendar` package (`ChineseCalendar`), which covers 2004–2026 (version 1.11; it
   raises NotImplementedError for later years, read here as "not covered");
3. nothing: a year neither covers counts in plain calendar days, and `extend_to_working_day`
   returns a warning the caller logs. Never an error.

The station calendar file is TOML, one table per year; both keys are optional and default to
empty, and a year's table, even empty, means "this year is covered: only weekends rest"::

    [2027]
    holidays = ["2027-01-01", "2027-02-06", "2027-02-07"]   # public holidays, any weekday
    workdays = ["2027-02-14"]                               # adjusted working Saturdays/Sundays

Refused with `CalendarFileError` naming the line (TOML syntax, bad dates) or the key: a table
name that is not a year, an unknown key, a value that is not a list of "YYYY-MM-DD" strings, a
date outside its year's table, a date listed as both holiday and workday, a workday that is
not a Saturday or Sunday.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

MAX_EXTENSION_DAYS = 31  # no holiday run is that long: a longer one means broken data, so count calendar days
_KEYS = ("holidays", "workdays")


class CalendarFileError(ValueError):
    """The station calendar file is malformed; the message names the line or the key."""


class WorkCalendar(Protocol):
    """A source of rest days. `is_rest_day` answers None for a year it does not cover."""

    def is_rest_day(self, day: date) -> bool | None: ...


def _is_weekend(day: date) -> bool:
    return day.weekday() >= 5


@dataclass(frozen=True)
class StationCalendar:
    """The station's own calendar: per covered year, its public holidays and adjusted workdays."""

    years: frozenset[int]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def is_rest_day(self, day: date) -> bool | None:
        if day.year not in self.years:
            return None
        if day in self.holidays:
            return True
        return _is_weekend(day) and day not in self.workdays


def parse_station_calendar(text: str, *, source: str = "calendar file") -> StationCalendar:
    """The station calendar of a TOML text (see the module docstring); `source` names it in errors."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarFileError(f"{source}: not valid TOML: {exc}") from exc
    years: set[int] = set()
    days: dict[str, set[date]] = {key: set() for key in _KEYS}
    for name, table in doc.items():
        if not (name.isdigit() and len(name) == 4):
            raise CalendarFileError(f"{source}: [{name}] is not a year; tables are named like [2027]")
        if not isinstance(table, Mapping):
            raise CalendarFileError(f"{source}: {name} must be a table [{name}] with holidays/workdays lists")
        year = int(name)
        years.add(year)
        for key, values in table.items():
            if key not in _KEYS:
                raise CalendarFileError(f"{source}: [{name}] has unknown key {key!r}; expected holidays, workdays")
            days[key] |= _dates(values, year=year, where=f"{name}.{key}", text=text, source=source)
    both = days["holidays"] & days["workdays"]
    if both:
        raise CalendarFileError(f"{source}: {_listed(both)} listed both as holiday and as workday")
    weekdays = {day for day in days["workdays"] if not _is_weekend(day)}
    if weekdays:
        raise CalendarFileError(
            f"{source}: workdays are adjusted working Saturdays/Sundays, not weekdays: {_listed(weekdays)}"
        )
    return StationCalendar(frozenset(years), frozenset(days["holidays"]), frozenset(days["workdays"]))


def _dates(values: Any, *, year: int, where: str, text: str, source: str) -> set[date]:
    if not isinstance(values, list):
        raise CalendarFileError(f'{source}: {where} must be a list of dates like "{year}-10-01"')
    found: set[date] = set()
    for index, value in enumerate(values):
        place = f"{source}: {where}[{index}]{_line_of(value, text)}"
        if not isinstance(value, str):
            raise CalendarFileError(f'{place}: {value!r} is not a date string like "{year}-10-01"')
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise CalendarFileError(f"{place}: {value!r} is not a date written YYYY-MM-DD") from None
        if len(value) != 10:
            raise CalendarFileError(f"{place}: {value!r} is not a date written YYYY-MM-DD")
        if day.year != year:
            raise CalendarFileError(f"{place}: {value} is not in {year}")
        found.add(day)
    return found


def _line_of(value: Any, text: str) -> str:
    """' (line N)' of the first line holding the value as written, for a value error; '' if not found."""
    needle = f'"{value}"' if isinstance(value, str) else str(value)
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return f" (line {number})"
    return ""


def _listed(days: Iterable[date]) -> str:
    return ", ".join(day.isoformat() for day in sorted(days))


class ChineseCalendar:
    """The `chinesecalendar` package's data (State Council holiday notices). A missing package, or a
    year it does not know, answers None."""

    def is_rest_day(self, day: date) -> bool | None:
        try:
            import chinese_calendar
        except ImportError:
            return None
        try:
            return bool(chinese_calendar.is_holiday(day))
        except NotImplementedError:
            return None


@dataclass(frozen=True)
class Extension:
    """The last day after the holiday extension, and the warnings for the caller to log."""

    day: date
    warnings: tuple[str, ...] = field(default=())


def extend_to_working_day(last_day: date, sources: Sequence[WorkCalendar]) -> Extension:
    """`last_day`, or the first working day after it when it is a rest day (first source covering a
    year answers). A day no source covers counts as a working day, with a warning."""
    day = last_day
    for _ in range(MAX_EXTENSION_DAYS):
        rest = next((answer for answer in (s.is_rest_day(day) for s in sources) if answer is not None), None)
        if rest is None:
            warning = (
                f"no holiday calendar covers {day.year}: the deadline on {day.isoformat()} is counted in"
                " calendar days; supply a station calendar file for that year"
            )
            return Extension(day, (warning,))
        if not rest:
            return Extension(day)
        day += timedelta(days=1)
    warning = (
        f"{MAX_EXTENSION_DAYS} rest days in a row from {last_day.isoformat()}: the calendar is wrong, the deadline"
        " is counted in calendar days"
    )
    return Extension(last_day, (warning,))
