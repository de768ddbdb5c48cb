"""Operator commands: start the monthly and annual runs, list runs, wait for an execution."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cli.stack import StackRef

MONTH_PATTERN = re.compile(r"^(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])$")
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class RunInputError(ValueError):
    """An operator gave a month, year or mode the runs do not accept."""


@dataclass(frozen=True)
class Execution:
    arn: str
    status: str
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None


def monthly_input(month: str, mode: str) -> dict[str, Any]:
    """The execution input of a monthly SVU run (docs/architecture.md)."""
    match = MONTH_PATTERN.match(month)
    if not match:
        raise RunInputError(f"month must look like YYYY-MM, got {month!r}")
    _check_mode(mode)
    return {"run_kind": "monthly", "program_year": int(match["year"]), "month": month, "mode": mode}


def annual_input(year: int, mode: str) -> dict[str, Any]:
    """The execution input of an annual incentive run."""
    if not 2000 <= year <= 2100:
        raise RunInputError(f"year must be a four-digit program year, got {year}")
    _check_mode(mode)
    return {"run_kind": "annual", "program_year": year, "mode": mode}


def _check_mode(mode: str) -> None:
    if mode not in {"final", "preview"}:
        raise RunInputError(f"mode must be final or preview, got {mode!r}")


def execution_name(run_input: dict[str, Any]) -> str:
    """Unique per start, readable in the console; a restart of the same month resumes the same run."""
    period = run_input.get("month") or str(run_input["program_year"])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return f"{run_input['run_kind']}-{period}-{run_input['mode']}-{stamp}"


def start_run(stack: StackRef, run_input: dict[str, Any]) -> str:
    """Start the run's state machine and return the execution ARN."""
    output_key = "MonthlyStateMachineArn" if run_input["run_kind"] == "monthly" else "AnnualStateMachineArn"
    response = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.output(output_key),
        name=execution_name(run_input),
        input=json.dumps(run_input),
    )
    return str(response["executionArn"])


def wait_for(stack: StackRef, execution_arn: str, timeout_s: float = 3600, poll_s: float = 1.0) -> Execution:
    """Poll an execution until it ends (or the timeout passes, reported as RUNNING)."""
    client = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while True:
        described = client.describe_execution(executionArn=execution_arn)
        status = described["status"]
        if status in TERMINAL or time.monotonic() >= deadline:
            output = json.loads(described["output"]) if described.get("output") else None
            return Execution(
                arn=execution_arn,
                status=status,
                output=output,
                error=described.get("error"),
                cause=described.get("cause"),
            )
        time.sleep(poll_s)
