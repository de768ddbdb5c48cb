"""Wait for a state machine execution as it runs: until it ends, reporting its steps and Map items.

A wait has no fixed budget: a busy machine runs a month more slowly, and that is not a failure. It polls
the execution, and on each change of its history (a step entered, an event added) or of its Map runs'
item counts it tells the caller. The only limit is an overall one, by default the state machine's own
`TimeoutSeconds` (Step Functions would end the execution then anyway), else `DEFAULT_LIMIT_S`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

DEFAULT_LIMIT_S = 6 * 3600.0
"""The limit when the state machine states none: six hours, the monthly run's own `TimeoutSeconds`."""
_POLL_S = (0.05, 0.5)
"""The first and the longest pause between polls: each poll costs the run CPU time, so while nothing
changes the pause doubles, and it starts short again when the execution moves."""
_LOOK_EVERY_S = 2.0
"""How often history and Map runs are read: moto serializes the whole history, inputs and outputs, on each
read, which cost a month's run a tenth of its time when read twice a second."""
_FAILED_EVENT_SUFFIXES = ("Failed", "TimedOut", "Aborted")
_ENDINGS = threading.Condition()
_ended = [0]
"""How many executions of this process have ended (moto's, once `signalled_ends` hooks them): a wait wakes
when one ends instead of sleeping out its pause, which cost every local execution up to half a second."""
_signalling = [0]
"""How many `signalled_ends` are active; with none (a deployed stack, a client of `p4p local serve`) a
wait sleeps plainly."""


def execution_ended() -> None:
    """Wake the waiters: an execution of this process has ended."""
    with _ENDINGS:
        _ended[0] += 1
        _ENDINGS.notify_all()


@contextmanager
def signalled_ends() -> Iterator[None]:
    """While active, each of moto's executions calls `execution_ended` as it ends (the local runtime's)."""
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication as Ending

    original = Ending.terminated

    def terminated(self: Ending) -> None:
        try:
            original(self)
        finally:
            execution_ended()

    with mock.patch.object(Ending, "terminated", terminated):
        _signalling[0] += 1
        try:
            yield
        finally:
            _signalling[0] -= 1


def _pause(seen: int, seconds: float) -> None:
    """Sleep `seconds`; while moto's executions signal their ends, only until one ends after `seen` were
    counted."""
    if not _signalling[0]:
        time.sleep(seconds)
        return
    with _ENDINGS:
        _ENDINGS.wait_for(lambda: _ended[0] != seen, timeout=seconds)


@dataclass(frozen=True)
class ExecutionProgress:
    """What a running execution has done so far, as its history and Map runs report it."""

    execution_arn: str
    step: str | None
    """The state entered last (None before the first)."""
    events: int
    items_done: int
    """Map items finished (succeeded, failed, aborted or timed out) across the execution's Map runs."""
    items_total: int
    elapsed_s: float

    @property
    def moved(self) -> tuple[str | None, int, int, int]:
        """What changes when the execution makes progress (not the clock)."""
        return (self.step, self.events, self.items_done, self.items_total)


ProgressCallback = Callable[[ExecutionProgress], None]


@dataclass(frozen=True)
class ExecutionResult:
    """How a state machine execution ended."""

    execution_arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    failed_step: str | None = None
    """The step whose failure ended the execution, and that step's own error, when the history says."""
    step_error: str | None = None

    def failure_line(self) -> str:
        """One line: the execution's status, error and cause as it reports them, and the failed step."""
        line = f"{self.status}: {self.error or 'no error given'}"
        if self.cause:
            line += f": {_one_line(_lambda_cause(self.cause))}"
        if self.failed_step:
            # The step's own error, unless the execution already said it.
            said = self.step_error and self.step_error not in line
            line += f" (at {self.failed_step}: {self.step_error})" if said else f" (at {self.failed_step})"
        return line


class ExecutionTimeoutError(Exception):
    """An execution was still running when the overall limit of the wait passed."""

    def __init__(self, execution_arn: str, limit_s: float, progress: ExecutionProgress | None) -> None:
        where = f", last at {progress.step}" if progress and progress.step else ""
        super().__init__(f"still RUNNING after the {_duration(limit_s)} limit{where} ({execution_arn})")
        self.execution_arn = execution_arn
        self.progress = progress


def start_and_wait(
    stack: Any,
    state_machine_arn: str,
    payload: Mapping[str, Any],
    name: str | None = None,
    timeout_s: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> ExecutionResult:
    """Start an execution and wait for its end (moto runs it in a worker thread); see `wait_for_execution`."""
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name or uuid.uuid4().hex, input=json.dumps(payload)
    )["executionArn"]
    return wait_for_execution(sfn, arn, limit_s=timeout_s, on_progress=on_progress)


def definition_timeout(sfn: Any, state_machine_arn: str) -> float:
    """The state machine's `TimeoutSeconds`, or `DEFAULT_LIMIT_S` when it states none."""
    definition = sfn.describe_state_machine(stateMachineArn=state_machine_arn)["definition"]
    try:
        seconds = json.loads(definition).get("TimeoutSeconds")
    except (json.JSONDecodeError, AttributeError):
        seconds = None
    return float(seconds) if isinstance(seconds, int | float) and seconds > 0 else DEFAULT_LIMIT_S


def wait_for_execution(
    sfn: Any,
    execution_arn: str,
    *,
    limit_s: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> ExecutionResult:
    """Poll until the execution leaves RUNNING; call `on_progress` whenever it moved; raise
    `ExecutionTimeoutError` only once `limit_s` (default: its state machine's TimeoutSeconds) has passed."""
    started = time.monotonic()
    next_look = started
    pause = _POLL_S[0]
    progress: ExecutionProgress | None = None
    while True:
        seen = _ended[0]
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            break
        if limit_s is None:
            limit_s = definition_timeout(sfn, described["stateMachineArn"])
        now = time.monotonic()
        if now - started > limit_s:
            raise ExecutionTimeoutError(execution_arn, limit_s, progress)
        if on_progress is not None and now >= next_look:
            seen = read_progress(sfn, execution_arn, now - started)
            if progress is None or seen.moved != progress.moved:
                on_progress(seen)
                pause = _POLL_S[0]
            progress, next_look = seen, now + _LOOK_EVERY_S
        _pause(seen, pause)
        pause = min(pause * 2, _POLL_S[1])
    output = described.get("output")
    failed_step, step_error = (None, None)
    if described["status"] != "SUCCEEDED":
        failed_step, step_error = _last_failure(history(sfn, execution_arn))
    return ExecutionResult(
        execution_arn=execution_arn,
        status=described["status"],
        output=json.loads(output) if output else None,
        error=described.get("error"),
        cause=described.get("cause"),
        failed_step=failed_step,
        step_error=step_error,
    )


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every history event of the execution, oldest first."""
    events: list[dict[str, Any]] = []
    request: dict[str, Any] = {"executionArn": execution_arn, "includeExecutionData": False}
    while True:
        page = sfn.get_execution_history(**request)
        events.extend(page.get("events", []))
        if not page.get("nextToken"):
            return events
        request["nextToken"] = page["nextToken"]


def read_progress(sfn: Any, execution_arn: str, elapsed_s: float) -> ExecutionProgress:
    """The execution's progress now: its last entered step, its history's length and its Map items."""
    events = history(sfn, execution_arn)
    step = next(
        (e["stateEnteredEventDetails"]["name"] for e in reversed(events) if "stateEnteredEventDetails" in e),
        None,
    )
    done = total = 0
    if any(e.get("type") == "MapRunStarted" for e in events):
        done, total = _map_items(sfn, execution_arn)
    return ExecutionProgress(execution_arn, step, len(events), done, total, elapsed_s)


def _map_items(sfn: Any, execution_arn: str) -> tuple[int, int]:
    """Items finished and items in all, over the execution's Distributed Map runs."""
    done = total = 0
    try:
        for listed in sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", []):
            counts = sfn.describe_map_run(mapRunArn=listed["mapRunArn"]).get("itemCounts", {})
            done += sum(int(counts.get(k, 0)) for k in ("succeeded", "failed", "aborted", "timedOut"))
            total += int(counts.get("total", 0))
    except Exception:  # progress is for show: a read that fails must not end the wait
        return 0, 0
    return done, total


def _last_failure(events: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The step of the last failure before the execution's own end (retried failures come earlier, a
    Catch's handling later), and that failure's error and cause in one line."""
    step: str | None = None
    found: tuple[str | None, str | None] = (None, None)
    for event in events:
        entered = event.get("stateEnteredEventDetails")
        if entered:
            step = entered.get("name")
            continue
        kind = str(event.get("type", ""))
        if kind.startswith("Execution") or not kind.endswith(_FAILED_EVENT_SUFFIXES):
            continue
        details = next(
            (v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {}
        )
        error, cause = details.get("error"), details.get("cause")
        text = ": ".join(_one_line(str(part)) for part in (error, _lambda_cause(cause)) if part)
        found = (step, text or kind)
    return found


def _lambda_cause(cause: Any) -> Any:
    """A Lambda error payload (errorType, errorMessage, stackTrace) as its message, without the trace."""
    try:
        payload = json.loads(cause) if isinstance(cause, str) else None
    except json.JSONDecodeError:
        return cause
    if isinstance(payload, dict) and "errorMessage" in payload:
        return payload["errorMessage"]
    return cause


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"
