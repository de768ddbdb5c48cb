"""The annual incentives' inputs and results: Benchmark P4P per clinic and line of business, its funding
pool, and the Care Gap earnings guarantee (docs/annual-incentives.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from shared.models.actions import LineOfBusiness


def _refuse_float(value: object) -> object:
    # A JSON number with a fraction arrives as a binary float, so 0.1 is already 0.1000000000000000055…:
    # an amount, rate or weight must be a decimal string or a whole number to be taken exactly.
    if isinstance(value, float):
        raise ValueError(
            f"{value!r} is a number with a fraction, read as a binary float and not exact: write it as a "
            f'decimal string such as "{value}" or as a whole number'
        )
    return value


_Exact = BeforeValidator(_refuse_float)
# 28 digits is Decimal's default precision: sums and differences of inputs stay exact under it.
_DIGITS = 28
_TRILLION = 10**12

Amount = Annotated[Decimal, _Exact, Field(ge=0, lt=_TRILLION, max_digits=_DIGITS)]
"""Dollars, not negative, taken exactly; any number of places (a per-member amount may carry fractions)."""

Cents = Annotated[Decimal, _Exact, Field(ge=0, lt=_TRILLION, decimal_places=2, max_digits=_DIGITS)]
"""Dollars paid or earned, not negative, to the cent."""

Percent = Annotated[Decimal, _Exact, Field(ge=0, le=100, max_digits=_DIGITS)]
"""A rate or benchmark in percent, 0 to 100."""

Points = Annotated[Decimal, _Exact, Field(gt=0, le=100, max_digits=_DIGITS)]
"""Percentage points of improvement, more than 0."""

Weight = Annotated[Decimal, _Exact, Field(gt=0, lt=_TRILLION, max_digits=_DIGITS)]
"""A measure's weight in the composite, more than 0."""

Count = Annotated[int, Field(strict=True, ge=0)]
Minimum = Annotated[int, Field(strict=True, ge=1)]
MeasureCode = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetBy(StrEnum):
    """How a counted measure was met; the benchmark takes precedence over improvement."""

    BENCHMARK = "benchmark"
    IMPROVEMENT = "improvement"


class BenchmarkMeasure(_Model):
    """One measure of a clinic's line of business: its rule (weight, benchmark, direction, improvement
    points) and the clinic's rates for the measurement year and the year before."""

    weight: Weight
    benchmark: Percent
    inverse: Annotated[bool, Field(strict=True)]
    """Lower is better: the rate meets the benchmark at or below it, and improves by falling."""
    required_improvement_points: Points
    rate: Percent | None
    prior_rate: Percent | None
    denominator: Count


class BenchmarkInput(_Model):
    """One clinic, one line of business, one measurement year of Benchmark P4P."""

    line_of_business: LineOfBusiness
    assigned_members: Count
    minimum_members: Minimum
    minimum_denominator: Minimum
    amount_per_member: Amount
    measures: dict[MeasureCode, BenchmarkMeasure]


class BenchmarkMeasureOutcome(_Model):
    """Whether a measure counted toward the composite, how it was met, and why not when it was not."""

    counted: bool
    met_by: MetBy | None
    reason: str | None = None

    @property
    def met(self) -> bool:
        return self.met_by is not None


class BenchmarkResult(_Model):
    """A clinic's Benchmark P4P payout for one line of business.

    `composite` is exact (weights met over weights counted); `payment_cents` is composite x amount per
    member x assigned members, rounded half up once. `reason` says why the payment is zero by rule (the
    clinic does not take part, or no measure counted)."""

    line_of_business: LineOfBusiness
    eligible: bool
    reason: str | None
    assigned_members: int
    measures: dict[str, BenchmarkMeasureOutcome]
    composite: Fraction = Field(ge=0, le=1)
    payment_cents: int = Field(ge=0)


class PoolClaim(_Model):
    """A clinic's claim on a funding pool: its composite and its assigned members."""

    clinic_id: Annotated[str, StringConstraints(min_length=1)]
    composite: Fraction = Field(ge=0, le=1)
    assigned_members: Count


class PoolSplit(_Model):
    """A funding pool split in proportion to composite x assigned members, in whole cents.

    `shares_cents` adds up to `pool_cents` exactly, unless no clinic has any claim (every composite or
    panel is zero): then nothing is paid and the whole pool is `undistributed_cents`."""

    pool_cents: int
    shares_cents: dict[str, int]
    undistributed_cents: int


class PoolCheck(_Model):
    """The projected Benchmark payments set against a funding pool."""

    pool_cents: int
    projected_cents: int
    over_by_cents: int
    warning: str | None

    @property
    def exceeds(self) -> bool:
        return self.over_by_cents > 0


class GuaranteeInput(_Model):
    """One clinic's year under the Care Gap earnings guarantee: when it enrolled, what Benchmark P4P
    would have paid it for the whole year, and what it earned net on Care Gap P4P that year."""

    year: Annotated[int, Field(strict=True, ge=1, le=9998)]
    enrollment_date: Annotated[date, Field(strict=True)]
    benchmark_full_year: Cents
    care_gap_earnings: Cents


class GuaranteeResult(_Model):
    """The guarantee's two parts: the prorated Benchmark bonus and the make-whole top-up."""

    year: int
    enrollment_date: date
    days: int
    days_before: int
    days_on_care_gap: int
    benchmark_full_year_cents: int
    care_gap_earnings_cents: int
    prorated_benchmark_cents: int
    equivalent_benchmark_cents: int
    make_whole_cents: int
    guarantee_total_cents: int
