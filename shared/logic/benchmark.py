"""Benchmark P4P: a clinic's composite and payout for one line of business, and the funding pool split.

Arithmetic is exact (`Fraction`) until the one half-up rounding to the cent, so a payment never rests
on a rounded composite. The rules, and the table of boundaries the tests pin, are in
docs/annual-incentives.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction

from shared.errors import DomainError
from shared.logic.money import format_cents, parse_dollars
from shared.models.actions import LineOfBusiness
from shared.models.incentives import (
    BenchmarkInput,
    BenchmarkMeasure,
    BenchmarkMeasureOutcome,
    BenchmarkResult,
    MetBy,
    PoolCheck,
    PoolClaim,
    PoolSplit,
)

BENCHMARK_LINES = frozenset({LineOfBusiness.MC, LineOfBusiness.CA})
"""FAQ Q1.7: Benchmark P4P is offered for Medi-Cal and CareAdvantage, not for HealthWorx."""

COMPOSITE_PLACES = 6

_HALF = Fraction(1, 2)


class InvalidPoolError(DomainError):
    """A funding pool or its claims cannot be split: a negative pool, fractions of a cent, a clinic twice."""


def half_up(value: Fraction) -> int:
    """The nearest integer to a value that is not negative, halves rounded up."""
    return math.floor(value + _HALF)


def benchmark_payout(clinic: BenchmarkInput) -> BenchmarkResult:
    """One clinic's Benchmark P4P payment for one line of business.

    The clinic takes part when the line is offered and its assigned members reach the minimum; a measure
    counts when it has a rate and its denominator reaches the minimum; the composite is the weight of
    the met measures over the weight of the counted ones; the payment is composite x amount per member x
    assigned members, rounded half up to the cent once."""
    not_taking_part = _not_taking_part(clinic)
    if not_taking_part is not None:
        # A clinic that does not take part has no counted measure, so its composite is 0 by the same rule.
        absent = BenchmarkMeasureOutcome(counted=False, met_by=None, reason="the clinic does not take part")
        return BenchmarkResult(
            line_of_business=clinic.line_of_business,
            eligible=False,
            reason=not_taking_part,
            assigned_members=clinic.assigned_members,
            measures=dict.fromkeys(clinic.measures, absent),
            composite=Fraction(0),
            payment_cents=0,
        )
    outcomes = {code: _outcome(m, clinic.minimum_denominator) for code, m in clinic.measures.items()}
    counted = sum(
        (Fraction(m.weight) for c, m in clinic.measures.items() if outcomes[c].counted), Fraction(0)
    )
    met = sum((Fraction(m.weight) for c, m in clinic.measures.items() if outcomes[c].met), Fraction(0))
    composite = met / counted if counted else Fraction(0)
    dollars = composite * Fraction(clinic.amount_per_member) * clinic.assigned_members
    return BenchmarkResult(
        line_of_business=clinic.line_of_business,
        eligible=True,
        reason=None if counted else _none_counted(clinic),
        assigned_members=clinic.assigned_members,
        measures=outcomes,
        composite=composite,
        payment_cents=half_up(dollars * 100),
    )


def format_composite(composite: Fraction) -> str:
    """The composite as a decimal string: exact when it ends within 6 places ("0.75", "1", "0"), else
    rounded half up to 6 places ("0.666667")."""
    scaled = composite * 10**COMPOSITE_PLACES
    if scaled.denominator == 1:
        return format(Decimal(scaled.numerator).scaleb(-COMPOSITE_PLACES).normalize(), "f")
    return format(Decimal(half_up(scaled)).scaleb(-COMPOSITE_PLACES), "f")


def pool_claim(clinic_id: str, result: BenchmarkResult) -> PoolClaim:
    """A clinic's claim on the funding pool from its payout (a clinic that does not take part claims 0)."""
    return PoolClaim(
        clinic_id=clinic_id, composite=result.composite, assigned_members=result.assigned_members
    )


def split_pool(pool: Decimal, claims: Sequence[PoolClaim]) -> PoolSplit:
    """Split a funding pool in proportion to composite x assigned members, in whole cents that add up to
    the pool: each clinic gets its exact share rounded down, and the cents left over go one each to the
    largest remainders, ties to the lower clinic id."""
    pool_cents = _pool_cents(pool)
    ids = [c.clinic_id for c in claims]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidPoolError(f"a clinic claims on the pool twice: {', '.join(twice)}")
    weights = {c.clinic_id: c.composite * c.assigned_members for c in claims}
    total = sum(weights.values(), Fraction(0))
    if total == 0:
        return PoolSplit(
            pool_cents=pool_cents, shares_cents=dict.fromkeys(ids, 0), undistributed_cents=pool_cents
        )
    exact = {i: pool_cents * w / total for i, w in weights.items()}
    shares = {i: math.floor(share) for i, share in exact.items()}
    left_over = pool_cents - sum(shares.values())
    by_remainder = sorted(ids, key=lambda i: (-(exact[i] - shares[i]), i))
    for clinic_id in by_remainder[:left_over]:
        shares[clinic_id] += 1
    return PoolSplit(pool_cents=pool_cents, shares_cents=shares, undistributed_cents=0)


def check_pool(pool: Decimal, payments_cents: Iterable[int]) -> PoolCheck:
    """Set the projected total of the (non-pool) payments against a funding pool; warn when it is over."""
    pool_cents = _pool_cents(pool)
    projected = sum(payments_cents)
    over_by = max(0, projected - pool_cents)
    warning = (
        f"projected Benchmark P4P payments {format_cents(projected)} exceed the funding pool "
        f"{format_cents(pool_cents)} by {format_cents(over_by)}"
        if over_by
        else None
    )
    return PoolCheck(pool_cents=pool_cents, projected_cents=projected, over_by_cents=over_by, warning=warning)


def _not_taking_part(clinic: BenchmarkInput) -> str | None:
    if clinic.line_of_business not in BENCHMARK_LINES:
        return f"Benchmark P4P is not offered for line of business {clinic.line_of_business.value}"
    if clinic.assigned_members < clinic.minimum_members:
        return (
            f"{clinic.assigned_members} assigned members, below the minimum of {clinic.minimum_members} "
            f"for {clinic.line_of_business.value}"
        )
    return None


def _none_counted(clinic: BenchmarkInput) -> str:
    return (
        f"no measure counted (each needs a rate and a denominator of at least "
        f"{clinic.minimum_denominator}), so the composite is 0"
    )


def _outcome(measure: BenchmarkMeasure, minimum_denominator: int) -> BenchmarkMeasureOutcome:
    if measure.denominator < minimum_denominator:
        return BenchmarkMeasureOutcome(
            counted=False,
            met_by=None,
            reason=f"denominator {measure.denominator} below the minimum of {minimum_denominator}",
        )
    if measure.rate is None:
        return BenchmarkMeasureOutcome(counted=False, met_by=None, reason="no rate")
    rate, benchmark = Fraction(measure.rate), Fraction(measure.benchmark)
    if (rate <= benchmark) if measure.inverse else (rate >= benchmark):
        return BenchmarkMeasureOutcome(counted=True, met_by=MetBy.BENCHMARK)
    side = "above" if measure.inverse else "below"
    short = f"rate {measure.rate} {side} the benchmark {measure.benchmark}"
    if measure.prior_rate is None:
        return BenchmarkMeasureOutcome(counted=True, met_by=None, reason=f"{short}, and no prior rate")
    prior = Fraction(measure.prior_rate)
    improvement = (prior - rate) if measure.inverse else (rate - prior)
    if improvement >= Fraction(measure.required_improvement_points):
        return BenchmarkMeasureOutcome(counted=True, met_by=MetBy.IMPROVEMENT)
    return BenchmarkMeasureOutcome(
        counted=True,
        met_by=None,
        reason=(
            f"{short}, and an improvement of {_points(improvement)} points on the prior rate "
            f"{measure.prior_rate}, short of the {measure.required_improvement_points} required"
        ),
    )


def _points(value: Fraction) -> str:
    # Differences of exact decimals terminate, so this is exact.
    return format(Decimal(value.numerator) / Decimal(value.denominator), "f")


def _pool_cents(pool: Decimal) -> int:
    if not pool.is_finite() or pool < 0:
        raise InvalidPoolError(f"a funding pool must be an amount of at least 0, not {pool}")
    try:
        return parse_dollars(str(pool))
    except ValueError:
        raise InvalidPoolError(f"a funding pool is whole cents, not {pool}") from None
