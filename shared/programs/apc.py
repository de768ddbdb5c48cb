"""The California Advanced Primary Care (APC) common payment model's program versions, as data.

A version holds the seed's tables (`seeds/apc-common-payment-model.txt`): the measure set (table 3) with
each measure's improvement range, attainment threshold and gold standard (table 4) and its shares of the
total incentive per practice type (tables 4 and 5), the validity minimums, the age/sex factors and the HPI
uplift, the population-health PMPM and its technical-assistance requirements, Element 1's capitated and
fee-for-service codes per track (tables 1 and 2), the attribution code sets, and TCOC's standardized prices
(`incentive.standard_prices`). The seed gives no PMPM and no price: the shipped version's amounts are
illustrative (`"example": true`, and its `note`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.models.actions import Sex
from shared.models.apc import Month, Product
from shared.models.members import ApcPaymentTrack, PracticeType
from shared.programs.care_gap import DATA_DIR
from shared.programs.versions import VersionCatalog, VersionedProgram

PROGRAM = "apc"

Percent = Annotated[Decimal, Field(ge=0, le=100)]
Positive = Annotated[Decimal, Field(gt=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MeasureKind(StrEnum):
    """Table 3's measure type: validity counts a denominator for quality, member months for the others."""

    QUALITY = "quality"
    UTILIZATION = "utilization"
    COST = "cost"


class Population(StrEnum):
    """Table 3's Adult/Pediatric column."""

    ADULT = "adult"
    PEDIATRIC = "pediatric"
    BOTH = "both"


class Component(StrEnum):
    """The parts of a measure scored in halves (DSF-E)."""

    SCREENING = "screening"
    FOLLOW_UP = "follow_up"


class Levels(_Frozen):
    """Table 4: `mpt` is the Improvement Range's lower end (its worse end for an inverse measure), then
    the Attainment Threshold and the Attainment Gold Standard, in the measure's units."""

    mpt: Decimal = Field(ge=0)
    threshold: Decimal = Field(ge=0)
    gold: Decimal = Field(ge=0)

    def check(self, inverse: bool, what: str) -> None:
        better = (self.mpt, self.threshold, self.gold)
        if inverse:
            better = (self.gold, self.threshold, self.mpt)
        if not (better[0] <= better[1] and better[1] < better[2]):
            direction = "mpt ≥ threshold > gold (lower is better)" if inverse else "mpt ≤ threshold < gold"
            raise ValueError(f"{what}: the levels must run {direction}")


class Shares(_Frozen):
    """A measure's percent of the total incentive for one practice type: improvement (table 4),
    threshold and gold standard (table 5)."""

    improvement: Percent
    threshold: Percent
    gold: Percent

    @model_validator(mode="after")
    def _ordered(self) -> Shares:
        if not self.improvement <= self.threshold <= self.gold:
            raise ValueError("shares must run improvement ≤ threshold ≤ gold")
        return self


class IncentiveMeasure(_Frozen):
    """One of table 3's incentive measures. A measure has `levels`, or `components` each with its own
    (DSF-E: scored per component with half of each share). It applies to the practice types it has
    shares for."""

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    kind: MeasureKind
    population: Population
    inverse: bool
    equity_sensitive: bool = Field(default=False, description="table 3's asterisk (QTI)")
    levels: Levels | None = None
    components: dict[Component, Levels] | None = None
    shares: dict[PracticeType, Shares] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> IncentiveMeasure:
        if (self.levels is None) == (self.components is None):
            raise ValueError(f"{self.code}: give levels or components, not both or neither")
        for name, levels in self.parts():
            levels.check(self.inverse, f"{self.code} {name}".strip())
            if self.kind is MeasureKind.QUALITY and levels.mpt > 100:
                raise ValueError(f"{self.code}: a quality measure's levels are percents")
        return self

    def parts(self) -> tuple[tuple[str, Levels], ...]:
        """The levels scored: ("", levels) for a measure, each (component, levels) for one in parts."""
        if self.components is not None:
            return tuple((c.value, levels) for c, levels in self.components.items())
        assert self.levels is not None
        return (("", self.levels),)


class TrackingMeasure(_Frozen):
    """Table 3's tracking measures: computed and reported, never paid."""

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    kind: MeasureKind
    population: Population


class Validity(_Frozen):
    """The smallest denominator that makes a result valid: by population for quality measures, in member
    months for utilization and cost."""

    quality_minimum_denominator: dict[Population, Annotated[int, Field(ge=1)]]
    utilization_and_cost_minimum_member_months: int = Field(ge=1)

    @model_validator(mode="after")
    def _every_population(self) -> Validity:
        missing = set(Population) - set(self.quality_minimum_denominator)
        if missing:
            raise ValueError(f"no quality minimum for {', '.join(sorted(missing))}")
        return self

    def minimum(self, measure: IncentiveMeasure) -> int:
        if measure.kind is MeasureKind.QUALITY:
            return self.quality_minimum_denominator[measure.population]
        return self.utilization_and_cost_minimum_member_months


Price = Annotated[Decimal, Field(ge=0, decimal_places=2)]
"""A standardized price in dollars, to the cent."""


class StandardPrices(_Frozen):
    """TCOC's standardized prices, which the plan supplies: per line by HCPCS/CPT code, per institutional
    line by revenue code when its HCPCS code has no price, and per inpatient stay by MS-DRG (the stay's
    lines then cost nothing more). A line with no price here costs its allowed amount."""

    hcpcs: dict[Annotated[str, Field(pattern=r"^[0-9A-Z]{5}$")], Price] = {}
    revenue_center: dict[Annotated[str, Field(pattern=r"^[0-9]{4}$")], Price] = {}
    ms_drg: dict[Annotated[str, Field(pattern=r"^[0-9]{3}$")], Price] = {}


class Incentive(_Frozen):
    """Element 3: the measures in table 3's order, the tracking measures, validity, the incentive PMPM
    (the maximum per member month), the target when fewer than half the measures are valid, the share
    of the gap to gold that improvement must close, and TCOC's standardized prices."""

    max_pmpm: Positive
    reduced_target_percent: Percent
    improvement_gap_closure_percent: Percent
    measures: tuple[IncentiveMeasure, ...] = Field(min_length=1)
    tracking_measures: tuple[TrackingMeasure, ...] = ()
    validity: Validity
    standard_prices: StandardPrices = StandardPrices()
    data_runout_months: int = Field(
        default=3,
        ge=0,
        le=12,
        description="months after the measurement year whose data still count (the seed: three of runout)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Incentive:
        codes = [m.code for m in self.measures] + [m.code for m in self.tracking_measures]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"a measure code is listed twice: {', '.join(twice)}")
        for practice_type in PracticeType:
            if not any(practice_type in m.shares for m in self.measures):
                raise ValueError(f"no measure applies to {practice_type.value} practices")
        return self

    def applicable(self, practice_type: PracticeType) -> tuple[IncentiveMeasure, ...]:
        """The measures of a practice type, in table 3's order."""
        return tuple(m for m in self.measures if practice_type in m.shares)

    def measure(self, code: str) -> IncentiveMeasure | None:
        return next((m for m in self.measures if m.code == code), None)


class AgeSexBand(_Frozen):
    """One row of the age/gender factors: `min_age` ≤ age < `max_age` (no `max_age`: and older)."""

    min_age: int = Field(ge=0)
    max_age: int | None = None
    female: Positive
    male: Positive
    unknown: Positive

    def factor(self, gender: Sex | None) -> Decimal:
        if gender is Sex.F:
            return self.female
        if gender is Sex.M:
            return self.male
        return self.unknown


class RiskAdjustment(_Frozen):
    """Clinical risk (age/sex factors, bands from age 0 without gaps, the last open) and social risk (the
    practice's HPI decile's upward adjustment, in percent, for every decile 1 to 10)."""

    age_sex_factors: tuple[AgeSexBand, ...] = Field(min_length=1)
    hpi_uplift_percent: dict[Annotated[int, Field(ge=1, le=10)], Percent]

    @model_validator(mode="after")
    def _complete(self) -> RiskAdjustment:
        start = 0
        for band in self.age_sex_factors:
            if band.min_age != start:
                raise ValueError(f"age bands must follow on from {start} without gaps or overlaps")
            if band.max_age is None:
                break
            if band.max_age <= band.min_age:
                raise ValueError(f"band {band.min_age}-{band.max_age} is empty")
            start = band.max_age
        if self.age_sex_factors[-1].max_age is not None or any(
            b.max_age is None for b in self.age_sex_factors[:-1]
        ):
            raise ValueError("only the last age band is open-ended, and it must be")
        if set(self.hpi_uplift_percent) != set(range(1, 11)):
            raise ValueError("hpi_uplift_percent must give every decile 1 to 10")
        return self

    def band(self, age: int) -> AgeSexBand:
        """The band holding `age` (whole years, not negative)."""
        return next(b for b in self.age_sex_factors if b.max_age is None or age < b.max_age)

    def uplift(self, decile: int | None) -> Decimal:
        """The HPI uplift as a fraction (0.05 for 5%); none without a decile."""
        return Decimal(0) if decile is None else self.hpi_uplift_percent[decile] / 100


class TaRequirement(_Frozen):
    """An ongoing technical-assistance requirement: `count` activities of a kind (the `ta_engagement`
    file's `activity`, status completed) each month or quarter, in every month or only in `months`."""

    requirement: str = Field(min_length=1)
    activity: str = Field(min_length=1)
    count: int = Field(ge=1)
    per: Literal["month", "quarter"]
    months: tuple[Month, ...] = ()


class TechnicalAssistance(_Frozen):
    """The engagement that gates the population-health payment: onboarding activities complete by
    `onboarding_complete_by` for the onboarding quarter to pay, and the ongoing requirements."""

    onboarding_activities: tuple[str, ...] = Field(min_length=1)
    onboarding_complete_by: date
    onboarding_quarter: str = Field(pattern=r"^\d{4}-Q[1-4]$")
    ongoing: tuple[TaRequirement, ...]


class PopulationHealth(_Frozen):
    """Element 2: PMPM x age/sex factor x (1 + HPI uplift), paid quarterly for TA-compliant months."""

    pmpm: Positive
    payment_frequency: Literal["quarterly"]
    technical_assistance: TechnicalAssistance


_SHAPE = re.compile(r"^([A-Z]*)(\d+)([A-Z]*)$")


def _shape(code: str) -> tuple[str, int, str, int] | None:
    """A code's letters before, number, letters after and length: "G0008" → ("G", 8, "", 5)."""
    found = _SHAPE.match(code)
    if found is None:
        return None
    return found.group(1), int(found.group(2)), found.group(3), len(code)


class ServiceCodes(_Frozen):
    """A set of HCPCS/CPT codes as the seed writes them: `patterns` where `x` is any digit ("992xx",
    "Jxxxx", "xxxxT"), inclusive `ranges` of codes of one shape ("99300" to "99499", "G0008" to "G0010"), and
    single `codes`."""

    patterns: tuple[Annotated[str, Field(pattern=r"^[0-9A-Zx]{5}$")], ...] = ()
    ranges: tuple[tuple[str, str], ...] = ()
    codes: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _ranges(self) -> ServiceCodes:
        for low, high in self.ranges:
            a, b = _shape(low), _shape(high)
            if a is None or b is None or (a[0], a[2], a[3]) != (b[0], b[2], b[3]) or a[1] > b[1]:
                raise ValueError(f"range {low}-{high} must run up between codes of one shape")
        return self

    @cached_property
    def _compiled(self) -> tuple[re.Pattern[str] | None, tuple[tuple[str, str, int, int, int], ...]]:
        pattern = "|".join(re.escape(p).replace("x", r"\d") for p in self.patterns)
        ranges = []
        for low, high in self.ranges:
            a, b = _shape(low), _shape(high)
            assert a is not None and b is not None
            ranges.append((a[0], a[2], a[3], a[1], b[1]))
        return (re.compile(f"^(?:{pattern})$") if pattern else None), tuple(ranges)

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        if code in self.codes:
            return True
        pattern, ranges = self._compiled
        if pattern is not None and pattern.match(code):
            return True
        shape = _shape(code) if ranges else None
        return shape is not None and any(
            (before, after, length) == (shape[0], shape[2], shape[3]) and low <= shape[1] <= high
            for before, after, length, low, high in ranges
        )


class NamedServiceCodes(ServiceCodes):
    """Service codes under the seed's name for them ("Annual well visits")."""

    name: str = Field(min_length=1)


class CapitatedRow(_Frozen):
    """A row of table 1 or 2: the services covered under capitation and the ones it pays fee-for-service."""

    name: str = Field(min_length=1)
    codes: ServiceCodes
    fee_for_service: tuple[NamedServiceCodes, ...] = ()


class DirectServicesTrack(_Frozen):
    """One Element 1 track: its capitation PMPM (none for FFS+), the capitated rows, and what the table
    lists as fee-for-service besides ("All other direct, billable services" are fee-for-service anyway)."""

    track: ApcPaymentTrack
    capitation_pmpm: Positive | None = None
    capitated: tuple[CapitatedRow, ...] = ()
    fee_for_service: tuple[NamedServiceCodes, ...] = ()

    def exceptions(self) -> Iterator[NamedServiceCodes]:
        """Every fee-for-service set of the track, the rows' and the track's own."""
        for row in self.capitated:
            yield from row.fee_for_service
        yield from self.fee_for_service


class DirectServices(_Frozen):
    """Element 1: the tracks a practice may be on with the plan."""

    tracks: tuple[DirectServicesTrack, ...] = Field(min_length=1)

    def track(self, track: ApcPaymentTrack) -> DirectServicesTrack | None:
        return next((t for t in self.tracks if t.track == track), None)


class AttributionRules(_Frozen):
    """The common attribution methodology: which products prefer the selected/matched PCP, the claims
    lookback, and the primary-care definition (service codes, places of service, specialties)."""

    selected_pcp_products: frozenset[Product]
    lookback_months: int = Field(ge=1)
    primary_care_services: ServiceCodes
    primary_care_places_of_service: frozenset[Annotated[str, Field(pattern=r"^\d{2}$")]]
    primary_care_taxonomies: frozenset[Annotated[str, Field(pattern=r"^[0-9A-Z]{9}X$")]]


class ApcProgram(VersionedProgram):
    """One version of the APC common payment model."""

    program: Literal["apc"]
    incentive: Incentive
    risk_adjustment: RiskAdjustment
    population_health: PopulationHealth
    direct_services: DirectServices
    attribution: AttributionRules
    funding_pool: Decimal | None = Field(
        default=None, ge=0, description="the year's budget, in dollars: approval warns when it is exceeded"
    )
    refuse_approval_over_pool: bool = Field(
        default=False, description="approval refuses a run whose projected year exceeds the pool"
    )


class ApcCatalog(VersionCatalog[ApcProgram]):
    """Every version of the APC model."""

    program_name = PROGRAM

    def latest(self) -> ApcProgram:
        """The version starting last (what the design calculators score with)."""
        if not self.versions:
            raise LookupError("no apc program version is loaded")
        return self.versions[-1]


def parse_apc(text: str) -> ApcProgram:
    """Validate one APC version file's JSON text."""
    return ApcProgram.model_validate(json.loads(text))


@lru_cache(maxsize=4)
def load_apc(data_dir: Path = DATA_DIR) -> ApcCatalog:
    """Load and validate every packaged APC version (`data/apc/*.json`)."""
    files = sorted((data_dir / PROGRAM).glob("*.json"))
    return ApcCatalog(parse_apc(f.read_text(encoding="utf-8")) for f in files)
