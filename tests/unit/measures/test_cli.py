"""`p4p measure-report` on a deck patient."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from cli.measure_report import register
from shared.logic.measures.deck import load_cases
from shared.logic.measures.valuesets import ValueSetIndex


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """Test app."""

    return app


def test_measure_report_prints_an_individual_report_matching_the_deck(deck_valuesets: ValueSetIndex) -> None:
    # GIVEN a breast cancer screening deck patient and its expected counts
    case = next(c for c in load_cases() if c.measure == "BreastCancerScreeningFHIR")
    # WHEN the command evaluates the patient's folder by program code
    result = CliRunner().invoke(
        _app(),
        [
            "measure-report",
            "--measure",
            "BCS-E",
            "--period-start",
            "2025-01-01",
            "--period-end",
            "2025-12-31",
            str(case.folder),
        ],
    )
    # THEN it prints an individual MeasureReport with the expected populations
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["resourceType"], report["type"]) == ("MeasureReport", "individual")
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert counts == case.expected[0]


def test_unknown_measure_is_a_usage_error(tmp_path: pytest.TempPathFactory) -> None:
    # GIVEN a measure name the engine does not know
    # WHEN the command is run
    result = CliRunner().invoke(
        _app(),
        [
            "measure-report",
            "--measure",
            "XYZ",
            "--period-start",
            "2025-01-01",
            "--period-end",
            "2025-12-31",
            ".",
        ],
    )
    # THEN it exits with the usage code and lists the known measures
    assert result.exit_code == 2
    assert "BCS-E" in result.output
