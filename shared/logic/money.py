"""Money: the one place where SVUs become cents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_ONE = Decimal(1)
_HUNDRED = Decimal(100)


def amount_cents(*, svu: Decimal, multiplier: Decimal, bonus_rate: Decimal, dollar_rate: Decimal) -> int:
    """svu x multiplier x (1 + bonus_rate) x dollar_rate, in whole cents.

    Rounding happens here and only here, once per ledger entry, half up; totals are sums of these
    integers, so statements, ledger and payment file agree to the cent by construction.
    """
    dollars = svu * multiplier * (_ONE + bonus_rate) * dollar_rate
    return int((dollars * _HUNDRED).quantize(_ONE, rounding=ROUND_HALF_UP))


def format_cents(cents: int) -> str:
    """Cents as a dollar string with two places, e.g. 12345 -> "123.45", -5 -> "-0.05"."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def parse_dollars(text: str) -> int:
    """A dollar string with at most two places as cents; inverse of `format_cents`."""
    value = Decimal(text)
    cents = value * _HUNDRED
    if cents != cents.to_integral_value():
        raise ValueError("more than two decimal places")
    return int(cents)
