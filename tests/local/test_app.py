from __future__ import annotations

import pytest

from cli.local.runtime import LocalRuntime

# Its own group: it synthesizes the real app, so it can run beside the fixture-stack tests.
pytestmark = [pytest.mark.xdist_group("local-app"), pytest.mark.slow]

CONTRACT_OUTPUTS = {"LandingBucketName", "IngestQueueUrl", "MonthlyStateMachineArn", "AnnualStateMachineArn"}


def test_the_project_app_runs_locally() -> None:
    # GIVEN the project's own CDK app
    pytest.importorskip("infra.app")

    # WHEN it runs in the local runtime and an empty monthly run is started
    with LocalRuntime.from_app("dev") as local:
        pumped = local.pump_ingest_queue()
        result = local.start_and_wait(
            local.outputs["MonthlyStateMachineArn"],
            {"run_kind": "monthly", "program_year": 2026, "month": "2026-03", "mode": "preview"},
        )

    # THEN the contract outputs exist, the S3 test event was consumed, and the run ended as designed
    assert set(local.template["Outputs"]) >= CONTRACT_OUTPUTS
    assert (pumped.received, pumped.retried, pumped.handler_errors) == (1, 0, 0)
    assert result.status == "SUCCEEDED", result.cause
