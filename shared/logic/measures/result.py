"""Population results, combined the way proportion measures are scored."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from shared.logic.measures.common import Ctx
from shared.logic.measures.fhir import Interval, PatientRecord, Resource, day_interval
from shared.logic.measures.valuesets import ValueSetIndex

# MeasureReport population codes, in the order a report lists them.
POPULATION_CODES = (
    ("initial_population", "initial-population"),
    ("denominator", "denominator"),
    ("denominator_exclusion", "denominator-exclusion"),
    ("numerator", "numerator"),
    ("numerator_exclusion", "numerator-exclusion"),
    ("denominator_exception", "denominator-exception"),
)


@dataclass(frozen=True)
class GroupResult:
    """One group's populations for one patient (0/1 each); None where the measure has no such population."""

    initial_population: int
    denominator: int
    denominator_exclusion: int
    numerator: int
    denominator_exception: int | None = None
    numerator_exclusion: int | None = None

    def counts(self) -> dict[str, int]:
        """Population code → count, for the populations this group has."""
        return {code: value for attr, code in POPULATION_CODES if (value := getattr(self, attr)) is not None}


@dataclass(frozen=True)
class PopulationResult:
    """A patient's result for a measure: one group per rate (most measures have one)."""

    groups: tuple[GroupResult, ...] = field(default_factory=tuple)

    @property
    def initial_population(self) -> int:
        return self.groups[0].initial_population

    @property
    def denominator(self) -> int:
        return self.groups[0].denominator

    @property
    def denominator_exclusion(self) -> int:
        return self.groups[0].denominator_exclusion

    @property
    def numerator(self) -> int:
        return self.groups[0].numerator

    @property
    def denominator_exception(self) -> int | None:
        return self.groups[0].denominator_exception


Check = Callable[[], bool]


def proportion(
    initial_population: bool,
    exclusion: Check,
    numerator: Check,
    exception: Check | None = None,
    denominator: Check | None = None,
) -> GroupResult:
    """Score one patient: exclusions leave the numerator, exceptions count only outside the numerator."""
    ip = bool(initial_population)
    den = ip and (denominator() if denominator else True)
    excluded = den and exclusion()
    met = den and not excluded and numerator()
    excepted = None
    if exception is not None:
        excepted = int(den and not excluded and not met and exception())
    return GroupResult(int(ip), int(den), int(excluded), int(met), excepted)


def period_of(period: Interval | tuple[date, date]) -> Interval:
    """A measurement period given as an interval or as (first day, last day)."""
    if isinstance(period, Interval):
        return period
    return day_interval(period[0], period[1])


def context(
    patient_resources: PatientRecord | Iterable[Resource],
    period: Interval | tuple[date, date],
    valuesets: ValueSetIndex,
) -> Ctx:
    """The evaluation context of one patient."""
    record = (
        patient_resources
        if isinstance(patient_resources, PatientRecord)
        else PatientRecord.from_resources(patient_resources)
    )
    return Ctx(record=record, period=period_of(period), vs=valuesets)
