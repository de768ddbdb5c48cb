"""What operators do to a calculated run: list, approve, mark paid. Each move is a conditional write."""

from __future__ import annotations

from shared.dal.errors import StaleVersionError
from shared.dal.runs import RunRegistry
from shared.models.runs import Run, RunMode, RunStatus


class RunNotFoundError(LookupError):
    """No run has that id."""


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
        run = self._runs.get(run_id)
        if run is None:
            raise RunNotFoundError(f"no run {run_id}")
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
