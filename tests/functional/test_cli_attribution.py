"""`p4p attribution build` and `p4p attribution explain` against a stack (moto), the plan's files landed
through the real ingest handler: what each prints, and refusals that name the problem, never a member."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import attribution as cli_attribution
from cli.main import app
from cli.stack import StackRef
from tests.conftest import REGION
from tests.functional.attribution_plan import FILES
from tests.functional.flow import land
from tests.unit.apc.docs import block


@pytest.fixture
def cli(aws, lambda_context, monkeypatch) -> CliRunner:
    """The CLI reaching the moto stack's curated bucket and gap state, the plan's files landed."""
    land(aws, lambda_context, FILES)
    outputs = {"CuratedBucketName": aws.names["CURATED_BUCKET"], "GapsTableName": aws.names["GAPS_TABLE"]}
    stack = StackRef(name="test", outputs=outputs, region=REGION)
    monkeypatch.setattr(cli_attribution, "resolve_stack", lambda name: stack)
    return CliRunner()


def test_build_then_explain_a_claims_member_and_a_selected_pcp_member(aws, cli) -> None:
    # GIVEN the plan landed on the stack
    # WHEN March is built, then A2 (PPO, claims) and A1 (HMO, selected PCP) are explained
    built = cli.invoke(app, ["attribution", "build", "--month", "2026-03"])
    a2 = cli.invoke(app, ["attribution", "explain", "A2", "--month", "2026-03"], terminal_width=200)
    a1 = cli.invoke(app, ["attribution", "explain", "A1", "--month", "2026-03"])
    as_json = cli.invoke(app, ["attribution", "explain", "A5", "--month", "2026-03", "--json"])
    # THEN the build prints counts only, and is in the curated bucket
    assert built.exit_code == 0, built.output
    assert built.stdout == (
        "attribution 2026-03: 5 members (1 selected_pcp, 3 claims, 1 unattributed) at 2 practices, from 14 "
        "claim lines read; written to curated/attribution/month=2026-03/ in 128 parts by member bucket\n"
    )
    assert "A1" not in built.stdout
    parts = aws.s3.list_objects_v2(
        Bucket=aws.names["CURATED_BUCKET"], Prefix="curated/attribution/month=2026-03/"
    )
    assert parts["KeyCount"] == 128 and all(o["Size"] > 0 for o in parts["Contents"])
    # AND A2's explanation names rule, practice, provider, visits, last visit, dollars and the runner-up,
    # exactly as docs/apc.md shows it
    assert a2.exit_code == 0, a2.output
    assert f"```\n{a2.stdout}```" == block("apc.md", "attribution-explain")
    # AND A1's names the product and the PCP
    assert a1.exit_code == 0, a1.output
    assert a1.stdout.splitlines()[:2] == [
        "Member A1, 2026-03: practice K2, provider 2000000002, by selected_pcp",
        "  product commercial_hmo prefers the PCP the member selected or the plan matched; PCP 2000000002 "
        "is on practice K2's roster, so claims are not read",
    ]
    # AND --json gives the explanation's fields
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["recorded"]["allowed_amount"] == "75.00"


def test_an_unattributed_member_is_told_why(cli) -> None:
    # GIVEN March built
    cli.invoke(app, ["attribution", "build", "--month", "2026-03"])
    # WHEN A4 (EPO, whose only visit was voided) is explained
    a4 = cli.invoke(app, ["attribution", "explain", "A4", "--month", "2026-03"])
    # THEN it says claims decide and no visit counted in the lookback
    assert a4.exit_code == 0
    assert a4.stdout.splitlines() == [
        "Member A4, 2026-03: unattributed",
        "  product commercial_epo is attributed by claims only",
        "  lookback 2024-04-01 to 2026-03-31: 0 claim lines, 0 primary-care visits (a provider on a day)",
        "  no primary-care visit at a participating practice in the lookback",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explain", "A1", "--month", "2026-03"], "no attribution table for 2026-03: build it with"),
        (["build", "--month", "2024-06"], "no eligibility span covers 2024-06"),
        (["build", "--month", "2026-13"], "--month must be a month, YYYY-MM"),
    ],
)
def test_refusals_name_the_problem(cli, args: list[str], message: str) -> None:
    # GIVEN the plan landed, nothing built
    # WHEN the operator asks for something that is not there
    refused = cli.invoke(app, ["attribution", *args])
    # THEN one line on stderr names it, exit 2, and no member id is echoed
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error: {message}") and refused.stderr.count("\n") == 1
    assert "A1" not in refused.stderr


def test_a_member_not_enrolled_is_refused_without_echoing_the_id(cli) -> None:
    # GIVEN March built
    cli.invoke(app, ["attribution", "build", "--month", "2026-03"])
    # WHEN A6, who left in February, is explained
    refused = cli.invoke(app, ["attribution", "explain", "A6", "--month", "2026-03"])
    # THEN the refusal says the member is not in March's table, without the id
    assert refused.exit_code == 2
    assert (
        refused.stderr == "error: member not in the attribution table of 2026-03 (not enrolled that month)\n"
    )
