"""The table of run kinds: each kind's module, by `RunKind` (the infrastructure's table is
`shared.models.tables.RUN_KINDS`, one state machine per row; a test holds the two equal)."""

from __future__ import annotations

from shared.models.runs import RunKind
from shared.services.kinds.annual import AnnualIncentive
from shared.services.kinds.base import Report, RunContext, RunInputError, RunKindModule
from shared.services.kinds.monthly import MonthlySvu
from shared.services.kinds.quarterly import QuarterlyPmpm

__all__ = ["KINDS", "Report", "RunContext", "RunInputError", "RunKindModule", "kind_of"]

KINDS: dict[RunKind, RunKindModule] = {
    module.kind: module for module in (MonthlySvu(), AnnualIncentive(), QuarterlyPmpm())
}


def kind_of(run_kind: RunKind) -> RunKindModule:
    """The module of a run kind."""
    return KINDS[run_kind]
