"""MeasureReports of the measure engine's results: one member's (individual, what `p4p measure-report` prints)
and a clinic's per measure (DEQM summary: populations and score, by line of business).

Populations are listed in the order and with the codes of `shared.logic.measures.outcome.POPULATION_CODES`,
each only where the engine gives it: a member's `Populations` have every population their measure has; the
annual run's `MeasureCount` keeps only the rated denominator (exclusions and exceptions already removed)
and the numerator, so a summary built from it reports those two.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shared.logic.fhir_export.codes import (
    DEQM_MEASURE_SCORING_EXTENSION,
    DEQM_SUMMARY_PROFILE,
    IMPROVEMENT_SYSTEM,
    POPULATION_SYSTEM,
    SCORING_SYSTEM,
    Naming,
)
from shared.logic.fhir_export.resources import (
    ExportInputError,
    Resource,
    clinic_reference,
    coding,
    concept,
    resource_id,
    timestamp,
    year_period,
)
from shared.logic.measures.outcome import POPULATION_CODES, MeasureOutcome, Populations
from shared.models.runs import MeasureCount
from shared.programs.benchmark import BenchmarkProgram
from shared.programs.measures import MeasureCatalog, measure_catalog

SCORE_PLACES = Decimal("0.000001")
"""A proportion to six places: the rates report's percentages to four."""


def population_entries(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """`group.population` of population code → count."""
    return [
        {"code": {"coding": [{"system": POPULATION_SYSTEM, "code": code}]}, "count": count}
        for code, count in counts.items()
    ]


def individual_report(*, measure_url: str, patient_id: str | None, outcome: MeasureOutcome) -> dict[str, Any]:
    """An individual MeasureReport: one group per rate, each population with its 0/1 count."""
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "individual",
        "measure": measure_url,
        "period": year_period(outcome.year),
        "group": [{"population": population_entries(group.counts())} for group in outcome.groups],
    }
    if patient_id:
        report["subject"] = {"reference": f"Patient/{patient_id}"}
    return report


@dataclass(frozen=True, slots=True)
class PopulationCounts:
    """How many members fell in each population of one measure; None where it was not counted."""

    initial_population: int | None = None
    denominator: int = 0
    denominator_exclusion: int | None = None
    numerator: int = 0
    numerator_exclusion: int | None = None
    denominator_exception: int | None = None

    @classmethod
    def of_count(cls, count: MeasureCount) -> PopulationCounts:
        """The run's count: its denominator is already the rated one, its numerator the met."""
        return cls(denominator=count.denominator, numerator=count.numerator)

    @classmethod
    def tally(cls, parts: Iterable[Populations]) -> PopulationCounts:
        """Members' populations added up (a population none of them has stays uncounted)."""
        totals: dict[str, int | None] = {f.name: None for f in fields(cls)}
        for part in parts:
            for attr, _ in POPULATION_CODES:
                value = getattr(part, attr)
                if value is not None:
                    totals[attr] = (totals[attr] or 0) + int(value)
        return cls(**{k: v for k, v in totals.items() if v is not None})

    def __add__(self, other: PopulationCounts) -> PopulationCounts:
        def add(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return PopulationCounts(
            initial_population=add(self.initial_population, other.initial_population),
            denominator=self.denominator + other.denominator,
            denominator_exclusion=add(self.denominator_exclusion, other.denominator_exclusion),
            numerator=self.numerator + other.numerator,
            numerator_exclusion=add(self.numerator_exclusion, other.numerator_exclusion),
            denominator_exception=add(self.denominator_exception, other.denominator_exception),
        )

    def counts(self) -> dict[str, int]:
        """Population code → count, for the populations counted."""
        return {code: value for attr, code in POPULATION_CODES if (value := getattr(self, attr)) is not None}

    @property
    def rated(self) -> int:
        """The score's denominator: the denominator less its exclusions and exceptions."""
        return self.denominator - (self.denominator_exclusion or 0) - (self.denominator_exception or 0)

    @property
    def score(self) -> float | None:
        """numerator / rated denominator to six places; None for an empty denominator."""
        if self.rated <= 0:
            return None
        exact = Decimal(self.numerator - (self.numerator_exclusion or 0)) / Decimal(self.rated)
        return float(exact.quantize(SCORE_PLACES, rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class RateMeasure:
    """What a rate's code (`MeasureCount.action`) reports on: the CMS definition's canonical and whether
    a lower rate is better (its numerator counts poor care, as GSD's HbA1c > 9 %)."""

    code: str
    url: str
    decrease: bool = False


def benchmark_measures(
    program: BenchmarkProgram, catalog: MeasureCatalog | None = None
) -> dict[str, RateMeasure]:
    """Each metric of a Benchmark version: the definition its rate follows and its direction."""
    found = catalog or measure_catalog()
    rates = {r.rate.rate: r for r in found.rated(program.program)}
    measures = {}
    for metric in program.measures:
        rated = rates.get(metric.rate)
        if rated is None:
            raise ExportInputError(f"{program.version}: metric {metric.code} names no rate {metric.rate}")
        measures[metric.code] = RateMeasure(metric.code, rated.definition.url, metric.inverse)
    return measures


def _score(counts: PopulationCounts) -> dict[str, Any]:
    score = counts.score
    return {} if score is None else {"measureScore": {"value": score}}


def summary_report(
    *,
    run_id: str,
    year: int,
    measure: RateMeasure,
    by_line: Mapping[str, PopulationCounts],
    reporter: Resource,
    generated: datetime,
    naming: Naming,
) -> Resource:
    """A clinic's DEQM summary MeasureReport of one measure: the lines' populations added up, the score,
    and (where the counts are per line of business) one stratum per line."""
    total = PopulationCounts()
    for counts in by_line.values():
        total = total + counts
    group: dict[str, Any] = {
        "id": "rate",
        "code": concept(coding(naming.code_system("rate"), measure.code), text=measure.code),
        "population": population_entries(total.counts()),
        **_score(total),
    }
    lines = sorted(line for line in by_line if line)
    if lines:
        group["stratifier"] = [
            {
                "code": [
                    concept(
                        coding(naming.code_system("stratifier"), "line-of-business"), text="line of business"
                    )
                ],
                "stratum": [
                    {
                        "value": concept(coding(naming.code_system("line-of-business"), line), text=line),
                        "population": population_entries(by_line[line].counts()),
                        **_score(by_line[line]),
                    }
                    for line in lines
                ],
            }
        ]
    return {
        "resourceType": "MeasureReport",
        "id": resource_id("MeasureReport", "summary", run_id, reporter["id"], measure.code),
        "meta": {"profile": [DEQM_SUMMARY_PROFILE]},
        "extension": [
            {
                "url": DEQM_MEASURE_SCORING_EXTENSION,
                "valueCodeableConcept": concept(coding(SCORING_SYSTEM, "proportion", "Proportion")),
            }
        ],
        "status": "complete",
        "type": "summary",
        "measure": measure.url,
        "date": timestamp(generated),
        "reporter": clinic_reference(reporter),
        "period": year_period(year),
        "improvementNotation": improvement(decrease=measure.decrease),
        "group": [group],
    }


def improvement(*, decrease: bool) -> dict[str, Any]:
    code = "decrease" if decrease else "increase"
    return concept(coding(IMPROVEMENT_SYSTEM, code, code.capitalize()))


def summary_reports(
    *,
    run_id: str,
    year: int,
    counts: Sequence[MeasureCount],
    measures: Mapping[str, RateMeasure],
    reporter: Resource,
    generated: datetime,
    naming: Naming,
) -> list[Resource]:
    """One clinic's summary MeasureReports, one per measure its counts name, in code order."""
    by_code: dict[str, dict[str, PopulationCounts]] = defaultdict(dict)
    for count in counts:
        lines = by_code[count.action]
        previous = lines.get(count.line_of_business, PopulationCounts())
        lines[count.line_of_business] = previous + PopulationCounts.of_count(count)
    unknown = sorted(set(by_code) - set(measures))
    if unknown:
        raise ExportInputError(f"no measure definition for {', '.join(unknown)}")
    return [
        summary_report(
            run_id=run_id,
            year=year,
            measure=measures[code],
            by_line=by_code[code],
            reporter=reporter,
            generated=generated,
            naming=naming,
        )
        for code in sorted(by_code)
    ]
