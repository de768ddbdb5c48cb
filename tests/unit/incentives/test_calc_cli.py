"""`p4p calc benchmark` and `p4p calc guarantee`: JSON in, JSON out, and one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from cli.calc import EXIT_BAD_INPUT, register
from tests.unit.incentives.cases import (
    BENCHMARK_CASES,
    GUARANTEE_CASES,
    NOT_COUNTED,
    NOT_MET,
    BenchmarkCase,
    GuaranteeCase,
)


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """Test app."""

    return app


def _run(tmp_path: Path, command: str, body: str | dict[str, Any]) -> Result:
    path = tmp_path / "input.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return CliRunner().invoke(_app(), ["calc", command, str(path)])


def _benchmark_body() -> dict[str, Any]:
    return {
        "line_of_business": "MC",
        "assigned_members": 200,
        "minimum_members": 100,
        "minimum_denominator": 30,
        "amount_per_member": "10.00",
        "measures": {
            "BCS-E": {
                "weight": "2",
                "benchmark": "57",
                "inverse": False,
                "required_improvement_points": "2",
                "rate": "60",
                "prior_rate": None,
                "denominator": 40,
            },
            "GSD": {
                "weight": 1,
                "benchmark": "33.5",
                "inverse": True,
                "required_improvement_points": 2,
                "rate": "40",
                "prior_rate": None,
                "denominator": 40,
            },
        },
    }


def _guarantee_body() -> dict[str, Any]:
    return {
        "year": 2026,
        "enrollment_date": "2026-03-01",
        "benchmark_full_year": "3650.00",
        "care_gap_earnings": "100.00",
    }


def _refused(result: Result) -> str:
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_benchmark_prints_each_measure_the_composite_and_the_payment(tmp_path: Path) -> None:
    # GIVEN a clinic's JSON with one measure at its benchmark (weight 2) and one missing it (weight 1)
    body = _benchmark_body()
    # WHEN `p4p calc benchmark` reads it
    result = _run(tmp_path, "benchmark", body)
    # THEN it prints JSON: eligible, each measure counted and met_by, composite 2/3 and the payment
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["eligible"] is True
    assert (out["measures"]["BCS-E"]["counted"], out["measures"]["BCS-E"]["met_by"]) == (True, "benchmark")
    assert (out["measures"]["GSD"]["counted"], out["measures"]["GSD"]["met_by"]) == (True, None)
    assert (out["composite"], out["composite_fraction"], out["payment"]) == ("0.666667", "2/3", "1333.33")


@pytest.mark.parametrize("case", BENCHMARK_CASES, ids=[c.name for c in BENCHMARK_CASES])
def test_benchmark_rows_of_the_doc_table_through_the_cli(tmp_path: Path, case: BenchmarkCase) -> None:
    # GIVEN one row of the doc's table, written as the calculator's JSON
    body = case.clinic.model_dump(mode="json")
    # WHEN `p4p calc benchmark` reads it
    result = _run(tmp_path, "benchmark", body)
    # THEN it prints the row's outcomes, composite and payment
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    labels = {
        code: NOT_COUNTED if not m["counted"] else (m["met_by"] or NOT_MET)
        for code, m in out["measures"].items()
    }
    assert labels == case.per_measure
    assert (out["eligible"], out["composite"], out["payment"]) == (
        case.eligible,
        case.composite,
        case.payment,
    )


@pytest.mark.parametrize("case", GUARANTEE_CASES, ids=[c.name for c in GUARANTEE_CASES])
def test_guarantee_rows_of_the_doc_table_through_the_cli(tmp_path: Path, case: GuaranteeCase) -> None:
    # GIVEN one row of the doc's guarantee table, written as the calculator's JSON
    body = case.clinic.model_dump(mode="json")
    # WHEN `p4p calc guarantee` reads it
    result = _run(tmp_path, "guarantee", body)
    # THEN it prints the row's days and amounts, amounts with two places
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {k: out[k] for k in ("days_before", "days_on_care_gap")} == {
        "days_before": case.days_before,
        "days_on_care_gap": case.days_on_care_gap,
    }
    assert [
        out[k] for k in ("prorated_benchmark", "equivalent_benchmark", "make_whole", "guarantee_total")
    ] == [
        case.prorated_benchmark,
        case.equivalent_benchmark,
        case.make_whole,
        case.guarantee_total,
    ]


def test_guarantee_prints_every_part(tmp_path: Path) -> None:
    # GIVEN a clinic enrolled on 1 March 2026 with a $3,650.00 Benchmark year and $100 of Care Gap earnings
    # WHEN `p4p calc guarantee` reads it
    result = _run(tmp_path, "guarantee", _guarantee_body())
    # THEN 59 days were before enrollment, and the make-whole tops $100 up to the $3,060 equivalent
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "year": 2026,
        "enrollment_date": "2026-03-01",
        "days": 365,
        "days_before": 59,
        "days_on_care_gap": 306,
        "benchmark_full_year": "3650.00",
        "care_gap_earnings": "100.00",
        "prorated_benchmark": "590.00",
        "equivalent_benchmark": "3060.00",
        "make_whole": "2960.00",
        "guarantee_total": "3550.00",
    }


def test_amounts_may_be_json_integers(tmp_path: Path) -> None:
    # GIVEN whole-dollar amounts written as JSON integers
    body = _guarantee_body() | {"benchmark_full_year": 3650, "care_gap_earnings": 0}
    # WHEN the guarantee reads them
    result = _run(tmp_path, "guarantee", body)
    # THEN they are taken exactly
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["benchmark_full_year"] == "3650.00"


def test_the_calc_commands_are_on_the_p4p_app(tmp_path: Path) -> None:
    # GIVEN the real `p4p` app
    from cli.main import app

    path = tmp_path / "g.json"
    path.write_text(json.dumps(_guarantee_body()))
    # WHEN `p4p calc guarantee` is run on it
    result = CliRunner().invoke(app, ["calc", "guarantee", str(path)])
    # THEN it answers
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["guarantee_total"] == "3550.00"


def _with_measure(**changes: Any) -> dict[str, Any]:
    body = _benchmark_body()
    body["measures"]["BCS-E"] = body["measures"]["BCS-E"] | changes
    return body


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


def _measure_without(key: str) -> dict[str, Any]:
    body = _benchmark_body()
    body["measures"]["BCS-E"] = _without(body["measures"]["BCS-E"], key)
    return body


@pytest.mark.parametrize(
    ("command", "body", "message"),
    [
        (
            "benchmark",
            _benchmark_body() | {"pool": "100"},
            "the file: unknown key 'pool'",
        ),
        (
            "benchmark",
            _with_measure(rat="60"),
            "measures.BCS-E: unknown key 'rat' (did you mean 'rate'?)",
        ),
        (
            "benchmark",
            _without(_benchmark_body(), "minimum_members"),
            "the file: missing key 'minimum_members'",
        ),
        (
            "benchmark",
            _measure_without("prior_rate"),
            "measures.BCS-E: missing key 'prior_rate'",
        ),
        (
            "benchmark",
            _benchmark_body() | {"amount_per_member": "ten"},
            'amount_per_member: "ten" is not a decimal',
        ),
        (
            "benchmark",
            _benchmark_body() | {"amount_per_member": "-10.00"},
            'amount_per_member: must not be negative (got "-10.00")',
        ),
        (
            "benchmark",
            _benchmark_body() | {"amount_per_member": 10.5},
            "amount_per_member: 10.5 is a number with a fraction, read as a binary float and not exact",
        ),
        (
            "benchmark",
            _with_measure(rate="101"),
            'measures.BCS-E.rate: must be at most 100 (got "101")',
        ),
        (
            "benchmark",
            _with_measure(weight="0"),
            'measures.BCS-E.weight: must be more than 0 (got "0")',
        ),
        (
            "benchmark",
            _with_measure(inverse="no"),
            'measures.BCS-E.inverse: must be true or false (got "no")',
        ),
        (
            "benchmark",
            _benchmark_body() | {"assigned_members": "200"},
            'assigned_members: must be a whole number (got "200")',
        ),
        (
            "benchmark",
            _benchmark_body() | {"line_of_business": "XX"},
            "line_of_business: must be one of 'CA', 'MC', 'HW' or 'COMM' (got \"XX\")",
        ),
        (
            "benchmark",
            _benchmark_body() | {"measures": {"": _benchmark_body()["measures"]["GSD"]}},
            'measures: key "": string should have at least 1 character',
        ),
        (
            "guarantee",
            _guarantee_body() | {"care_gap_earnings": "-1.00"},
            'care_gap_earnings: must not be negative (got "-1.00")',
        ),
        (
            "guarantee",
            _guarantee_body() | {"benchmark_full_year": "3650.005"},
            'benchmark_full_year: "3650.005" has more than 2 decimal places (whole cents)',
        ),
        (
            "guarantee",
            _guarantee_body() | {"enrollment_date": "2026-02-30"},
            'enrollment_date: must be an ISO date, YYYY-MM-DD (got "2026-02-30"',
        ),
        (
            "guarantee",
            _guarantee_body() | {"enrollment_date": "03/01/2026"},
            'enrollment_date: must be an ISO date, YYYY-MM-DD (got "03/01/2026"',
        ),
        (
            "guarantee",
            _guarantee_body() | {"year": "2026"},
            'year: must be a whole number (got "2026")',
        ),
        (
            "guarantee",
            '{"year": 2026, "year": 2027}',
            "key 'year' appears twice in one object",
        ),
        ("guarantee", '{"year": 2026,', "not JSON: Expecting property name enclosed in double quotes"),
        ("guarantee", "[]", "the file must hold one JSON object, not list"),
        ("guarantee", '{"year": NaN}', "NaN is not a number a calculator can use"),
    ],
)
def test_bad_input_is_refused_on_one_line_naming_the_key(
    tmp_path: Path, command: str, body: str | dict[str, Any], message: str
) -> None:
    # GIVEN an input file with one thing wrong
    # WHEN the calculator reads it
    result = _run(tmp_path, command, body)
    # THEN it exits 2 with one line on stderr that names the key and what is wrong
    line = _refused(result)
    assert line.startswith(f"error: {tmp_path / 'input.json'}: ")
    assert message in line


def test_every_problem_is_named_on_the_one_line(tmp_path: Path) -> None:
    # GIVEN a file with an unknown key, a missing key and a bad amount
    body = _without(_benchmark_body(), "minimum_denominator") | {"amount_per_member": "x", "extra": 1}
    # WHEN the calculator reads it
    line = _refused(_run(tmp_path, "benchmark", body))
    # THEN each is named, separated by semicolons
    assert "missing key 'minimum_denominator'" in line
    assert "unknown key 'extra'" in line
    assert 'amount_per_member: "x" is not a decimal' in line


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    # GIVEN a path with no file
    missing = tmp_path / "nope.json"
    # WHEN the calculator is pointed at it
    result = CliRunner().invoke(_app(), ["calc", "benchmark", str(missing)])
    # THEN it says it cannot read it, exit 2
    assert _refused(result) == f"error: cannot read {missing}: No such file or directory"


def test_input_may_come_from_stdin() -> None:
    # GIVEN the guarantee's JSON on stdin
    # WHEN the calculator reads `-`
    result = CliRunner().invoke(_app(), ["calc", "guarantee", "-"], input=json.dumps(_guarantee_body()))
    # THEN it answers as for a file
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["make_whole"] == "2960.00"
