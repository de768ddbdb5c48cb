"""Registry look-ups every run step and operator move shares."""

from __future__ import annotations

from shared.dal.runs import RunRegistry
from shared.errors import DomainError
from shared.models.runs import Run, RunKind, RunMode, RunStatus

# Far more runs than a plan makes in the years a final run can look back on.
RECENT_RUNS = 500


class RunNotFoundError(DomainError):
    """No run has that id."""


class RunNotOpenError(DomainError):
    """A run step was asked to work on a run that is not OPEN (closed, approved, paid or failed)."""


def require_run(runs: RunRegistry, run_id: str) -> Run:
    """The run with that id, or RunNotFoundError."""
    run = runs.get(run_id)
    if run is None:
        raise RunNotFoundError(f"no run {run_id}")
    return run


def require_open(runs: RunRegistry, run_id: str) -> Run:
    """The run, if it is OPEN; RunNotOpenError (naming its status) otherwise."""
    run = require_run(runs, run_id)
    if run.status is not RunStatus.OPEN:
        raise RunNotOpenError(
            f"run {run_id} is {run.effective_status.value}: its steps run only while it is OPEN"
        )
    return run


def final_runs(runs: RunRegistry, kind: RunKind) -> list[Run]:
    """Final runs of one kind, whatever their status."""
    return [r for r in runs.recent(limit=RECENT_RUNS) if r.run_kind is kind and r.mode is RunMode.FINAL]
