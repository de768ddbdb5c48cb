"""Drive the handlers the way the ingest queue and the state machines do, in contract order."""

from __future__ import annotations

import json
from typing import Any

import boto3

from events import load_event, sqs_s3_event
from functions.ingest import ingest_file
from functions.runs import (
    aggregate_run,
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


def run_month(
    context: Any, month: str, mode: str = "final", execution_name: str | None = None
) -> dict[str, Any]:
    """Execute the monthly state machine's tasks in order; returns the accumulated state."""
    request = load_event("run_monthly_final") | {"month": month, "program_year": int(month[:4]), "mode": mode}
    if execution_name:
        request["execution_name"] = execution_name
    return run_request(context, request)


def run_request(context: Any, request: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = dict(request)
    try:
        state["run"] = open_run.handler(request, context)
        state["plan"] = plan_shards.handler({"run": state["run"]}, context)
        state["shards"] = earn_all(state, context)
        state["totals"] = aggregate_run.handler({"run": state["run"], "plan": state["plan"]}, context)
        state["statements"] = render_statements.handler(
            {"run": state["run"], "totals": state["totals"]}, context
        )
        state["closed"] = close_run.handler(
            {"run": state["run"], "totals": state["totals"], "statements": state["statements"]}, context
        )
    except Exception as error:
        payload = {"error": {"Error": type(error).__name__, "Cause": "see logs"}}
        if "run" in state:
            payload["run"] = state["run"]
        state["failed"] = fail_run.handler(payload, context)
        raise
    return state


def earn_all(state: dict[str, Any], context: Any) -> list[dict[str, Any]]:
    """The Distributed Map: one EarnShard per manifest item (ItemReader over the S3 JSON array)."""
    body = boto3.client("s3").get_object(Bucket=state["plan"]["bucket"], Key=state["plan"]["manifest_key"])[
        "Body"
    ]
    items = json.loads(body.read())
    return [earn_shard.handler({"run": state["run"], "shard": item}, context) for item in items]
