"""The funding-pool check of a run up for approval (`shared/logic/budget.py` has the rule).

Read-only: the run registry and each final run's `summary.json` in the reports bucket (its payouts per
clinic, payer and program: one object per run, whatever its size, which the operator function may
already read), and the program versions. The ledger is not read, so the check costs a few GETs.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Protocol

from shared.dal.errors import NotFoundError
from shared.dal.objects import ObjectStore
from shared.dal.runs import RunRegistry
from shared.errors import DomainError
from shared.logic.budget import periods_left, pool_projection, projected_rest
from shared.models.design import PoolProjection
from shared.models.members import BENCHMARK_PROGRAM, CARE_GAP_PROGRAM
from shared.models.runs import Run, RunKind, RunMode, RunStatus
from shared.models.tables import Prefix
from shared.observability import logger
from shared.programs.catalog import ProgramSet
from shared.services.kinds.annual_apc import APC_PROGRAM
from shared.services.run_records import RECENT_RUNS

PAID = (RunStatus.APPROVED, RunStatus.PAID)
# A summary written before it named programs: a monthly run pays Care Gap only, a quarterly run APC only.
_ONLY_PROGRAM = {RunKind.MONTHLY: CARE_GAP_PROGRAM, RunKind.QUARTERLY: APC_PROGRAM}


class FundingPoolExceededError(DomainError):
    """Approval refused: the run takes its program's projected year over a pool the program holds to."""


class _Pooled(Protocol):
    @property
    def version(self) -> str: ...

    @property
    def funding_pool(self) -> Decimal | None: ...

    @property
    def refuse_approval_over_pool(self) -> bool: ...


def run_program_cents(store: ObjectStore, reports_bucket: str, run: Run) -> dict[str, int] | None:
    """What a closed final run pays per program, from its summary (None when it has none to read)."""
    try:
        summary = store.get_json(reports_bucket, f"{Prefix.RUNS}{run.run_id}/summary.json")
    except NotFoundError:
        logger.warning("run summary missing; left out of the funding-pool check", run_id=run.run_id)
        return None
    found: dict[str, int] = defaultdict(int)
    if "payouts" in summary:
        for payout in summary["payouts"]:
            found[str(payout["program"])] += int(payout["total_cents"])
        return dict(found)
    program = _ONLY_PROGRAM.get(run.run_kind)
    if program is None:
        logger.warning("run summary names no programs; left out of the funding-pool check", run_id=run.run_id)
        return None
    return {program: int(summary["total_cents"])}


def pool_projections(
    *, runs: RunRegistry, store: ObjectStore, reports_bucket: str, programs: ProgramSet, run: Run
) -> list[PoolProjection]:
    """Each program the run pays whose version for the run's program year names a funding pool, its year
    projected against the pool (none for a preview or a run not yet calculated)."""
    if run.mode is not RunMode.FINAL or not run.status.closed:
        return []
    year = run.program_year
    versions: dict[str, _Pooled | None] = {
        CARE_GAP_PROGRAM: programs.care_gap.for_year(year),
        BENCHMARK_PROGRAM: programs.benchmark.for_year(year),
        APC_PROGRAM: programs.apc.for_year(year),
    }
    pooled = {p: v for p, v in versions.items() if v is not None and v.funding_pool is not None}
    if not pooled:
        return []
    this = run_program_cents(store, reports_bucket, run) or {}
    # The programs the run pays (a monthly run netting to zero still pays Care Gap); not the others' pools.
    pooled = {p: v for p, v in pooled.items() if p in this}
    if not pooled:
        return []
    paid: dict[str, int] = defaultdict(int)
    kind_cents: dict[str, int] = defaultdict(int)
    kind_runs = 1  # this run
    for other in runs.recent(limit=RECENT_RUNS):
        if other.run_id == run.run_id or other.mode is not RunMode.FINAL or other.program_year != year:
            continue
        if other.effective_status not in PAID:
            continue
        cents = run_program_cents(store, reports_bucket, other)
        if cents is None:
            continue
        for program, amount in cents.items():
            paid[program] += amount
        if other.run_kind is run.run_kind:
            kind_runs += 1
            for program, amount in cents.items():
                kind_cents[program] += amount
    left = periods_left(run.run_kind.value, run.period)
    found = []
    for program, version in sorted(pooled.items()):
        assert version is not None and version.funding_pool is not None
        found.append(
            pool_projection(
                program=program,
                version=version.version,
                year=year,
                run_id=run.run_id,
                pool=version.funding_pool,
                paid_cents=paid[program],
                run_cents=this[program],
                rest_cents=projected_rest(kind_cents[program] + this[program], kind_runs, left),
                left=left,
                refuses=version.refuse_approval_over_pool,
            )
        )
    return found


def check_approval(projections: list[PoolProjection]) -> None:
    """Log each pool the run's year goes over; FundingPoolExceededError where the program refuses it."""
    for p in projections:
        if p.exceeds:
            logger.warning(
                "projected payouts exceed the funding pool",
                run_id=p.run_id,
                program=p.program,
                over_by_cents=p.over_by_cents,
                refuses_approval=p.refuses_approval,
            )
    refusing = [p.warning for p in projections if p.exceeds and p.refuses_approval and p.warning]
    if refusing:
        raise FundingPoolExceededError(f"run {projections[0].run_id}: " + "; ".join(refusing))
