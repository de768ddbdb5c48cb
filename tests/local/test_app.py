from __future__ import annotations

import pytest

from cli.local.executions import wait_for_execution
from cli.local.runtime import LocalRuntime
from cli.operator import runtime_operator

# Its own group: it synthesizes the real app, so it can run beside the fixture-stack tests.
pytestmark = [pytest.mark.xdist_group("local-app"), pytest.mark.slow]

CONTRACT_OUTPUTS = {
    "LandingBucketName",
    "IngestQueueUrl",
    "MonthlyStateMachineArn",
    "AnnualStateMachineArn",
    "OperatorFunctionName",
}


def test_the_project_app_runs_locally() -> None:
    # GIVEN the project's own CDK app
    # WHEN it runs in the local runtime and an operator starts an empty monthly preview through its API
    with LocalRuntime.from_app("dev") as local:
        pumped = local.pump_ingest_queue()
        started = runtime_operator(local, "operator").start(
            {"run_kind": "monthly", "program_year": 2026, "month": "2026-03", "mode": "preview"}
        )
        result = wait_for_execution(local.client("stepfunctions"), started["execution_arn"], limit_s=300)

    # THEN the contract outputs exist, the S3 test event was consumed, and the run ended as designed
    assert set(local.template["Outputs"]) >= CONTRACT_OUTPUTS
    assert (pumped.received, pumped.retried, pumped.handler_errors) == (1, 0, 0)
    assert result.status == "SUCCEEDED", result.cause
