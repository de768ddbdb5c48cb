"""`p4p measure-report` on deck patients: the MeasureReport of the payment path."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from cli.ecqm_decks import load_cases
from cli.measure_report import register
from shared.programs.measures import ValueSets


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """Test app."""

    return app


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(_app(), ["measure-report", *args])
    return result.exit_code, result.output


def test_measure_report_prints_an_individual_report_matching_the_deck(deck_valuesets: ValueSets) -> None:
    # GIVEN a breast cancer screening deck patient and its expected counts
    case = next(c for c in load_cases() if c.measure == "BreastCancerScreeningFHIR")
    # WHEN the command scores the patient's folder by program code
    code, output = _run(
        "--measure", "BCS-E", "--period-start", "2025-01-01", "--period-end", "2025-12-31", str(case.folder)
    )
    # THEN it prints an individual MeasureReport with the expected populations
    assert code == 0, output
    report = json.loads(output)
    assert (report["resourceType"], report["type"]) == ("MeasureReport", "individual")
    assert report["subject"] == {"reference": f"Patient/{case.case_id}"}
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert counts == case.expected[0]


def test_several_patients_give_one_report_each_in_their_groups(deck_valuesets: ValueSets) -> None:
    # GIVEN two statin therapy deck patients (four groups each)
    cases = [c for c in load_cases() if c.measure.startswith("StatinTherapy")][:2]
    # WHEN the command scores both folders by CMS id
    code, output = _run(
        "--measure",
        "CMS347",
        "--period-start",
        "2025-01-01",
        "--period-end",
        "2025-12-31",
        *(str(c.folder) for c in cases),
    )
    # THEN there is one report per patient, each with the deck's counts in every group
    assert code == 0, output
    reports = json.loads(output)
    for case, report in zip(cases, reports, strict=True):
        groups = tuple(
            {p["code"]["coding"][0]["code"]: p["count"] for p in group["population"]}
            for group in report["group"]
        )
        assert groups == case.expected


def test_unknown_measure_is_a_usage_error() -> None:
    # GIVEN a measure name the engine does not know
    # WHEN the command is run
    code, output = _run("--measure", "XYZ", "--period-start", "2025-01-01", "--period-end", "2025-12-31", ".")
    # THEN it exits with the usage code and lists the known measures
    assert code == 2
    assert "BCS-E" in output


def test_a_period_that_is_not_a_calendar_year_is_a_usage_error(tmp_path: Path) -> None:
    # GIVEN a measurement period of half a year
    # WHEN the command is run
    code, output = _run(
        "--measure", "BCS-E", "--period-start", "2025-01-01", "--period-end", "2025-06-30", str(tmp_path)
    )
    # THEN it refuses, saying why
    assert code == 2
    assert "calendar year" in output
