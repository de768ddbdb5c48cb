"""Benchmark P4P: the doc's boundary cases, the measure rules one by one, the pool, and properties."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.logic.benchmark import (
    InvalidPoolError,
    benchmark_payout,
    check_pool,
    format_composite,
    half_up,
    pool_claim,
    split_pool,
)
from shared.models.actions import LineOfBusiness
from shared.models.incentives import BenchmarkInput, BenchmarkMeasure, MetBy, PoolClaim
from tests.unit.incentives.cases import BENCHMARK_CASES, BenchmarkCase, clinic, measure, met_by_label


@pytest.mark.parametrize("case", BENCHMARK_CASES, ids=[c.name for c in BENCHMARK_CASES])
def test_every_row_of_the_doc_table(case: BenchmarkCase) -> None:
    # GIVEN one row of the table in docs/annual-incentives.md
    # WHEN the clinic's payout is calculated
    result = benchmark_payout(case.clinic)
    # THEN each measure, the participation, the composite and the payment are the row's
    outcomes = {code: met_by_label(o.met_by, o.counted) for code, o in result.measures.items()}
    assert outcomes == case.per_measure
    assert result.eligible is case.eligible
    assert format_composite(result.composite) == case.composite
    assert f"{Decimal(result.payment_cents) / 100:.2f}" == case.payment


def test_a_clinic_below_the_minimum_is_told_why() -> None:
    # GIVEN a Medi-Cal clinic with 99 assigned members where 100 are required
    # WHEN its payout is calculated
    result = benchmark_payout(clinic({"BCS-E": measure("60")}, members=99))
    # THEN it does not take part, and the reason names both numbers
    assert not result.eligible
    assert result.reason == "99 assigned members, below the minimum of 100 for MC"
    assert result.measures["BCS-E"].reason == "the clinic does not take part"


def test_a_measure_says_why_it_was_not_met() -> None:
    # GIVEN a measure below its benchmark that improved by less than the required points
    # WHEN the payout is calculated
    result = benchmark_payout(clinic({"BCS-E": measure("51.5", prior="50")}))
    # THEN the measure's reason gives the rate, the benchmark and the improvement short of the points
    assert result.measures["BCS-E"].reason == (
        "rate 51.5 below the benchmark 57, and an improvement of 1.5 points on the prior rate 50, "
        "short of the 2 required"
    )


def test_a_measure_that_does_not_count_is_never_met() -> None:
    # GIVEN a measure far above its benchmark and improved, but below the minimum denominator
    # WHEN the payout is calculated
    result = benchmark_payout(clinic({"BCS-E": measure("99", prior="10", denominator=29)}))
    # THEN it neither counts nor is met, and the reason names the denominator
    outcome = result.measures["BCS-E"]
    assert (outcome.counted, outcome.met_by) == (False, None)
    assert outcome.reason == "denominator 29 below the minimum of 30"


def test_no_counted_measure_says_so() -> None:
    # GIVEN a clinic taking part whose only measure has no rate
    # WHEN the payout is calculated
    result = benchmark_payout(clinic({"COL-E": measure(None)}))
    # THEN the composite is 0 and the reason says no measure counted
    assert result.eligible and result.composite == 0 and result.payment_cents == 0
    assert result.reason is not None and result.reason.startswith("no measure counted")


def test_inverse_improvement_counts_a_fall_not_a_rise() -> None:
    # GIVEN a lower-is-better measure above its benchmark whose rate rose 5 points
    worse = measure("45", benchmark="33.5", inverse=True, prior="40")
    # WHEN the payout is calculated
    result = benchmark_payout(clinic({"GSD": worse}))
    # THEN it is not met: a rise is a decline for an inverse measure
    assert result.measures["GSD"].met_by is None


def test_met_by_is_reported_in_the_plan_words() -> None:
    # GIVEN a measure met on improvement
    # WHEN the result is dumped to JSON
    dumped = benchmark_payout(clinic({"BCS-E": measure("52", prior="50")})).model_dump(mode="json")
    # THEN `met_by` is the word `improvement` and the composite an exact fraction
    assert dumped["measures"]["BCS-E"]["met_by"] == "improvement"
    assert dumped["composite"] == "1"


@pytest.mark.parametrize(
    ("composite", "text"),
    [
        (Fraction(0), "0"),
        (Fraction(1), "1"),
        (Fraction(3, 4), "0.75"),
        (Fraction(1, 64), "0.015625"),  # exactly 6 places: shown exact
        (Fraction(1, 128), "0.007813"),  # 0.0078125: 7 places, rounded half up
        (Fraction(2, 3), "0.666667"),
        (Fraction(1, 3), "0.333333"),
    ],
)
def test_composite_is_exact_within_six_places_else_rounded_half_up(composite: Fraction, text: str) -> None:
    # GIVEN a composite
    # WHEN it is written as a decimal string
    # THEN it is exact when it ends within 6 places, else rounded half up to 6
    assert format_composite(composite) == text


def test_pool_split_gives_left_over_cents_to_the_largest_remainders_ties_by_clinic_id() -> None:
    # GIVEN a $1.00 pool and three clinics with the same claim, listed out of order
    claims = [
        PoolClaim(clinic_id=i, composite=Fraction(1, 2), assigned_members=100) for i in ("K3", "K1", "K2")
    ]
    # WHEN the pool is split
    split = split_pool(Decimal("1.00"), claims)
    # THEN 33⅓ cents each: the one cent left over goes to the lowest clinic id, and the shares add up
    assert split.shares_cents == {"K1": 34, "K2": 33, "K3": 33}
    assert split.undistributed_cents == 0


def test_pool_split_is_proportional_to_composite_times_members() -> None:
    # GIVEN a $100.00 pool, one clinic at composite 1 with 100 members and one at 1/2 with 200
    claims = [
        PoolClaim(clinic_id="K1", composite=Fraction(1), assigned_members=100),
        PoolClaim(clinic_id="K2", composite=Fraction(1, 2), assigned_members=200),
        PoolClaim(clinic_id="K3", composite=Fraction(0), assigned_members=500),
    ]
    # WHEN the pool is split
    split = split_pool(Decimal("100.00"), claims)
    # THEN the first two share equally and a composite of 0 gets nothing
    assert split.shares_cents == {"K1": 5000, "K2": 5000, "K3": 0}


def test_a_pool_nobody_claims_stays_undistributed() -> None:
    # GIVEN a pool and only clinics with composite 0
    claims = [PoolClaim(clinic_id="K1", composite=Fraction(0), assigned_members=100)]
    # WHEN the pool is split
    split = split_pool(Decimal("50.00"), claims)
    # THEN nobody is paid and the whole pool is undistributed
    assert split.shares_cents == {"K1": 0}
    assert split.undistributed_cents == 5000


def test_a_clinic_that_does_not_take_part_claims_nothing_on_the_pool() -> None:
    # GIVEN a clinic below its minimum members, whose only measure is met
    result = benchmark_payout(clinic({"BCS-E": measure("60")}, members=99))
    # WHEN its pool claim is made from the payout
    claim = pool_claim("K1", result)
    # THEN it claims a composite of 0
    assert claim.composite == 0 and claim.assigned_members == 99


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        (Decimal("-1"), "at least 0"),
        (Decimal("10.005"), "whole cents"),
        (Decimal("NaN"), "at least 0"),
    ],
)
def test_a_pool_that_is_not_whole_cents_is_refused(pool: Decimal, message: str) -> None:
    # GIVEN a pool that is negative, has a fraction of a cent or is not a number
    # WHEN it is split
    # THEN it is refused with the reason
    with pytest.raises(InvalidPoolError, match=message):
        split_pool(pool, [])


def test_a_clinic_claiming_twice_is_refused() -> None:
    # GIVEN two claims by one clinic
    claims = [PoolClaim(clinic_id="K1", composite=Fraction(1), assigned_members=1)] * 2
    # WHEN the pool is split
    # THEN it is refused naming the clinic
    with pytest.raises(InvalidPoolError, match="twice: K1"):
        split_pool(Decimal("1.00"), claims)


def test_pool_check_warns_when_projected_payments_exceed_the_pool() -> None:
    # GIVEN projected payments of $1,500.01 against a $1,500.00 pool
    # WHEN they are checked
    check = check_pool(Decimal("1500.00"), [100000, 50001])
    # THEN it warns, by how much
    assert check.exceeds and check.over_by_cents == 1
    assert check.warning == (
        "projected Benchmark P4P payments 1500.01 exceed the funding pool 1500.00 by 0.01"
    )


def test_pool_check_is_quiet_at_the_pool() -> None:
    # GIVEN projected payments exactly the pool
    # WHEN they are checked
    check = check_pool(Decimal("1500.00"), [150000])
    # THEN there is no warning
    assert not check.exceeds and check.warning is None


_percent = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)
_measures = st.builds(
    BenchmarkMeasure,
    weight=st.decimals(min_value=Decimal("0.01"), max_value=100, places=2),
    benchmark=_percent,
    inverse=st.booleans(),
    required_improvement_points=st.decimals(min_value=Decimal("0.01"), max_value=20, places=2),
    rate=st.none() | _percent,
    prior_rate=st.none() | _percent,
    denominator=st.integers(min_value=0, max_value=500),
)
_clinics = st.builds(
    BenchmarkInput,
    line_of_business=st.sampled_from(LineOfBusiness),
    assigned_members=st.integers(min_value=0, max_value=100_000),
    minimum_members=st.integers(min_value=1, max_value=200),
    minimum_denominator=st.integers(min_value=1, max_value=60),
    amount_per_member=st.decimals(min_value=0, max_value=1000, places=3),
    measures=st.dictionaries(st.sampled_from(["BCS-E", "CCS-E", "COL-E", "GSD", "CBP"]), _measures),
)


@given(_clinics)
def test_payment_is_never_negative_nor_above_amount_times_members(c: BenchmarkInput) -> None:
    # GIVEN any clinic
    # WHEN its payout is calculated
    result = benchmark_payout(c)
    # THEN the payment lies between 0 and the full amount per member for every member
    ceiling = half_up(Fraction(c.amount_per_member) * c.assigned_members * 100)
    assert 0 <= result.payment_cents <= ceiling
    assert 0 <= result.composite <= 1
    # AND a measure is met only when it counts, and a clinic that does not take part is paid nothing
    assert all(o.counted for o in result.measures.values() if o.met_by is not None)
    assert result.eligible or result.payment_cents == 0


@given(_clinics)
def test_a_met_measure_meets_by_benchmark_whenever_it_reaches_it(c: BenchmarkInput) -> None:
    # GIVEN any clinic
    # WHEN its payout is calculated
    result = benchmark_payout(c)
    # THEN every measure met by improvement is one short of its benchmark
    for code, outcome in result.measures.items():
        m = c.measures[code]
        if outcome.met_by is MetBy.IMPROVEMENT:
            assert m.rate is not None
            assert (m.rate > m.benchmark) if m.inverse else (m.rate < m.benchmark)


_claims = st.lists(
    st.builds(
        PoolClaim,
        clinic_id=st.text(alphabet="K0123456789", min_size=1, max_size=4),
        composite=st.fractions(min_value=0, max_value=1, max_denominator=50),
        assigned_members=st.integers(min_value=0, max_value=5000),
    ),
    max_size=12,
    unique_by=lambda c: c.clinic_id,
)


@given(st.integers(min_value=0, max_value=10**9), _claims)
def test_pool_splits_add_up_exactly(pool_cents: int, claims: list[PoolClaim]) -> None:
    # GIVEN any pool in cents and any clinics' claims
    # WHEN the pool is split
    split = split_pool(Decimal(pool_cents) / 100, claims)
    # THEN shares and what is undistributed add up to the pool, to the cent
    assert sum(split.shares_cents.values()) + split.undistributed_cents == pool_cents
    weights = {c.clinic_id: c.composite * c.assigned_members for c in claims}
    total = sum(weights.values(), Fraction(0))
    # AND the pool is undistributed only when nobody claims, and each share is within a cent of exact
    assert split.undistributed_cents == (pool_cents if total == 0 else 0)
    for clinic_id, cents in split.shares_cents.items():
        exact = pool_cents * weights[clinic_id] / total if total else Fraction(0)
        assert exact - 1 < cents < exact + 1
