from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.logic.money import amount_cents, format_cents, parse_dollars


@pytest.mark.parametrize(
    ("svu", "multiplier", "bonus", "rate", "cents"),
    [
        (Decimal("10"), Decimal("1"), Decimal("0"), Decimal("1"), 1000),
        (Decimal("0.005"), Decimal("1"), Decimal("0"), Decimal("1"), 1),  # half a cent rounds up
        (Decimal("0.004"), Decimal("1"), Decimal("0"), Decimal("1"), 0),
        (Decimal("0.025"), Decimal("1"), Decimal("0"), Decimal("1"), 3),  # half up, not to even
        (Decimal("12.345"), Decimal("1.5"), Decimal("0.20"), Decimal("1"), 2222),  # 22.221
        (Decimal("10"), Decimal("2"), Decimal("0.20"), Decimal("0.85"), 2040),
    ],
)
def test_amount_cents_rounds_half_up_once(svu, multiplier, bonus, rate, cents):
    # GIVEN an award's factors
    # WHEN it is priced
    result = amount_cents(svu=svu, multiplier=multiplier, bonus_rate=bonus, dollar_rate=rate)
    # THEN the product is rounded half up to whole cents
    assert result == cents


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_format_and_parse_are_inverse(cents):
    # GIVEN any amount in cents
    # WHEN it is written as dollars and read back
    text = format_cents(cents)
    # THEN nothing is lost
    assert parse_dollars(text) == cents


def test_parse_dollars_refuses_fractions_of_a_cent():
    # GIVEN an amount with three decimal places
    # WHEN it is parsed
    # THEN it is refused rather than rounded silently
    with pytest.raises(ValueError):
        parse_dollars("1.005")
