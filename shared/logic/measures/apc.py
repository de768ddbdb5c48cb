"""The APC measure set for one member-year: each rate's populations (the quality measures, through the
one engine) and each utilization or cost rate's contribution (AHU, EDU, TCOC), from the member's evidence.

The rates are program data (`data/measures/programs/apc.json`), named by table 3's codes; a practice's
rates are the sums of its members' parts (`shared/logic/apc_rates.py`). Who counts where is the annual
run's: it calls `apc_member_year` once per member and practice, with the months of the year the member was
attributed to that practice, and asks for the proportion rates (`quality=True`) only at the practice the
member's quality measures count at.

A utilization or cost contribution is the member's events (AHU discharges, EDU visits) or standardized
cost in cents (TCOC) in those months, the months themselves when the member is in the measure's population
(age band; not in hospice for AHU and EDU), and the sum over those months of the member's age/sex factor
(the seed's table, age on the month's first day, as Element 2 reads it), which the practice-level risk
adjustment divides by.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from shared.logic.measures.context import Ctx, RecordIndex
from shared.logic.measures.outcome import MeasureOutcome, Populations
from shared.logic.measures.records import records_of
from shared.logic.measures.utilization import UTILIZATION_DEFINITIONS, claim_lines, evaluate_utilization
from shared.logic.phm import age_on, first_day
from shared.logic.rates import MeasureDefinitionMissingError, member_outcomes, menu_code_sets
from shared.models.actions import Sex
from shared.models.members import MemberFacts
from shared.programs.apc import ApcProgram, IncentiveMeasure, MeasureKind, TrackingMeasure
from shared.programs.care_gap import CareGapProgram
from shared.programs.measures import MeasureCatalog, RatedMeasure, ValueSets, measure_catalog

PROGRAM = "apc"
WHOLE = ""
"""The part name of a rate counted whole (not in parts)."""
_GENDERS = {Sex.F: "female", Sex.M: "male"}


class ApcMonthsError(ValueError):
    """Attributed months that are not months of the measurement year (or are listed twice)."""


@dataclass(frozen=True, slots=True)
class Contribution:
    """A member's part of a utilization or cost rate over the months it counts in, or (summed) a
    practice's: member months, the sum of the age/sex factor over them, events (AHU, EDU), standardized
    cost in cents (TCOC) and the lines without a price or an allowed amount (they cost nothing)."""

    member_months: int = 0
    factor_months: Decimal = Decimal(0)
    events: int = 0
    cost_cents: int = 0
    unpriced_lines: int = 0

    def __add__(self, other: Contribution) -> Contribution:
        return Contribution(
            member_months=self.member_months + other.member_months,
            factor_months=self.factor_months + other.factor_months,
            events=self.events + other.events,
            cost_cents=self.cost_cents + other.cost_cents,
            unpriced_lines=self.unpriced_lines + other.unpriced_lines,
        )


@dataclass(frozen=True)
class ApcMemberYear:
    """One member-year's APC results: per quality rate its engine outcome and the populations it counts
    (`parts`: `WHOLE` for a rate counted whole, else per part, DSF-E's `screening` and `follow_up`), and
    per utilization or cost rate the member's contribution."""

    outcomes: dict[str, MeasureOutcome] = field(default_factory=dict)
    parts: dict[str, dict[str, Populations]] = field(default_factory=dict)
    contributions: dict[str, Contribution] = field(default_factory=dict)


def apc_rated_measures(
    program: ApcProgram, catalog: MeasureCatalog | None = None
) -> tuple[RatedMeasure, ...]:
    """The APC rates (`programs/apc.json`), checked against the program version: every incentive and
    tracking measure has a rate of its code, and a utilization or cost measure's rate counts events (a
    quality measure's, populations). `MeasureDefinitionMissingError` names what does not hold."""
    rated = (catalog or measure_catalog()).rated(PROGRAM)
    by_code = {r.rate.rate: r for r in rated}
    problems = []
    measures: list[IncentiveMeasure | TrackingMeasure] = [
        *program.incentive.measures,
        *program.incentive.tracking_measures,
    ]
    for measure in measures:
        item = by_code.get(measure.code)
        if item is None:
            problems.append(f"{measure.code} has no rate in programs/apc.json")
            continue
        quality = measure.kind is MeasureKind.QUALITY
        if quality != (item.definition.scoring == "proportion"):
            problems.append(
                f"{measure.code} is a {measure.kind.value} measure; {item.definition.name} is not"
            )
    if problems:
        raise MeasureDefinitionMissingError(f"{program.version}: {'; '.join(problems)}")
    return rated


_NO_EXPANSIONS = ValueSets()
_BUILT: dict[tuple[str, int], tuple[ValueSets, ValueSets]] = {}


def apc_valuesets(care_gap: CareGapProgram, expansions: ValueSets | None = None) -> ValueSets:
    """The value sets the APC rates match with: the VSAC expansions given (none by default) and the Care
    Gap menu's claim codes that programs/apc.json names for them. Built once per menu version and
    expansions."""
    base = expansions if expansions is not None else _NO_EXPANSIONS
    key = (care_gap.version, id(base))
    cached = _BUILT.get(key)
    if cached is not None and cached[0] is base:
        return cached[1]
    built = base.with_codes(measure_catalog().code_set_codes(PROGRAM, menu_code_sets(care_gap)))
    if len(_BUILT) >= 8:
        _BUILT.clear()
    _BUILT[key] = (base, built)
    return built


def rate_populations(item: RatedMeasure, outcome: MeasureOutcome) -> dict[str, Populations]:
    """The populations a rate counts: per part for a rate in parts; for a combination, the member is in it
    when in every component's population and meets it when it meets every component; else the rate's group
    or component (`MeasureOutcome.part`)."""
    rate = item.rate
    if rate.parts:
        return {name: outcome.components[name] for name in rate.parts}
    if rate.combination:
        chosen = [outcome.components[name] for name in rate.combination]
        return {
            WHOLE: Populations(
                initial_population=all(c.initial_population for c in chosen),
                denominator=all(c.denominator for c in chosen),
                denominator_exclusion=any(c.denominator_exclusion for c in chosen),
                numerator=all(c.numerator for c in chosen),
            )
        }
    return {WHOLE: outcome.part(group=rate.group, component=rate.component)}


def _months(months: Iterable[str], year: int) -> list[date]:
    found = []
    for month in months:
        day = first_day(month)
        if day.year != year:
            raise ApcMonthsError(f"{month} is not a month of {year}")
        found.append(day)
    if len(set(found)) != len(found):
        raise ApcMonthsError("a month is listed twice")
    return sorted(found)


def apc_member_year(
    facts: MemberFacts,
    rated: Sequence[RatedMeasure],
    *,
    year: int,
    months: Iterable[str],
    program: ApcProgram,
    valuesets: ValueSets,
    known_by: date | None = None,
    quality: bool = True,
) -> ApcMemberYear:
    """One member's APC results for the calendar year `year` at one practice: the proportion rates'
    outcomes and parts (when `quality`), and the utilization and cost rates' contributions over `months`
    (`YYYY-MM`, the months of `year` the member was attributed to the practice), from the evidence the
    plan knew of by `known_by` (None: all of it). Factors and prices are the program version's
    (`risk_adjustment`, `incentive.standard_prices`)."""
    attributed = _months(months, year)
    proportions = [r for r in rated if r.definition.scoring == "proportion"]
    utilization = [r for r in rated if r.definition.scoring == "utilization"]
    result = ApcMemberYear()
    if quality and proportions:
        outcomes = member_outcomes(facts, proportions, year=year, valuesets=valuesets, known_by=known_by)
        result.outcomes.update(outcomes)
        result.parts.update({r.rate.rate: rate_populations(r, outcomes[r.rate.rate]) for r in proportions})
    if not utilization:
        return result
    profile = facts.profile
    ctx = Ctx(
        birth=profile.birth_date,
        gender=_GENDERS.get(profile.gender) if profile.gender is not None else None,
        first=date(year, 1, 1),
        last=date(year, 12, 31),
        index=RecordIndex(records_of(facts.evidence, known_by), valuesets),
        common=measure_catalog().common,
    )
    lines = claim_lines(facts.evidence, known_by)
    risk = program.risk_adjustment
    factors = {
        day.month: risk.band(age_on(profile.birth_date, day)).factor(profile.gender) for day in attributed
    }
    prices = program.incentive.standard_prices
    for item in utilization:
        definition = item.definition
        assert isinstance(definition, UTILIZATION_DEFINITIONS)
        outcome = evaluate_utilization(ctx, lines, definition, year, prices)
        if not outcome.counted or not factors:
            result.contributions[item.rate.rate] = Contribution()
            continue
        result.contributions[item.rate.rate] = Contribution(
            member_months=len(factors),
            factor_months=sum(factors.values(), Decimal(0)),
            events=sum(outcome.events.get(m, 0) for m in factors),
            cost_cents=sum(outcome.cost_cents.get(m, 0) for m in factors),
            unpriced_lines=sum(outcome.unpriced_lines.get(m, 0) for m in factors),
        )
    return result
