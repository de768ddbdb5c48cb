"""What the pages show beyond one clinic's registry: the program year's payouts run by run (by clinic,
payer and program), the funding pools they are set against, and the file-intake health of the plan.

Read-only: the run registry, each closed final run's `summary.json` (its totals per clinic, payer and
program: one object per run rather than every entry), the run being rendered's own entries, and the file
log. Nothing is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from shared.dal.errors import NotFoundError
from shared.dal.files import FileLog
from shared.logic.benchmark import check_pool
from shared.models.files import FileStatus
from shared.models.ledger import LedgerEntry
from shared.models.members import BENCHMARK_PROGRAM, CARE_GAP_PROGRAM
from shared.models.runs import Run, RunKind, RunMode, RunRef
from shared.models.tables import Prefix
from shared.observability import logger
from shared.services.kinds import kind_of
from shared.services.kinds.annual_apc import APC_PROGRAM
from shared.services.kinds.base import RunContext
from shared.services.run_records import RECENT_RUNS

THIS_RUN = "this run"
PROGRAM_NAMES = {CARE_GAP_PROGRAM: "Care Gap P4P", BENCHMARK_PROGRAM: "Benchmark P4P", APC_PROGRAM: "APC"}

Key = tuple[str, str, str]
"""(clinic id, payer, program)"""


@dataclass(frozen=True)
class RunPayout:
    """What one run pays, per clinic, payer and program; `month` is the month it pays in."""

    run_id: str
    run_kind: RunKind
    month: str
    status: str
    cents: Mapping[Key, int] = field(default_factory=dict)

    @property
    def total_cents(self) -> int:
        return sum(self.cents.values())

    def clinic_cents(self, clinic_id: str) -> int:
        return sum(v for (c, _, _), v in self.cents.items() if c == clinic_id)

    def program_cents(self, program: str) -> int:
        return sum(v for (_, _, p), v in self.cents.items() if p == program)


def program_year(run: RunRef | Run) -> int:
    """The program year a run belongs to: its month's (or quarter's) year, or its measurement year."""
    return int(run.period[:4])


def pages_as_of(run: RunRef, today: date) -> date:
    """The day a run's pages stand on, as its kind says (a month's last day, a measurement year's, a
    quarter's)."""
    return kind_of(run.run_kind).pages_as_of(run.period, today)


def _pays_in(run: RunRef | Run) -> str:
    return kind_of(run.run_kind).pays_in(run.period)


def _summed(entries: Iterable[LedgerEntry]) -> dict[Key, int]:
    found: dict[Key, int] = defaultdict(int)
    for e in entries:
        found[(e.clinic_id, e.payer, e.program)] += e.amount_cents
    return dict(found)


def year_payouts(
    ctx: RunContext,
    reports_bucket: str,
    year: int,
    current: RunRef | None = None,
    entries: Sequence[LedgerEntry] = (),
) -> list[RunPayout]:
    """Every closed final run of the program year (CALCULATED, APPROVED or PAID), and the run being
    rendered with its own entries, in the order they pay."""
    found: list[RunPayout] = []
    for run in ctx.runs.recent(limit=RECENT_RUNS):
        if run.mode is not RunMode.FINAL or not run.status.closed or program_year(run) != year:
            continue
        if current is not None and run.run_id == current.run_id:
            continue
        cents = _closed_run_cents(ctx, reports_bucket, run)
        if cents is not None:
            status = run.effective_status.value
            found.append(RunPayout(run.run_id, run.run_kind, _pays_in(run), status, cents))
    if current is not None and program_year(current) == year:
        status = f"{THIS_RUN} ({'preview, not paid' if current.mode is RunMode.PREVIEW else 'under review'})"
        found.append(RunPayout(current.run_id, current.run_kind, _pays_in(current), status, _summed(entries)))
    return sorted(found, key=lambda p: (p.month, p.run_kind.value, p.run_id))


def _closed_run_cents(ctx: RunContext, reports_bucket: str, run: Run) -> dict[Key, int] | None:
    """A closed run's payouts from its summary (one object, whatever the run's size)."""
    try:
        summary = ctx.objects.get_json(reports_bucket, f"{Prefix.RUNS}{run.run_id}/summary.json")
    except NotFoundError:
        logger.warning("run summary missing; the run is left off the pages", run_id=run.run_id)
        return None
    if "payouts" in summary:
        return {(p["clinic_id"], p["payer"], p["program"]): int(p["total_cents"]) for p in summary["payouts"]}
    # A summary written before it named payers and programs: a monthly run pays Care Gap awards and carried
    # balances only, all as the deployment's payer (its shards earn with `ctx.payer`).
    program = kind_of(run.run_kind).legacy_program
    return {
        (clinic_id, ctx.payer, program): int(figures["total_cents"])
        for clinic_id, figures in summary["clinics"].items()
    }


@dataclass(frozen=True)
class PoolLine:
    """A program's payouts for the year against the funding pool its program file names."""

    program: str
    paid_cents: int
    pool_cents: int | None
    warning: str | None

    @property
    def share(self) -> Decimal | None:
        """Paid as a percent of the pool (None without a pool)."""
        return Decimal(self.paid_cents * 100) / Decimal(self.pool_cents) if self.pool_cents else None


def pool_lines(ctx: RunContext, year: int, payouts: Sequence[RunPayout]) -> list[PoolLine]:
    """Each program paid this year (and each that names a pool), its payouts and its pool."""
    versions: dict[str, object] = {
        CARE_GAP_PROGRAM: ctx.programs.care_gap.for_year(year),
        BENCHMARK_PROGRAM: ctx.programs.benchmark.for_year(year),
        APC_PROGRAM: ctx.programs.apc.for_year(year),
    }
    # A program file may name a funding pool (Benchmark P4P's does); one that names none has no cap.
    pools: dict[str, Decimal | None] = {p: getattr(v, "funding_pool", None) for p, v in versions.items()}
    paid = {p: sum(r.program_cents(p) for r in payouts) for p in pools}
    found = []
    for program, pool in pools.items():
        if pool is None and not paid[program]:
            continue
        check = check_pool(pool, [paid[program]]) if pool is not None else None
        found.append(
            PoolLine(
                program=program,
                paid_cents=paid[program],
                pool_cents=check.pool_cents if check else None,
                warning=check.warning if check else None,
            )
        )
    return found


@dataclass(frozen=True)
class IntakeLine:
    """Files landed of one kind in one month and what became of them (files, and their rows)."""

    kind: str
    month: str
    accepted: int = 0
    rejected_rows: int = 0
    accepted_rows: int = 0
    quarantined: int = 0
    duplicate: int = 0
    failed: int = 0
    processing: int = 0

    @property
    def files(self) -> int:
        return self.accepted + self.quarantined + self.duplicate + self.failed + self.processing


def intake_health(log: FileLog | None) -> list[IntakeLine]:
    """Every drop the file log holds, by kind and the month it landed."""
    if log is None:
        return []
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for drop in log.drops():
        tally = counts[(drop.kind or "unknown", (drop.landed_at or "")[:7] or "unknown")]
        status = {
            FileStatus.ACCEPTED.value: "accepted",
            FileStatus.QUARANTINED.value: "quarantined",
            FileStatus.DUPLICATE.value: "duplicate",
            FileStatus.FAILED.value: "failed",
        }.get(drop.status, "processing")
        tally[status] += 1
        tally["accepted_rows"] += drop.accepted or 0
        tally["rejected_rows"] += drop.rejected or 0
    return [IntakeLine(kind, month, **dict(tally)) for (kind, month), tally in sorted(counts.items())]
