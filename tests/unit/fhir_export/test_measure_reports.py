"""DEQM summary MeasureReports of a clinic's rates, and the individual report `p4p measure-report` prints."""

from __future__ import annotations

import json

import pytest

from shared.logic.fhir_export import (
    ExportInputError,
    Naming,
    PopulationCounts,
    RateMeasure,
    benchmark_measures,
    individual_report,
    summary_report,
    summary_reports,
)
from shared.logic.fhir_export.resources import clinic_organization
from shared.logic.measures.outcome import MeasureOutcome, Populations
from shared.models.runs import MeasureCount
from shared.programs.benchmark import load_benchmark
from shared.programs.measures import measure_catalog
from tests.unit.fhir_export.conftest import GENERATED, RUN_ID, make_clinic
from tests.unit.fhir_export.fhir import codings, extension, populations, validated

DEQM = "http://hl7.org/fhir/us/davinci-deqm"
NPI = "http://hl7.org/fhir/sid/us-npi"


def _benchmark_2026() -> dict[str, RateMeasure]:
    program = load_benchmark().for_year(2026)
    assert program is not None
    return benchmark_measures(program)


def _reports(counts: list[MeasureCount], naming: Naming) -> list[dict]:
    return summary_reports(
        run_id=RUN_ID,
        year=2026,
        counts=counts,
        measures=_benchmark_2026(),
        reporter=clinic_organization(make_clinic(), naming),
        generated=GENERATED,
        naming=naming,
    )


def test_a_measure_rated_on_two_lines_gives_one_report_with_a_stratum_per_line(naming: Naming) -> None:
    # GIVEN the run's BCS-E counts of one clinic: Medi-Cal 30 of 40, CareAdvantage 5 of 10
    counts = [
        MeasureCount(clinic_id="K1", action="BCS-E", line_of_business="MC", denominator=40, numerator=30),
        MeasureCount(clinic_id="K1", action="BCS-E", line_of_business="CA", denominator=10, numerator=5),
    ]
    # WHEN its summary reports are built
    (report,) = [validated(r) for r in _reports(counts, naming)]
    # THEN it is a complete DEQM summary of the CMS definition for the measurement year
    assert report["meta"]["profile"] == [f"{DEQM}/StructureDefinition/summary-measurereport-deqm"]
    assert (report["status"], report["type"]) == ("complete", "summary")
    assert report["measure"] == measure_catalog().get("BCS-E").url
    assert report["period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    assert report["date"] == GENERATED.isoformat()
    scoring = extension(report, f"{DEQM}/StructureDefinition/extension-measureScoring")
    assert codings(scoring["valueCodeableConcept"]) == {
        ("http://terminology.hl7.org/CodeSystem/measure-scoring", "proportion")
    }
    assert codings(report["improvementNotation"]) == {
        ("http://terminology.hl7.org/CodeSystem/measure-improvement-notation", "increase")
    }
    # AND the reporter is the clinic, named by its NPI
    assert report["reporter"]["identifier"] == {"system": NPI, "value": "1234567893"}
    # AND the group adds the lines up (50 rated, 35 met: 0.7), each line a stratum with its own score
    (group,) = report["group"]
    assert populations(group) == {"denominator": 50, "numerator": 35}
    assert group["measureScore"]["value"] == 0.7
    (stratifier,) = group["stratifier"]
    strata = {s["value"]["text"]: s for s in stratifier["stratum"]}
    assert list(strata) == ["CA", "MC"]
    assert populations(strata["CA"]) == {"denominator": 10, "numerator": 5}
    assert strata["CA"]["measureScore"]["value"] == 0.5
    assert populations(strata["MC"]) == {"denominator": 40, "numerator": 30}
    assert strata["MC"]["measureScore"]["value"] == 0.75


def test_reports_come_one_per_measure_in_code_order(naming: Naming) -> None:
    # GIVEN counts of three measures, given out of order
    counts = [
        MeasureCount(clinic_id="K1", action=code, line_of_business="MC", denominator=3, numerator=1)
        for code in ("SPC", "BCS-E", "GSD")
    ]
    # WHEN the summary reports are built
    reports = [validated(r) for r in _reports(counts, naming)]
    # THEN there is one per measure, by code, with distinct ids
    assert [r["group"][0]["code"]["text"] for r in reports] == ["BCS-E", "GSD", "SPC"]
    assert len({r["id"] for r in reports}) == 3


def test_a_measure_where_lower_is_better_says_decrease() -> None:
    # GIVEN Benchmark 2026's metrics, GSD (HbA1c poor control) the one marked inverse
    program = load_benchmark().for_year(2026)
    assert program is not None
    inverse = {m.code for m in program.measures if m.inverse}
    # WHEN they are mapped to measure definitions
    measures = benchmark_measures(program)
    # THEN every metric names a CMS definition's canonical and only the inverse ones decrease
    urls = {d.url for d in measure_catalog().definitions.values()}
    assert set(measures) == {m.code for m in program.measures}
    assert all(m.url in urls for m in measures.values())
    assert {code for code, m in measures.items() if m.decrease} == inverse == {"GSD"}
    assert measures["GSD"].url == measure_catalog().get("GSD").url


def test_populations_tallied_from_members_keep_exclusions(naming: Naming) -> None:
    # GIVEN four members' populations: met; excluded; in the denominator, not met; outside it
    members = [
        Populations(True, True, False, True),
        Populations(True, True, True, False),
        Populations(True, True, False, False),
        Populations(True, False, False, False),
    ]
    # WHEN they are tallied and reported
    counts = PopulationCounts.tally(members)
    report = validated(
        summary_report(
            run_id=RUN_ID,
            year=2026,
            measure=RateMeasure("BCS-E", measure_catalog().get("BCS-E").url),
            by_line={"": counts},
            reporter=clinic_organization(make_clinic(), naming),
            generated=GENERATED,
            naming=naming,
        )
    )
    # THEN each population counts its members, in the report's order, and the score leaves the excluded out
    (group,) = report["group"]
    assert list(populations(group).items()) == [
        ("initial-population", 4),
        ("denominator", 3),
        ("denominator-exclusion", 1),
        ("numerator", 1),
    ]
    assert group["measureScore"]["value"] == 0.5
    # AND counts that are not per line have no stratifier
    assert "stratifier" not in group


def test_an_empty_denominator_has_no_score(naming: Naming) -> None:
    # GIVEN a measure nobody was rated on
    counts = PopulationCounts(initial_population=2, denominator=2, denominator_exclusion=2, numerator=0)
    # WHEN it is reported
    report = validated(
        summary_report(
            run_id=RUN_ID,
            year=2026,
            measure=RateMeasure("BCS-E", measure_catalog().get("BCS-E").url),
            by_line={"": counts},
            reporter=clinic_organization(make_clinic(), naming),
            generated=GENERATED,
            naming=naming,
        )
    )
    # THEN its populations are there and no score is made up
    assert "measureScore" not in report["group"][0]
    assert populations(report["group"][0])["denominator-exclusion"] == 2


def test_a_count_of_a_measure_without_a_definition_is_refused(naming: Naming) -> None:
    # GIVEN a count naming a code no metric has
    counts = [MeasureCount(clinic_id="K1", action="XYZ", denominator=1, numerator=1)]
    # WHEN the reports are built
    # THEN it is refused, naming the code
    with pytest.raises(ExportInputError, match="XYZ"):
        _reports(counts, naming)


def test_the_same_counts_give_the_same_reports(naming: Naming) -> None:
    # GIVEN one set of counts
    counts = [MeasureCount(clinic_id="K1", action="CBP", line_of_business="MC", denominator=9, numerator=4)]
    # WHEN the reports are built twice
    first, second = _reports(counts, naming), _reports(list(reversed(counts)), naming)
    # THEN they are identical to the byte
    assert json.dumps(first) == json.dumps(second)


def test_the_individual_report_validates_and_lists_the_members_populations() -> None:
    # GIVEN a member's outcome for a two-group measure, one with an exception population
    groups = (Populations(True, True, False, True), Populations(True, True, False, False, True))
    outcome = MeasureOutcome(measure="SPC", year=2025, groups=groups)
    # WHEN the individual report `p4p measure-report` prints is built
    report = validated(
        individual_report(measure_url="https://example.org/Measure/x", patient_id="M1", outcome=outcome)
    )
    # THEN it is an individual report of the patient, each group with the member's 0/1 counts
    assert (report["type"], report["subject"]) == ("individual", {"reference": "Patient/M1"})
    assert [populations(g) for g in report["group"]] == [g.counts() for g in groups]
