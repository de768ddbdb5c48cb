"""`p4p runs`, `p4p run show`, `p4p run approve`: the operator's view of a run, its reason and its approval,
through the operator function (on moto) as the CLI reaches it on the local runtime."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from cli import runs as cli_runs
from cli.main import app
from cli.operator import lambda_transport
from cli.stack import StackRef
from functions.operator import operate_runs
from tests.functional.flow import land, run_month, run_request
from tests.functional.plan_data import FILES


@pytest.fixture
def cli(aws, lambda_context, monkeypatch) -> CliRunner:
    """The CLI with its operator calls going to the operator function as `--as` says (default: operator)."""

    def transport(stack: StackRef, as_name: str | None) -> Any:
        identity = f"local:{as_name or 'operator'}"
        return lambda_transport(lambda event: operate_runs.handler(event, lambda_context), identity)

    monkeypatch.setattr(cli_runs, "transport_for", transport)
    monkeypatch.setattr(cli_runs, "resolve_stack", lambda name: StackRef(name="test", outputs={}))
    return CliRunner()


def test_runs_and_run_show_print_the_last_failure_and_its_step(aws, lambda_context, cli):
    # GIVEN March failed at AggregateRun (its shard results were lost)
    land(aws, lambda_context, FILES)
    request = {
        "run_kind": "monthly",
        "program_year": 2026,
        "month": "2026-03",
        "requested_by": "local:operator",
    }
    with pytest.raises(Exception, match="has no result"):
        run_request(lambda_context, request, skip_earning=True)
    # WHEN the operator lists the runs and shows March
    listed = cli.invoke(app, ["runs"], terminal_width=200)
    shown = cli.invoke(app, ["run", "show", "monthly-2026-03-final"])
    # THEN both name the step, the domain error and its message
    assert listed.exit_code == 0 and "ShardResultMissingError" in listed.stdout
    assert shown.exit_code == 0
    assert "failed:     AggregateRun ShardResultMissingError: shard 00000 of run" in shown.stdout
    assert "status:     FAILED" in shown.stdout


def test_approve_by_the_operator_is_refused_in_one_line_and_by_another_person_it_is_recorded(
    aws, lambda_context, cli
):
    # GIVEN March calculated by the operator
    land(aws, lambda_context, FILES)
    run_month(lambda_context, "2026-03")
    # WHEN the operator approves it, then the approver does
    refused = cli.invoke(app, ["run", "approve", "monthly-2026-03-final"])
    approved = cli.invoke(app, ["run", "approve", "monthly-2026-03-final", "--as", "approver"])
    # THEN the refusal is one line naming why, and the approval names who and the payment file's digest
    assert refused.exit_code == 2 and refused.stdout.count("\n") == 1
    assert (
        "ApprovalRefusedError: local:operator started or recalculated run monthly-2026-03-final"
        in refused.stdout
    )
    assert approved.exit_code == 0 and "APPROVED by local:approver" in approved.stdout
    assert "payments/monthly-2026-03-final.csv sha256 " in approved.stdout
