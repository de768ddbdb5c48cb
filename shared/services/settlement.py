"""Settling a run once its shards have earned: AggregateRun, RenderStatements and CloseRun.

The shards' result files are summed per clinic; a monthly run brings in the previous run's carried
balances and carries out every clinic still negative; statements and the payment file are rendered from
the same entries; closing checks that ledger, statements and payment file agree to the cent before the
run becomes CALCULATED. Earning the shards is `shared/services/runs.py`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from shared.dal.errors import NotFoundError
from shared.dal.gap_state import GapStateRepository
from shared.dal.ledger import LedgerRepository
from shared.dal.objects import ObjectStore
from shared.dal.runs import RunRegistry
from shared.logic.dates import month_end
from shared.logic.reversals import carry_balances
from shared.models.ledger import LedgerEntry
from shared.models.members import CARE_GAP_PROGRAM
from shared.models.runs import (
    AggregateInput,
    ClosedRun,
    CloseInput,
    MeasureCount,
    RenderInput,
    RunKind,
    RunMode,
    RunRef,
    RunStatus,
    RunTotals,
    ShardOutput,
    ShardRef,
    StatementsResult,
)
from shared.models.tables import Prefix
from shared.observability import logger
from shared.programs.care_gap import ProgramCatalog
from shared.services.lifecycle import earlier_final_runs, require_run
from shared.services.statements import (
    payment_csv,
    payment_total_cents,
    rates_csv,
    statement_csv,
    statement_html,
)

LEDGER_READ_ATTEMPTS = 4
BALANCES_SHARD = "balances"


class ShardResultMissingError(Exception):
    """A shard of the plan has no result file: the Map did not finish."""


class ReconciliationError(Exception):
    """Ledger, statements and payment file totals disagree; the run must not close."""


def manifest_key(run_id: str) -> str:
    """Where PlanShards writes the run's shard manifest in the curated bucket."""
    return f"{Prefix.RUNS}{run_id}/shards.json"


def result_key(run_id: str, shard_id: str) -> str:
    """Where a shard's (or the carried balances') result file lives in the curated bucket."""
    return f"{Prefix.RUNS}{run_id}/results/{shard_id}.json"


class SettlementService:
    """Aggregate, render and close a run from its shard results; repositories come in the constructor."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        gaps: GapStateRepository,
        ledger: LedgerRepository,
        runs: RunRegistry,
        catalog: ProgramCatalog,
        curated_bucket: str,
        reports_bucket: str,
    ) -> None:
        self._store = store
        self._gaps = gaps
        self._ledger = ledger
        self._runs = runs
        self._catalog = catalog
        self._curated = curated_bucket
        self._reports = reports_bucket

    # AggregateRun
    def aggregate(self, item: AggregateInput) -> RunTotals:
        """Sum the shard results per clinic, settle carried balances (monthly) and write the run summary."""
        run = item.run
        outputs = self._outputs(run.run_id, item.plan.bucket, item.plan.manifest_key)
        if run.run_kind is RunKind.MONTHLY:
            balances = self._carry(run, outputs)
            self._store.put_json(
                self._curated, result_key(run.run_id, BALANCES_SHARD), balances.model_dump(mode="json")
            )
            outputs.append(balances)
        by_clinic: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for out in outputs:
            for e in out.entries:
                by_clinic[e.clinic_id][0] += 1
                by_clinic[e.clinic_id][1] += e.amount_cents
        counts = _merge_counts(outputs)
        entry_count = sum(v[0] for v in by_clinic.values())
        total = sum(v[1] for v in by_clinic.values())
        kinds: dict[str, int] = defaultdict(int)
        for out in outputs:
            for e in out.entries:
                kinds[e.kind.value] += e.amount_cents
        summary = {
            "run_id": run.run_id,
            "run_kind": run.run_kind.value,
            "period": run.period,
            "mode": run.mode.value,
            "entry_count": entry_count,
            "total_cents": total,
            "skipped_paid_earlier": sum(o.skipped_paid_earlier for o in outputs),
            "total_cents_by_kind": dict(sorted(kinds.items())),
            "clinics": {c: {"entry_count": v[0], "total_cents": v[1]} for c, v in sorted(by_clinic.items())},
            "measure_counts": [m.model_dump(mode="json") for m in counts],
        }
        self._store.put_json(self._reports, f"{Prefix.RUNS}{run.run_id}/summary.json", summary)
        clinic_count = (
            len(by_clinic) if run.run_kind is RunKind.MONTHLY else len({m.clinic_id for m in counts})
        )
        logger.info("run aggregated", run_id=run.run_id, entry_count=entry_count, clinic_count=clinic_count)
        return RunTotals(entry_count=entry_count, total_cents=total, clinic_count=clinic_count)

    def _outputs(self, run_id: str, manifest_bucket: str, manifest_key: str) -> list[ShardOutput]:
        refs = [ShardRef.model_validate(r) for r in self._store.get_json(manifest_bucket, manifest_key)]
        outputs = []
        for ref in refs:
            try:
                body = self._store.get_json(self._curated, result_key(run_id, ref.shard_id))
            except NotFoundError:
                raise ShardResultMissingError(f"shard {ref.shard_id} of run {run_id} has no result") from None
            outputs.append(ShardOutput.model_validate(body))
        return outputs

    def _carry(self, run: RunRef, outputs: list[ShardOutput]) -> ShardOutput:
        """Bring in the previous run's carried balances and carry out every clinic still negative."""
        totals: dict[str, int] = defaultdict(int)
        for out in outputs:
            for e in out.entries:
                totals[e.clinic_id] += e.amount_cents
        # The latest closed final monthly run before this month: its carried balances open this run.
        closed = [r for r in earlier_final_runs(self._runs, run.period) if r.status.closed]
        previous = max(closed, key=lambda r: r.period, default=None)
        carried_in = self._ledger.balances(previous.run_id) if previous else []
        balances = carry_balances(
            totals,
            carried_in,
            program=CARE_GAP_PROGRAM,
            run_id=run.run_id,
            month=run.period,
            as_of=month_end(run.period),
        )
        if run.mode is RunMode.FINAL:
            for entry in balances:
                stored, _ = self._ledger.record(entry)
                if stored.amount_cents != entry.amount_cents or stored.run_id != run.run_id:
                    raise ReconciliationError("a carried balance of this run changed since it was recorded")
        return ShardOutput(run_id=run.run_id, shard_id=BALANCES_SHARD, entries=tuple(balances))

    def _run_outputs(self, run: RunRef) -> list[ShardOutput]:
        """Every shard's result plus, for monthly runs, the carried balances AggregateRun settled."""
        outputs = self._outputs(run.run_id, self._curated, manifest_key(run.run_id))
        if run.run_kind is RunKind.MONTHLY:
            try:
                body = self._store.get_json(self._curated, result_key(run.run_id, BALANCES_SHARD))
            except NotFoundError:
                raise ShardResultMissingError(f"run {run.run_id} has no balances result") from None
            outputs.append(ShardOutput.model_validate(body))
        return outputs

    # RenderStatements
    def render(self, item: RenderInput) -> StatementsResult:
        """Write a statement per clinic (CSV + HTML), the payment file and, for annual runs, the rates."""
        run = item.run
        outputs = self._run_outputs(run)
        entries_by_clinic: dict[str, list[LedgerEntry]] = defaultdict(list)
        for out in outputs:
            for e in out.entries:
                entries_by_clinic[e.clinic_id].append(e)
        clinics = self._gaps.clinics()
        missing = sorted(set(entries_by_clinic) - set(clinics))
        if missing:
            raise ReconciliationError(f"{len(missing)} paid clinic(s) missing from the clinic registry")
        totals = {c: sum(e.amount_cents for e in es) for c, es in entries_by_clinic.items()}
        if any(cents < 0 for cents in totals.values()):
            raise ReconciliationError("a clinic nets negative after carried balances")
        categories = self._categories(e for es in entries_by_clinic.values() for e in es)
        for clinic_id, entries in sorted(entries_by_clinic.items()):
            base = f"{Prefix.STATEMENTS}{run.run_id}/{clinic_id}"
            page_csv = statement_csv(run.run_id, clinic_id, entries, categories=categories)
            self._store.put_bytes(self._reports, f"{base}.csv", page_csv, "text/csv")
            page = statement_html(run.run_id, clinics[clinic_id], entries, categories=categories)
            self._store.put_bytes(self._reports, f"{base}.html", page, "text/html")
        payment_key = f"{Prefix.PAYMENTS}{run.run_id}.csv"
        self._store.put_bytes(
            self._reports, payment_key, payment_csv(run.run_id, totals, clinics), "text/csv"
        )
        if run.run_kind is RunKind.ANNUAL:
            rates_key = f"{Prefix.RUNS}{run.run_id}/rates.csv"
            self._store.put_bytes(self._reports, rates_key, rates_csv(_merge_counts(outputs)), "text/csv")
        total = sum(totals.values())
        if total != item.totals.total_cents:
            raise ReconciliationError("statements total differs from the aggregated total")
        logger.info("statements rendered", run_id=run.run_id, statement_count=len(totals), total_cents=total)
        return StatementsResult(statement_count=len(totals), payment_file_key=payment_key, total_cents=total)

    def _categories(self, entries: Iterable[LedgerEntry]) -> dict[str, str]:
        """Action code -> menu category, from the program version of each entry's measurement year."""
        found: dict[str, str] = {}
        for e in entries:
            if e.kind.is_balance or e.action in found:
                continue
            program = self._catalog.find(date(int(e.period[:4]), 12, 31))
            try:
                found[e.action] = program.action(e.action).category.value if program else "unknown"
            except KeyError:
                found[e.action] = "unknown"
        return found

    # CloseRun
    def close(self, item: CloseInput) -> ClosedRun:
        """Check ledger = statements = payment file to the cent, then move the run OPEN -> CALCULATED."""
        run = require_run(self._runs, item.run.run_id)
        if run.status.closed:
            return ClosedRun(run_id=run.run_id, status=run.status)
        payment_total = payment_total_cents(
            self._store.get_bytes(self._reports, item.statements.payment_file_key)
        )
        expected = {item.totals.total_cents, item.statements.total_cents, payment_total}
        if len(expected) != 1:
            raise ReconciliationError("aggregated, statement and payment file totals differ")
        ledger_total, ledger_count = self._recorded_total(item.run, payment_total)
        if ledger_total != payment_total or ledger_count != item.totals.entry_count:
            raise ReconciliationError("ledger total differs from statements and payment file")
        closed = self._runs.transition(
            run,
            RunStatus.CALCULATED,
            allowed_from={RunStatus.OPEN},
            entry_count=ledger_count,
            total_cents=ledger_total,
        )
        logger.info("run calculated", run_id=run.run_id, entry_count=ledger_count, total_cents=ledger_total)
        return ClosedRun(run_id=closed.run_id, status=closed.status)

    def _recorded_total(self, run: RunRef, expected: int) -> tuple[int, int]:
        """The run's own ledger total (final) or its shard results' total (preview writes no ledger)."""
        if run.mode is RunMode.PREVIEW or run.run_kind is RunKind.ANNUAL:
            outputs = self._run_outputs(run)
            return sum(o.total_cents for o in outputs), sum(len(o.entries) for o in outputs)
        total, count = 0, 0
        # gsi1 is eventually consistent: give freshly written entries a moment to appear.
        for attempt in range(LEDGER_READ_ATTEMPTS):
            entries = list(self._ledger.by_run(run.run_id))
            total, count = sum(e.amount_cents for e in entries), len(entries)
            if total == expected:
                break
            time.sleep(0.5 * 2**attempt)
        return total, count


def _merge_counts(outputs: list[ShardOutput]) -> list[MeasureCount]:
    den: dict[tuple[str, str], int] = defaultdict(int)
    num: dict[tuple[str, str], int] = defaultdict(int)
    for out in outputs:
        for m in out.measure_counts:
            den[(m.clinic_id, m.action)] += m.denominator
            num[(m.clinic_id, m.action)] += m.numerator
    return [
        MeasureCount(clinic_id=c, action=a, denominator=den[(c, a)], numerator=num[(c, a)])
        for c, a in sorted(den)
    ]
