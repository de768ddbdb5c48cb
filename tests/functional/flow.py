"""Drive the handlers the way the ingest queue and the state machines do, in contract order."""

from __future__ import annotations

import json
from typing import Any

import boto3

from events import load_event, sqs_s3_event
from functions.ingest import ingest_file
from functions.runs import (
    aggregate_run,
    build_part,
    close_run,
    earn_shard,
    fail_run,
    open_run,
    plan_shards,
    render_statements,
)


def deliver(aws: Any, context: Any, *keys: str) -> dict[str, Any]:
    """Send S3 notifications for landed keys through the ingest handler."""
    return ingest_file.handler(sqs_s3_event(aws.names["LANDING_BUCKET"], *keys), context)


def land(aws: Any, context: Any, files: dict[str, str]) -> None:
    """Put files in the landing bucket and deliver their notifications."""
    for key, body in files.items():
        aws.s3.put_object(Bucket=aws.names["LANDING_BUCKET"], Key=key, Body=body.encode())
    result = deliver(aws, context, *files)
    assert result["batchItemFailures"] == []


OPERATOR = "local:operator"


def run_month(
    context: Any,
    month: str,
    mode: str = "final",
    execution_name: str | None = None,
    *,
    requested_by: str = OPERATOR,
    recalculate: bool = False,
) -> dict[str, Any]:
    """Execute the monthly state machine's tasks in order; returns the accumulated state."""
    request = load_event("run_monthly_final") | {
        "month": month,
        "program_year": int(month[:4]),
        "mode": mode,
        "requested_by": requested_by,
    }
    if recalculate:
        request["recalculate"] = True
    return run_request(context, request, execution_name=execution_name)


def open_payload(
    request: dict[str, Any], machine: str | None = None, execution_name: str | None = None
) -> dict[str, Any]:
    """OpenRun's payload as the state machine of `machine` (default: the request's kind) builds it."""
    return {
        "machine": machine or request["run_kind"],
        "execution_name": execution_name or "test-execution",
        "request": request,
    }


def run_request(
    context: Any,
    request: dict[str, Any],
    *,
    execution_name: str | None = None,
    machine: str | None = None,
    skip_earning: bool = False,
) -> dict[str, Any]:
    """Every step in the state machine's order; a failure goes to MarkFailed naming its step, as the
    Catch path does (`skip_earning` leaves the Map out, as if its results were lost)."""
    state: dict[str, Any] = {"request": dict(request)}
    step = "OpenRun"
    try:
        state["run"] = open_run.handler(open_payload(request, machine, execution_name), context)
        step = "PlanShards"
        state["plan"] = plan_shards.handler({"run": state["run"]}, context)
        if state["plan"]["part_count"] > 0:
            step = "BuildParts"
            state["parts"] = build_all(state, context)
        step = "EarnShards"
        state["shards"] = [] if skip_earning else earn_all(state, context)
        step = "AggregateRun"
        state["totals"] = aggregate_run.handler({"run": state["run"], "plan": state["plan"]}, context)
        step = "RenderStatements"
        state["statements"] = render_statements.handler(
            {"run": state["run"], "totals": state["totals"]}, context
        )
        step = "CloseRun"
        state["closed"] = close_run.handler(
            {"run": state["run"], "totals": state["totals"], "statements": state["statements"]}, context
        )
    except Exception as error:
        # What Lambda puts in a Catch's Cause: the error's type and message (and a trace, left out here).
        cause = json.dumps({"errorMessage": str(error), "errorType": type(error).__name__})
        payload: dict[str, Any] = {"error": {"Error": type(error).__name__, "Cause": cause}, "step": step}
        if "run" in state:
            payload["run"] = state["run"]
        state["failed"] = fail_run.handler(payload, context)
        raise
    return state


def build_all(state: dict[str, Any], context: Any) -> list[dict[str, Any]]:
    """The BuildParts Distributed Map: one BuildPart per item of the parts manifest."""
    body = boto3.client("s3").get_object(Bucket=state["plan"]["bucket"], Key=state["plan"]["parts_key"])
    items = json.loads(body["Body"].read())
    return [build_part.handler({"run": state["run"], "part": item}, context) for item in items]


def earn_all(state: dict[str, Any], context: Any) -> list[dict[str, Any]]:
    """The Distributed Map: one EarnShard per manifest item (ItemReader over the S3 JSON array)."""
    body = boto3.client("s3").get_object(Bucket=state["plan"]["bucket"], Key=state["plan"]["manifest_key"])[
        "Body"
    ]
    items = json.loads(body.read())
    return [earn_shard.handler({"run": state["run"], "shard": item}, context) for item in items]
