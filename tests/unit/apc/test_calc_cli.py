"""`p4p calc apc-incentive`, `p4p calc phm` and `p4p calc attribution`: JSON in, JSON out, the docs'
examples, and one-line refusals with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from cli.calc import EXIT_BAD_INPUT, register
from tests.unit.apc.cases import INCENTIVE_CASES, IncentiveCase
from tests.unit.apc.docs import example


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


def _printed(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _refused(result: Result) -> str:
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("case", INCENTIVE_CASES, ids=[c.name for c in INCENTIVE_CASES])
def test_every_incentive_row_through_the_command(tmp_path: Path, case: IncentiveCase) -> None:
    # GIVEN one row of docs/apc-incentive.md as the calculator's JSON
    # WHEN `p4p calc apc-incentive` reads it
    out = _printed(_run(tmp_path, "apc-incentive", case.body()))
    # THEN it prints the row's categories, shares and amounts, counts, scale and total
    printed = {}
    for code, measure in out["measures"].items():
        printed[code] = (measure["category"], measure["share"], measure["amount"])
        for name in ("screening", "follow_up"):
            if name in measure:
                part = measure[name]
                printed[f"{code}.{name}"] = (part["category"], part["share"], part["amount"])
    assert {key: printed[key] for key in case.expected} == case.expected
    assert {code: printed[code] for code in case.others()} == case.others()
    assert list(out["measures"]) == [c for c in printed if "." not in c]
    assert (out["valid_measures"], out["applicable_measures"]) == (case.valid, case.applicable)
    assert (out["scale"], out["total"]) == (case.scale, case.total)
    assert out["maximum"] == f"{int(case.max_pmpm.replace('.', '')) * case.member_months / 100:.2f}"


def test_the_incentive_example_of_the_doc(tmp_path: Path) -> None:
    # GIVEN the example input of docs/apc-incentive.md, whose output the doc derives by hand
    # WHEN the command reads it
    out = _printed(_run(tmp_path, "apc-incentive", example("apc-incentive.md", "incentive-input")))
    # THEN it prints the doc's output
    assert out == example("apc-incentive.md", "incentive-output")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "practice_type": "mixed",
                "max_pmpm": "6.00",
                "member_months": 10,
                "measures": {"AMR": {"rate": 80.5, "denominator": 30}},
            },
            "measures.AMR.rate: 80.5 is a number with a fraction",
        ),
        (
            {"practice_type": "mixed", "max_pmpm": "6.005", "member_months": 10, "measures": {}},
            'max_pmpm: "6.005" has more than 2 decimal places (whole cents)',
        ),
        (
            {"practice_type": "family", "max_pmpm": "6", "member_months": 10, "measures": {}},
            "practice_type: must be one of 'adult', 'pediatric' or 'mixed'",
        ),
        (
            {
                "practice_type": "mixed",
                "max_pmpm": "6",
                "member_months": 10,
                "measures": {"AMR": {"rat": "80", "denominator": 3}},
            },
            "measures.AMR: unknown key 'rat' (did you mean 'rate'?)",
        ),
        (
            {
                "practice_type": "mixed",
                "max_pmpm": "6",
                "member_months": 10,
                "measures": {"AMR": {"rate": "80"}},
            },
            "measures.AMR: missing key 'denominator'",
        ),
        (
            {
                "practice_type": "adult",
                "max_pmpm": "6",
                "member_months": 10,
                "measures": {"IMA": {"rate": "80", "denominator": 30}},
            },
            "measures.IMA: does not apply to an adult practice",
        ),
        (
            {
                "practice_type": "mixed",
                "max_pmpm": "6",
                "member_months": 10,
                "measures": {"DSF-E": {"rate": "8", "denominator": 30}},
            },
            "measures.DSF-E: unknown key 'rate' (DSF-E is scored by its components)",
        ),
        (
            {"practice_type": "mixed", "max_pmpm": "6", "member_months": "10", "measures": {}},
            "member_months: must be a whole number",
        ),
    ],
)
def test_bad_incentive_input_is_one_line_naming_the_key(
    tmp_path: Path, body: dict[str, Any], message: str
) -> None:
    # GIVEN an input the calculator cannot take
    # WHEN the command reads it
    line = _refused(_run(tmp_path, "apc-incentive", body))
    # THEN stderr says which key and why, on one line, and the exit code is 2
    assert message in line


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    # GIVEN a file with `member_months` twice
    body = (
        '{"practice_type": "mixed", "max_pmpm": "6", "member_months": 1, "member_months": 2, "measures": {}}'
    )
    # WHEN the command reads it
    line = _refused(_run(tmp_path, "apc-incentive", body))
    # THEN the refusal names the key
    assert "key 'member_months' appears twice in one object" in line


@pytest.mark.parametrize(("command", "name"), [("phm", "phm"), ("attribution", "attribution")])
def test_the_examples_of_docs_apc(tmp_path: Path, command: str, name: str) -> None:
    # GIVEN an example input of docs/apc.md, whose output the doc derives by hand
    # WHEN the command reads it
    out = _printed(_run(tmp_path, command, example("apc.md", f"{name}-input")))
    # THEN it prints the doc's output
    assert out == example("apc.md", f"{name}-output")


@pytest.mark.parametrize(
    ("member", "practice_id", "provider", "rule"),
    [
        ({"product": "commercial_hmo", "pcp_npi": "1000000002"}, "P-100", "1000000002", "selected_pcp"),
        ({"product": "commercial_ppo", "pcp_npi": "1000000002"}, "P-200", "2000000001", "claims"),
    ],
)
def test_the_doc_attribution_example_with_a_participating_pcp(
    tmp_path: Path, member: dict[str, str], practice_id: str, provider: str, rule: str
) -> None:
    # GIVEN the doc's attribution example with the member's PCP on P-100's roster
    body = example("apc.md", "attribution-input") | {"member": member}
    # WHEN the command reads it
    out = _printed(_run(tmp_path, "attribution", body))
    # THEN an HMO member goes to the PCP, a PPO member by claims, as the doc says
    assert (out["practice_id"], out["provider_npi"], out["rule"]) == (practice_id, provider, rule)


def test_an_unattributed_member_prints_nulls(tmp_path: Path) -> None:
    # GIVEN a PPO member without visits
    body = {"month": "2026-03", "member": {"product": "commercial_epo"}, "providers": {}, "visits": []}
    # WHEN the command reads it
    out = _printed(_run(tmp_path, "attribution", body))
    # THEN nothing is attributed
    assert out == {
        "practice_id": None,
        "provider_npi": None,
        "rule": "unattributed",
        "visits_counted": 0,
        "last_visit": None,
    }


def _phm(**changes: Any) -> dict[str, Any]:
    return example("apc.md", "phm-input") | changes


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_phm(pmpm=4.5), "pmpm: 4.5 is a number with a fraction"),
        (_phm(hpi_decile=11), "hpi_decile: must be at most 10 (got 11)"),
        (
            _phm(ta_compliant={"2026-1": True}),
            "ta_compliant: key \"2026-1\": must be a month, YYYY-MM (got '2026-1')",
        ),
        (_phm(ta_compliant={"2026-01": "yes"}), "ta_compliant.2026-01: must be true or false"),
        (
            _phm(members=[{"member_id": "A", "birth_date": "1990-02-30", "months": ["2026-01"]}]),
            "members.0.birth_date: must be an ISO date",
        ),
        (
            _phm(members=[{"member_id": "A", "birth_dat": "1990-02-03", "months": []}]),
            "members.0: unknown key 'birth_dat' (did you mean 'birth_date'?)",
        ),
        (
            _phm(members=[{"member_id": "A", "birth_date": "1990-02-03", "gender": "X", "months": []}]),
            "members.0.gender: must be one of 'F', 'M' or 'U'",
        ),
        (
            _phm(members=[{"member_id": "A", "birth_date": "1990-02-03", "months": ["2026-05"]}]),
            "members.0.months.0: 2026-05 has no entry in ta_compliant",
        ),
    ],
)
def test_bad_phm_input_is_one_line_naming_the_key(tmp_path: Path, body: dict[str, Any], message: str) -> None:
    # GIVEN an input the calculator cannot take
    # WHEN `p4p calc phm` reads it
    line = _refused(_run(tmp_path, "phm", body))
    # THEN stderr names the key and why, and the exit code is 2
    assert message in line


def _attribution(**changes: Any) -> dict[str, Any]:
    return example("apc.md", "attribution-input") | changes


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_attribution(month="March"), "month: must be a month, YYYY-MM (got 'March')"),
        (_attribution(member={"product": "ppo"}), "member.product: must be one of 'commercial_hmo'"),
        (
            _attribution(member={"product": "commercial_hmo", "pcp": "1"}),
            "member: unknown key 'pcp' (did you mean 'pcp_npi'?)",
        ),
        (
            _attribution(providers={"1": {"practice_id": "P", "primary_care": "Y"}}),
            "providers.1.primary_care: must be true or false",
        ),
        (
            _attribution(visits=[{"date": "2026-01-01", "hcpcs": "99213"}]),
            "visits.0: unknown key 'hcpcs' (did you mean 'hcpcs_code'?)",
        ),
        (
            _attribution(visits=[{"date": "2026-01-01", "hcpcs_code": "99213", "allowed_amount": 12.5}]),
            "visits.0.allowed_amount: 12.5 is a number with a fraction",
        ),
    ],
)
def test_bad_attribution_input_is_one_line_naming_the_key(
    tmp_path: Path, body: dict[str, Any], message: str
) -> None:
    # GIVEN an input the calculator cannot take
    # WHEN `p4p calc attribution` reads it
    line = _refused(_run(tmp_path, "attribution", body))
    # THEN stderr names the key and why, and the exit code is 2
    assert message in line
