"""Exactly once on moto: replayed steps, a crash at every AWS call of a run, and loud reconciliation failures.

The driver below plays the monthly state machine's semantics with the real handlers: EarnShard is retried
(its Retry on States.TaskFailed), any other failed step goes to MarkFailed, and the operator starts the
month again. `tests/local/test_run_state_machine.py` runs the real ASL on the local runtime.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from cli.local.moto_speedups import partition_queries
from events import load_event
from functions.runs import (
    aggregate_run,
    close_run,
    earn_shard,
    fail_run,
    open_run,
    plan_shards,
    render_statements,
)
from shared.services import settlement
from shared.services.runs import RunAlreadyClosedError
from shared.services.settlement import ReconciliationError
from tests.functional.flow import land, open_payload
from tests.functional.plan_data import FILES, VOID_CL200
from tests.local.fixture_snapshot import Saved, Stores, restore, snapshot

SHARD_ATTEMPTS = 4  # the first try and EarnShard's three retries on States.TaskFailed


class InjectedFaultError(Exception):
    """Stands in for any AWS failure the k-th call could meet."""


@contextmanager
def fail_call(k: int | None) -> Iterator[list[str]]:
    """Make the k-th AWS API call (1-based) raise; yields the names of the calls made."""
    calls: list[str] = []
    original = BaseClient._make_api_call

    def wrapped(client: Any, operation: str, params: Any) -> Any:
        calls.append(operation)
        if len(calls) == k:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, operation)
        return original(client, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", wrapped):
        yield calls


def request(month: str) -> dict[str, Any]:
    """OpenRun's payload for a final month, as the monthly state machine builds it."""
    return open_payload(load_event("run_monthly_final") | {"month": month, "program_year": int(month[:4])})


def execute(context: Any, month: str, *, repeat: int = 1) -> dict[str, Any]:
    """One execution of the monthly state machine; `repeat` runs every step that many times."""
    state: dict[str, Any] = {}
    try:
        for _ in range(repeat):
            state["run"] = open_run.handler(request(month), context)
        for _ in range(repeat):
            state["plan"] = plan_shards.handler({"run": state["run"]}, context)
        for item in _manifest(state["plan"]):
            for _ in range(repeat):
                _earn_with_retries({"run": state["run"], "shard": item}, context)
        for _ in range(repeat):
            state["totals"] = aggregate_run.handler({"run": state["run"], "plan": state["plan"]}, context)
        for _ in range(repeat):
            state["statements"] = render_statements.handler(
                {"run": state["run"], "totals": state["totals"]}, context
            )
        for _ in range(repeat):
            state["closed"] = close_run.handler(
                {k: state[k] for k in ("run", "totals", "statements")}, context
            )
    except Exception as error:
        fail_run.handler(
            {"run": state.get("run"), "error": {"Error": type(error).__name__}, "step": "CloseRun"}, context
        )
        raise
    return state


def _manifest(plan: dict[str, Any]) -> list[dict[str, Any]]:
    from shared.dal.clients import s3_client

    body = s3_client().get_object(Bucket=plan["bucket"], Key=plan["manifest_key"])["Body"].read()
    items: list[dict[str, Any]] = json.loads(body)
    return items


def _earn_with_retries(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for attempt in range(SHARD_ATTEMPTS):
        try:
            result: dict[str, Any] = earn_shard.handler(event, context)
            return result
        except Exception:
            if attempt == SHARD_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def run_stores(aws: Any) -> Stores:
    """What a run writes: the three tables and these object prefixes (the landing bucket is only read)."""
    return Stores(
        s3=aws.s3,
        dynamodb=aws.dynamodb,
        tables=tuple(
            aws.names[t] for t in ("GAPS_TABLE", "LEDGER_TABLE", "REGISTRY_TABLE", "APPROVALS_TABLE")
        ),
        objects=((aws.names["CURATED_BUCKET"], "runs/"), (aws.names["REPORTS_BUCKET"], "")),
    )


def ledger_dump(aws: Any) -> list[str]:
    """The Ledger table, canonically: one sorted JSON line per item."""
    return sorted(
        json.dumps(i, sort_keys=True) for i in aws.dynamodb.scan(TableName=aws.names["LEDGER_TABLE"])["Items"]
    )


def report(aws: Any, key: str) -> bytes:
    body: bytes = aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read()
    return body


@pytest.fixture
def after_march(aws, lambda_context, monkeypatch) -> Iterator[Saved]:
    """March paid, then a void of M2's March claim ingested: April will earn, reverse and carry."""
    monkeypatch.setenv("SHARD_SIZE", "3")  # two shards: few calls per run, still a Map of several items
    with partition_queries():
        land(aws, lambda_context, FILES)
        execute(lambda_context, "2026-03")
        land(aws, lambda_context, {"landing/medical_claims/void-2026-04.csv": VOID_CL200})
        yield snapshot(run_stores(aws))


def test_every_step_run_twice_gives_the_clean_ledger(aws, lambda_context, after_march):
    # GIVEN April's clean ledger and payment file
    execute(lambda_context, "2026-04")
    clean, clean_payments = ledger_dump(aws), report(aws, "runs/monthly-2026-04-final/payment-draft.csv")
    restore(run_stores(aws), after_march)
    # WHEN April runs with every step executed twice, then the month is started once more
    twice = execute(lambda_context, "2026-04", repeat=2)
    with pytest.raises(RunAlreadyClosedError):
        execute(lambda_context, "2026-04")
    # THEN the ledger and the payment file are byte for byte the clean run's, with reversals and a carry
    assert twice["closed"]["status"] == "CALCULATED"
    assert ledger_dump(aws) == clean
    assert report(aws, "runs/monthly-2026-04-final/payment-draft.csv") == clean_payments
    kinds = {json.loads(i)["kind"]["S"] for i in clean if "2026-04" in json.loads(i)["run_id"]["S"]}
    assert kinds == {"EARN", "REVERSAL", "CARRY_OUT"}


def test_a_crash_at_any_aws_call_then_a_restart_gives_the_clean_ledger(aws, lambda_context, after_march):
    # GIVEN the calls and the ledger of a clean April run
    with fail_call(None) as calls:
        execute(lambda_context, "2026-04")
    clean, clean_payments = ledger_dump(aws), report(aws, "runs/monthly-2026-04-final/payment-draft.csv")
    outcomes = set()
    for k in range(1, len(calls) + 1):
        restore(run_stores(aws), after_march)
        # WHEN the k-th AWS call fails, and the month is started again if the execution failed
        try:
            with fail_call(k):
                execute(lambda_context, "2026-04")
            outcomes.add("absorbed")
        except Exception:
            outcomes.add("restarted")
            execute(lambda_context, "2026-04")
        # THEN the ledger and the payment file are the clean run's, byte for byte
        assert ledger_dump(aws) == clean, f"call {k} ({calls[k - 1]})"
        assert report(aws, "runs/monthly-2026-04-final/payment-draft.csv") == clean_payments
    print(f"{len(calls)} AWS calls in the run, each failed once")
    assert len(calls) > 30 and outcomes == {"absorbed", "restarted"}


def test_close_fails_loudly_when_the_ledger_or_the_payment_file_disagree(aws, lambda_context, monkeypatch):
    # GIVEN March earned, aggregated and rendered, then a stray entry written under March's run id
    monkeypatch.setattr(settlement, "LEDGER_READ_ATTEMPTS", 1)
    land(aws, lambda_context, FILES)
    run = open_run.handler(request("2026-03"), lambda_context)
    plan = plan_shards.handler({"run": run}, lambda_context)
    for item in _manifest(plan):
        earn_shard.handler({"run": run, "shard": item}, lambda_context)
    totals = aggregate_run.handler({"run": run, "plan": plan}, lambda_context)
    statements = render_statements.handler({"run": run, "totals": totals}, lambda_context)
    stray = aws.dynamodb.scan(TableName=aws.names["LEDGER_TABLE"])["Items"][0] | {
        "pk": {"S": "ENTRY#stray"},
        "amount_cents": {"N": "1"},
    }
    aws.dynamodb.put_item(TableName=aws.names["LEDGER_TABLE"], Item=stray)
    # WHEN the run is closed
    with pytest.raises(ReconciliationError, match="ledger total"):
        close_run.handler({"run": run, "totals": totals, "statements": statements}, lambda_context)
    # THEN it stays open to be failed; with the stray removed and the payment file edited it still refuses
    aws.dynamodb.delete_item(TableName=aws.names["LEDGER_TABLE"], Key={"pk": stray["pk"], "sk": stray["sk"]})
    edited = report(aws, statements["draft_key"]).replace(b"K2,222222222,", b"K2,222222222,1")
    aws.s3.put_object(Bucket=aws.names["REPORTS_BUCKET"], Key=statements["draft_key"], Body=edited)
    with pytest.raises(ReconciliationError, match="draft payment file totals differ"):
        close_run.handler({"run": run, "totals": totals, "statements": statements}, lambda_context)
    failed = fail_run.handler(
        {"run": run, "error": {"Error": "ReconciliationError"}, "step": "CloseRun"}, lambda_context
    )
    assert failed["status"] == "FAILED"
