"""Date helpers for rows that reach logic either as `date` values or ISO strings."""

from __future__ import annotations

from datetime import date


def optional_date(value: object) -> date | None:
    """A `date` from a date or an ISO string; None for empty."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def required_date(value: object) -> date:
    """Like `optional_date`, but an empty value is an error."""
    day = optional_date(value)
    if day is None:
        raise ValueError("required date is empty")
    return day


def month_of(day: date) -> str:
    """`YYYY-MM` of a date."""
    return f"{day.year:04d}-{day.month:02d}"


def month_end(month: str) -> date:
    """The last day of a `YYYY-MM` month: what a monthly run knows is as of then."""
    year, mon = int(month[:4]), int(month[5:7])
    return date.fromordinal(date(year + mon // 12, mon % 12 + 1, 1).toordinal() - 1)
