"""The monthly run on the real `payment_run.asl.json`, executed by moto's Step Functions in the local runtime.

The project's app is synthesized once; every test gets a fresh runtime, lands the tiny plan's files,
pumps the ingest queue and starts executions as an operator would. The fault test runs March once per AWS
call of the run on one runtime, putting back what the previous case wrote (`fixture_snapshot`): preparing a
runtime costs several executions.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from cli.local.runtime import ExecutionResult, LocalRuntime, app_asset_dirs, app_template
from cli.operator import OperatorRefusedError, runtime_operator
from functions.runs.common import run_service
from shared.services.runs import RunService
from shared.services.settlement import ReconciliationError, SettlementService
from tests.functional.plan_data import FILES
from tests.local.fixture_snapshot import Stores, restore, settle_threads, snapshot

pytestmark = [pytest.mark.xdist_group("local-app"), pytest.mark.slow]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    return app_template("dev")


@pytest.fixture
def local(template: dict[str, Any]) -> Iterator[LocalRuntime]:
    """The app on moto with the plan ingested; shards of two members so the Map has several items."""
    yield from _fresh(template)


OPERATOR = "local:operator"


def start(local: LocalRuntime, month: str, mode: str = "final", **extra: Any) -> ExecutionResult:
    """An execution of the monthly machine with the input the operator API writes (plus `extra`)."""
    request = {
        "run_kind": "monthly",
        "program_year": int(month[:4]),
        "month": month,
        "mode": mode,
        "requested_by": OPERATOR,
    } | extra
    return local.start_and_wait(local.outputs["MonthlyStateMachineArn"], request, timeout_s=60)


def ledger(local: LocalRuntime) -> list[str]:
    items = local.client("dynamodb").scan(TableName=local.outputs["LedgerTableName"])["Items"]
    return sorted(json.dumps(i, sort_keys=True) for i in items)


def run_status(local: LocalRuntime, run_id: str) -> str:
    item = local.client("dynamodb").get_item(
        TableName=local.outputs["RegistryTableName"], Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "RUN"}}
    )["Item"]
    return str(item["status"]["S"])


def report_keys(local: LocalRuntime, prefix: str) -> list[str]:
    listed = local.client("s3").list_objects_v2(Bucket=local.outputs["ReportsBucketName"], Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_a_month_started_twice_pays_once_and_a_preview_writes_no_ledger(local: LocalRuntime) -> None:
    # GIVEN March run to completion by the state machine
    march = start(local, "2026-03")
    paid = ledger(local)
    # WHEN March is started again, and April is previewed
    again = start(local, "2026-03")
    preview = start(local, "2026-04", mode="preview")
    # THEN the second start is refused and fails without a new entry; the preview succeeds, renders its
    # statements and payment file, and leaves the ledger and March's run as they were
    assert march.status == "SUCCEEDED", march.cause
    assert march.output["closed"]["value"]["status"] == "CALCULATED"
    assert again.status == "FAILED" and again.error == "RunAlreadyClosedError"
    assert "run monthly-2026-03-final is CALCULATED" in (again.cause or "")
    assert preview.status == "SUCCEEDED", preview.cause
    preview_id = preview.output["run"]["value"]["run_id"]
    assert preview_id.startswith("monthly-2026-04-preview-")
    assert report_keys(local, "payments/") == [] and report_keys(local, f"statements/{preview_id}") == []
    assert report_keys(local, f"previews/{preview_id}/statements/") == [
        f"previews/{preview_id}/statements/PREVIEW-K1.csv",
        f"previews/{preview_id}/statements/PREVIEW-K1.html",
    ]
    assert ledger(local) == paid and len(paid) == march.output["totals"]["value"]["entry_count"] > 0
    assert run_status(local, "monthly-2026-03-final") == "CALCULATED"


def test_a_failing_shard_is_retried_by_the_state_machine(local: LocalRuntime) -> None:
    # GIVEN EarnShard failing on its first invocation only
    original, calls = RunService.earn, []

    def flaky(service: RunService, item: Any) -> Any:
        calls.append(item.shard.shard_id)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")
        return original(service, item)

    # WHEN March runs
    with mock.patch.object(RunService, "earn", flaky):
        result = start(local, "2026-03")
    # THEN the Map's retry absorbed the failure: every shard succeeded, the failed one twice, and the run
    # closed with no tolerated failure
    assert result.status == "SUCCEEDED", result.cause
    assert len(calls) == len(set(calls)) + 1
    assert run_status(local, "monthly-2026-03-final") == "CALCULATED"


def test_a_shard_that_keeps_failing_fails_the_run_which_then_resumes(local: LocalRuntime) -> None:
    # GIVEN EarnShard failing on every attempt for one shard
    original = RunService.earn

    def broken(service: RunService, item: Any) -> Any:
        if item.shard.shard_id == "00001":
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "Query")
        return original(service, item)

    # WHEN March runs, then is started again once the fault is gone
    with mock.patch.object(RunService, "earn", broken):
        failed = start(local, "2026-03")
    status_after_failure = run_status(local, "monthly-2026-03-final")
    resumed = start(local, "2026-03")
    # THEN no failure is tolerated: the execution and the run fail; the restart resumes the same run
    assert failed.status == "FAILED" and status_after_failure == "FAILED"
    assert resumed.status == "SUCCEEDED", resumed.cause
    assert resumed.output["run"]["value"]["resumed"] is True
    assert run_status(local, "monthly-2026-03-final") == "CALCULATED"


def test_a_crash_at_every_aws_call_then_a_restart_gives_the_clean_ledger(template: dict[str, Any]) -> None:
    # GIVEN one stack with the plan ingested, saved as prepared, and a clean March on it: its ledger and the
    # handlers' AWS calls it made
    for local in _fresh(template):
        stores = Stores(
            s3=local.client("s3"),
            dynamodb=local.client("dynamodb"),
            tables=tuple(
                local.outputs[t]
                for t in ("GapsTableName", "LedgerTableName", "RegistryTableName", "ApprovalsTableName")
            ),
            objects=((local.outputs["CuratedBucketName"], "runs/"), (local.outputs["ReportsBucketName"], "")),
        )
        prepared = snapshot(stores)
        clean, calls, executions = _march_after_fault(local, None)
        assert [e.status for e in executions] == ["SUCCEEDED"], executions[0].cause
        # WHEN, for every k, the prepared state is put back and March runs with the k-th call failing, and
        # the month is started again when the execution failed
        first_statuses = []
        for k in range(1, len(calls) + 1):
            restore(stores, prepared)
            after, _, executions = _march_after_fault(local, k)
            # THEN each ends with the clean ledger, byte for byte, and no execution succeeded by tolerating
            # a failed shard
            assert after == clean, f"call {k} ({calls[k - 1]})"
            assert executions[-1].status == "SUCCEEDED", f"call {k}: {executions[-1].cause}"
            for succeeded in (e for e in executions if e.status == "SUCCEEDED"):
                assert _failed_items(local, succeeded) == 0, f"call {k}"
            first_statuses.append(executions[0].status)
    print(f"{len(calls)} handler AWS calls, each failed once; first executions: {Counter(first_statuses)}")
    assert set(first_statuses) == {"SUCCEEDED", "FAILED"}


def _march_after_fault(
    local: LocalRuntime, k: int | None
) -> tuple[list[str], list[str], list[ExecutionResult]]:
    """March with the k-th handler AWS call failing, and again if that execution failed: the ledger after,
    the calls counted, and the executions."""
    calls: list[str] = []
    original = BaseClient._make_api_call

    def wrapped(client: Any, operation: str, params: Any) -> Any:
        # DynamoDB and S3 calls count: the handlers' and the Map's ItemReader. Step Functions' Lambda invokes
        # are left alone, and the test's own calls are made disarmed.
        if client.meta.service_model.service_name in ("dynamodb", "s3") and armed[0]:
            calls.append(operation)
            if len(calls) == k:
                raise ClientError({"Error": {"Code": "InternalServerError"}}, operation)
        return original(client, operation, params)

    armed, before = [False], set(threading.enumerate())
    with mock.patch.object(BaseClient, "_make_api_call", wrapped):
        armed[0] = True
        executions = [start(local, "2026-03")]
        # A failed Map does not wait for its other items: let them end before anything else runs.
        settle_threads(before)
        armed[0] = False
    if executions[0].status != "SUCCEEDED":
        executions.append(start(local, "2026-03"))
        settle_threads(before)
    return ledger(local), calls, executions


def _failed_items(local: LocalRuntime, execution: ExecutionResult) -> int:
    """Items the execution's Map runs counted as failed (a success with any would mean one was tolerated)."""
    sfn = local.client("stepfunctions")
    runs = sfn.list_map_runs(executionArn=execution.execution_arn)["mapRuns"]
    counts = [sfn.describe_map_run(mapRunArn=r["mapRunArn"])["itemCounts"] for r in runs]
    assert runs and all(c["succeeded"] == c["total"] for c in counts)
    return sum(c["failed"] for c in counts)


def _fresh(template: dict[str, Any]) -> Iterator[LocalRuntime]:
    # Retry intervals are the definition's; waiting them out would only slow the tests down.
    no_wait = SimpleNamespace(sleep=lambda seconds: None)
    with (
        LocalRuntime(template, asset_dirs=app_asset_dirs()) as runtime,
        mock.patch.object(retrier_decl, "time", no_wait),
        mock.patch.dict(os.environ, {"SHARD_SIZE": "2", "LOG_LEVEL": "WARNING"}),
    ):
        run_service.cache_clear()
        for key, body in FILES.items():
            runtime.client("s3").put_object(
                Bucket=runtime.outputs["LandingBucketName"], Key=key, Body=body.encode()
            )
        assert runtime.pump_ingest_queue().handler_errors == 0
        yield runtime
        run_service.cache_clear()


def test_each_machine_takes_only_its_kind_and_refuses_unknown_keys_with_the_reason(
    local: LocalRuntime,
) -> None:
    # GIVEN the stack's two machines
    monthly = local.outputs["MonthlyStateMachineArn"]
    annual = {"run_kind": "annual", "program_year": 2026, "mode": "final", "requested_by": OPERATOR}
    # WHEN an annual run is sent to the monthly machine, and March carries "dry_run"
    wrong = local.start_and_wait(monthly, annual, timeout_s=60)
    dry = start(local, "2026-03", dry_run=True)
    # THEN each execution fails with the domain error's name and message, and no run or entry exists
    assert (wrong.status, wrong.error) == ("FAILED", "WrongMachineError")
    assert "annual run was sent to the monthly state machine" in (wrong.cause or "")
    assert (dry.status, dry.error) == ("FAILED", "RunInputError")
    assert "`dry_run`: not a field it accepts" in (dry.cause or "") and "Traceback" not in (dry.cause or "")
    assert ledger(local) == []
    registry = local.client("dynamodb").scan(TableName=local.outputs["RegistryTableName"])["Items"]
    assert [i for i in registry if i["sk"]["S"] == "RUN"] == []


def test_a_final_month_before_a_later_final_month_fails_and_the_run_record_keeps_the_reason(
    local: LocalRuntime,
) -> None:
    # GIVEN March and April calculated on the real machine
    assert start(local, "2026-03").status == start(local, "2026-04").status == "SUCCEEDED"
    paid = ledger(local)
    # WHEN February is started final, and April's shards are made to fail so the run fails
    february = start(local, "2026-02")
    # THEN February is refused naming April, writes nothing, and `p4p run show` would read April's reason
    assert (february.status, february.error) == ("FAILED", "LaterRunExistsError")
    assert "monthly-2026-04-final" in (february.cause or "")
    assert ledger(local) == paid


def test_a_failed_run_records_its_last_failure_for_the_operator(local: LocalRuntime) -> None:
    # GIVEN AggregateRun finding the ledger and the shard results disagree
    def broken(service: SettlementService, item: Any) -> Any:
        raise ReconciliationError("aggregated, statement and draft payment file totals differ")

    # WHEN March runs
    with mock.patch.object(SettlementService, "aggregate", broken):
        failed = start(local, "2026-03")
    # THEN the run is FAILED and its record keeps which step failed, with what error and message
    item = local.client("dynamodb").get_item(
        TableName=local.outputs["RegistryTableName"],
        Key={"pk": {"S": "RUN#monthly-2026-03-final"}, "sk": {"S": "RUN"}},
    )["Item"]
    failure = {k: v["S"] for k, v in item["last_failure"]["M"].items()}
    assert failed.status == "FAILED" and item["status"]["S"] == "FAILED"
    assert failure["step"] == "AggregateRun" and failure["error"] == failed.error == "ReconciliationError"
    assert failure["message"] == failed.cause and "Traceback" not in json.dumps(item)


def test_approval_through_the_operator_function_needs_a_second_person(local: LocalRuntime) -> None:
    # GIVEN March calculated by the operator on the real machine
    assert start(local, "2026-03").status == "SUCCEEDED"
    # WHEN the operator tries to approve it, then the approver does
    with pytest.raises(OperatorRefusedError, match="ApprovalRefusedError"):
        runtime_operator(local, "operator").approve("monthly-2026-03-final")
    approved = runtime_operator(local, "approver").approve("monthly-2026-03-final")
    # THEN only the second approval took, and the payment file is in the payments bucket under its digest
    body = (
        local.client("s3")
        .get_object(Bucket=local.outputs["PaymentsBucketName"], Key="payments/monthly-2026-03-final.csv")[
            "Body"
        ]
        .read()
    )
    assert approved["approval"]["approved_by"] == "local:approver"
    assert approved["approval"]["payment_sha256"] == hashlib.sha256(body).hexdigest()
