"""What operators do to a calculated run (list, approve, mark paid), and the registry look-ups the run
steps share. Each move is a conditional write."""

from __future__ import annotations

from shared.dal.errors import StaleVersionError
from shared.dal.runs import RunRegistry
from shared.models.runs import Run, RunKind, RunMode, RunStatus

# Far more runs than a plan makes in the years a final run can look back on.
RECENT_RUNS = 500


class RunNotFoundError(LookupError):
    """No run has that id."""


def require_run(runs: RunRegistry, run_id: str) -> Run:
    """The run with that id, or RunNotFoundError."""
    run = runs.get(run_id)
    if run is None:
        raise RunNotFoundError(f"no run {run_id}")
    return run


def earlier_final_runs(runs: RunRegistry, period: str) -> list[Run]:
    """Final monthly runs of months before `period`, whatever their status."""
    return [
        r
        for r in runs.recent(limit=RECENT_RUNS)
        if r.run_kind is RunKind.MONTHLY and r.mode is RunMode.FINAL and r.period < period
    ]


class RunTransitionError(Exception):
    """The run is not in a status that allows the move (or it changed while we looked)."""


class RunLifecycle:
    """Approval and payment of runs, on top of the registry's version-guarded transitions."""

    def __init__(self, runs: RunRegistry) -> None:
        self._runs = runs

    def recent(self, limit: int = 50) -> list[Run]:
        """The newest runs first."""
        return self._runs.recent(limit)

    def approve(self, run_id: str) -> Run:
        """CALCULATED → APPROVED; only a final run's money can be approved."""
        return self._move(run_id, RunStatus.APPROVED, RunStatus.CALCULATED)

    def mark_paid(self, run_id: str) -> Run:
        """APPROVED → PAID, once finance has sent the payment file."""
        return self._move(run_id, RunStatus.PAID, RunStatus.APPROVED)

    def _move(self, run_id: str, to: RunStatus, required: RunStatus) -> Run:
        run = require_run(self._runs, run_id)
        if run.mode is not RunMode.FINAL:
            raise RunTransitionError(f"run {run_id} is a {run.mode.value} run; only final runs are paid")
        if run.status is not required:
            raise RunTransitionError(
                f"run {run_id} is {run.status.value}; it must be {required.value} to become {to.value}"
            )
        try:
            return self._runs.transition(run, to, allowed_from={required})
        except StaleVersionError:
            raise RunTransitionError(f"run {run_id} changed while it was being moved; look again") from None
