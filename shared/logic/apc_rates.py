"""A practice's APC rates for the measurement year, in the units of the seed's table 4, from its members'
parts (`shared.logic.measures.apc.apc_member_year`) summed.

- **Quality** (percent): 100 x numerator / denominator, members in the rate's denominator and how many
  met it. A rate in parts (DSF-E) has a rate per part; its denominator (what validity reads) is its first
  part's (DSF-E's screening: the members eligible).
- **AHU, EDU** (per 1,000 member-years, risk adjusted): observed = events x 12,000 / member months; the
  practice's mean age/sex factor = Σ factor over its member months / member months; the rate = observed /
  mean factor = events x 12,000 / Σ factor months. The denominator is member months.
- **TCOC** (dollars PMPM, risk adjusted): observed = cost / member months; the rate = observed / mean
  factor = cost / Σ factor months, in dollars. The denominator is member months.

Arithmetic is exact (`Fraction`) until the rate, which is rounded half up to four decimal places
(`RATE_PLACES`, as Benchmark's rates): 86.99995% reads 87.0000 and meets a threshold of 87. The observed
rate and the mean factor are reported the same way; the rate is computed from the sums, never from them.
A rate with no denominator (no members, or no member months) is None: the measure has no result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from shared.logic.measures.apc import WHOLE, ApcMemberYear, Contribution
from shared.models.apc import ComponentRate, MeasureRates
from shared.programs.measures import RatedMeasure

RATE_PLACES = 4
"""Decimal places of a rate, rounded half up."""
_SCALE = 10**RATE_PLACES


class RateUnit(StrEnum):
    """Table 4's units."""

    PERCENT = "percent"
    PER_1000_MEMBER_YEARS = "per_1000_member_years"
    DOLLARS_PMPM = "dollars_pmpm"


_UNITS = {
    "acute_hospital_utilization": RateUnit.PER_1000_MEMBER_YEARS,
    "emergency_department_utilization": RateUnit.PER_1000_MEMBER_YEARS,
    "total_cost_of_care": RateUnit.DOLLARS_PMPM,
}


def rate_unit(item: RatedMeasure) -> RateUnit:
    """The unit of a rate: percent for a proportion, per 1,000 member-years for AHU and EDU, dollars PMPM
    for TCOC."""
    return _UNITS.get(item.definition.logic, RateUnit.PERCENT)


@dataclass(frozen=True, slots=True)
class ProportionCount:
    """A quality rate's (or part's) members in the denominator and how many met it."""

    denominator: int = 0
    numerator: int = 0

    def __add__(self, other: ProportionCount) -> ProportionCount:
        return ProportionCount(self.denominator + other.denominator, self.numerator + other.numerator)


@dataclass
class PracticeSums:
    """A practice's sums over its member-years: per quality rate and part the counts, per utilization or
    cost rate the contributions. Shards' sums add (`merge`)."""

    proportions: dict[str, dict[str, ProportionCount]] = field(default_factory=dict)
    contributions: dict[str, Contribution] = field(default_factory=dict)

    def add(self, member: ApcMemberYear) -> None:
        """Count one member-year: in a part's denominator when rated, in its numerator when met."""
        for rate, parts in member.parts.items():
            counts = self.proportions.setdefault(rate, {})
            for name, populations in parts.items():
                if populations.rated:
                    counts[name] = counts.get(name, ProportionCount()) + ProportionCount(
                        1, int(populations.met)
                    )
                else:
                    counts.setdefault(name, ProportionCount())
        for rate, contribution in member.contributions.items():
            self.contributions[rate] = self.contributions.get(rate, Contribution()) + contribution

    def merge(self, other: PracticeSums) -> PracticeSums:
        """These sums and another's together (neither changes)."""
        merged = PracticeSums(
            {rate: dict(parts) for rate, parts in self.proportions.items()}, dict(self.contributions)
        )
        for rate, parts in other.proportions.items():
            counts = merged.proportions.setdefault(rate, {})
            for name, count in parts.items():
                counts[name] = counts.get(name, ProportionCount()) + count
        for rate, contribution in other.contributions.items():
            merged.contributions[rate] = merged.contributions.get(rate, Contribution()) + contribution
        return merged


@dataclass(frozen=True)
class PracticeRate:
    """One rate of a practice in table 4's units. `denominator`: members (quality) or member months (AHU,
    EDU, TCOC); `numerator`: members who met it, events, or cost in cents. `rate` is None without a
    denominator. Utilization and cost also report the rate before risk adjustment (`observed`) and the
    practice's mean age/sex factor; a rate in parts (DSF-E) carries its parts and no rate of its own."""

    code: str
    unit: RateUnit
    denominator: int
    numerator: int
    rate: Decimal | None
    observed: Decimal | None = None
    mean_factor: Decimal | None = None
    parts: dict[str, PracticeRate] = field(default_factory=dict)


def round_rate(value: Fraction) -> Decimal:
    """A rate to `RATE_PLACES` places, halves rounded away from zero (up, for the rates' positive
    values)."""
    scaled = value * _SCALE
    whole = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    if value < 0:
        whole = -((-scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator))
    return Decimal(whole).scaleb(-RATE_PLACES)


def _percent(code: str, count: ProportionCount) -> PracticeRate:
    rate = round_rate(Fraction(100 * count.numerator, count.denominator)) if count.denominator else None
    return PracticeRate(code, RateUnit.PERCENT, count.denominator, count.numerator, rate)


def _adjusted(code: str, unit: RateUnit, total: Contribution) -> PracticeRate:
    amount = total.events if unit is RateUnit.PER_1000_MEMBER_YEARS else total.cost_cents
    # Per 1,000 member-years: x 12 months x 1,000; dollars PMPM: cents / 100.
    per = Fraction(12_000) if unit is RateUnit.PER_1000_MEMBER_YEARS else Fraction(1, 100)
    months, factors = total.member_months, Fraction(total.factor_months)
    if months == 0 or factors == 0:
        return PracticeRate(code, unit, months, amount, None)
    return PracticeRate(
        code,
        unit,
        months,
        amount,
        rate=round_rate(amount * per / factors),
        observed=round_rate(amount * per / months),
        mean_factor=round_rate(factors / months),
    )


def practice_rates(sums: PracticeSums, rated: Sequence[RatedMeasure]) -> dict[str, PracticeRate]:
    """Every rate of `rated` for one practice from its sums, in `rated`'s order (a rate no member counted
    in has a zero denominator and no rate)."""
    found = {}
    for item in rated:
        code, unit = item.rate.rate, rate_unit(item)
        if unit is not RateUnit.PERCENT:
            found[code] = _adjusted(code, unit, sums.contributions.get(code, Contribution()))
            continue
        counts = sums.proportions.get(code, {})
        if not item.rate.parts:
            found[code] = _percent(code, counts.get(WHOLE, ProportionCount()))
            continue
        parts = {
            name: _percent(f"{code} {name}", counts.get(name, ProportionCount())) for name in item.rate.parts
        }
        first = parts[item.rate.parts[0]]
        found[code] = PracticeRate(code, unit, first.denominator, first.numerator, None, parts=parts)
    return found


def measure_rates(rate: PracticeRate, baseline: PracticeRate | None = None) -> MeasureRates | None:
    """A practice rate as the incentive calculator reads it (`shared.logic.apc_incentive`), with the prior
    year's as its baseline; None when it has no result (no denominator, or a part without one: DSF-E with
    no positive screening has no follow-up rate)."""
    if rate.parts:
        components = {}
        for name, part in rate.parts.items():
            if part.rate is None:
                return None
            before = baseline.parts.get(name) if baseline is not None else None
            components[name] = ComponentRate(
                rate=part.rate, baseline=before.rate if before is not None else None
            )
        return MeasureRates(denominator=rate.denominator, **components)
    if rate.rate is None:
        return None
    return MeasureRates(
        denominator=rate.denominator,
        rate=rate.rate,
        baseline=baseline.rate if baseline is not None else None,
    )


def incentive_measures(
    rates: Mapping[str, PracticeRate],
    codes: Sequence[str],
    baselines: Mapping[str, PracticeRate] | None = None,
) -> dict[str, MeasureRates]:
    """The `IncentiveInput.measures` of a practice: each of `codes` (the incentive measures its practice
    type is paid on) that has a result, with its baseline where the prior year's rates have one."""
    found = {}
    for code in codes:
        rate = rates.get(code)
        if rate is None:
            continue
        converted = measure_rates(rate, (baselines or {}).get(code))
        if converted is not None:
            found[code] = converted
    return found
