"""Settling a run once its shards have earned: AggregateRun, RenderStatements and CloseRun.

The shards' result files are summed per clinic, with what the run's kind settles for the whole run
(the monthly run's carried balances); statements and the draft payment file are rendered from the same
entries; closing checks that ledger, statements and draft agree to the cent before the run becomes
CALCULATED. Beside the statements go the clinic and plan pages (`shared/services/pages.py`, under
`pages/<run>/`). Outputs follow the run's status: a final run's statements are written for review and its
draft payment file beside its summary, never under `payments/` (the payment file is written once, at
approval: `shared/services/lifecycle.py`); a preview writes everything under `previews/<run>/`, each
file marked PREVIEW in its name and first line. Earning the shards is `shared/services/runs.py`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

from shared import clock
from shared.dal.errors import NotFoundError
from shared.dal.files import FileLog
from shared.dal.objects import ObjectStore
from shared.errors import DomainError
from shared.logic.keys import key_segment
from shared.models.ledger import LedgerEntry, SvuAward
from shared.models.runs import (
    AggregateInput,
    ClosedRun,
    CloseInput,
    RenderInput,
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
from shared.services.kinds import RunContext, kind_of
from shared.services.kinds.annual import merge_counts
from shared.services.page_facts import StoredPageFacts
from shared.services.pages import PageService
from shared.services.run_records import require_open, require_run
from shared.services.statements import (
    draft_banner,
    payment_csv,
    payment_total_cents,
    preview_banner,
)

LEDGER_READ_ATTEMPTS = 4
BALANCES_SHARD = "balances"
DRAFT_NAME = "payment-draft.csv"


class ShardResultMissingError(DomainError):
    """A shard of the plan has no result file: the Map did not finish."""


class ReconciliationError(DomainError):
    """Ledger, statements and draft payment file totals disagree; the run must not close."""


def manifest_key(run_id: str) -> str:
    """Where PlanShards writes the run's shard manifest in the curated bucket."""
    return f"{Prefix.RUNS}{run_id}/shards.json"


def result_key(run_id: str, shard_id: str) -> str:
    """Where a shard's (or the carried balances') result file lives in the curated bucket."""
    return f"{Prefix.RUNS}{run_id}/results/{shard_id}.json"


def draft_key(run_id: str) -> str:
    """Where a final run's draft payment file lives in the reports bucket (for review, never paid)."""
    return f"{Prefix.RUNS}{run_id}/{DRAFT_NAME}"


def sha256_of(data: bytes) -> str:
    """The hex SHA-256 of a file's bytes."""
    return hashlib.sha256(data).hexdigest()


class _Outputs:
    """Where a run's statements, payment file and reports go in the reports bucket, by mode."""

    def __init__(self, run: RunRef) -> None:
        self.run_id = run.run_id
        self.preview = run.mode is RunMode.PREVIEW
        self.banner = preview_banner(run.run_id) if self.preview else None

    def statement(self, clinic_id: str, extension: str) -> str:
        # A clinic id is a key segment (intake admits no other); never a path into another prefix.
        clinic = key_segment(clinic_id)
        if self.preview:
            return f"{Prefix.PREVIEWS}{self.run_id}/statements/PREVIEW-{clinic}.{extension}"
        return f"{Prefix.STATEMENTS}{self.run_id}/{clinic}.{extension}"

    @property
    def payment(self) -> str:
        if self.preview:
            return f"{Prefix.PREVIEWS}{self.run_id}/PREVIEW-payment-{self.run_id}.csv"
        return draft_key(self.run_id)

    @property
    def payment_banner(self) -> str:
        return self.banner or draft_banner(self.run_id)

    def clinic_file(self, name: str) -> str:
        """A clinic's own output beside its statement (`statements/<run>/<name>`), e.g. its FHIR exports."""
        if self.preview:
            folder, _, file = name.rpartition("/")
            return f"{Prefix.PREVIEWS}{self.run_id}/statements/{folder + '/' if folder else ''}PREVIEW-{file}"
        return f"{Prefix.STATEMENTS}{self.run_id}/{name}"

    def page(self, name: str) -> str:
        """`pages/<run>/<name>`; a preview's under `previews/<run>/pages/`, its file name marked PREVIEW."""
        if self.preview:
            folder, _, file = name.rpartition("/")
            return f"{Prefix.PREVIEWS}{self.run_id}/pages/{folder + '/' if folder else ''}PREVIEW-{file}"
        return f"{Prefix.PAGES}{self.run_id}/{name}"

    def report(self, name: str) -> str:
        """`runs/<run>/<name>`; a preview's under `previews/<run>/`, its file name marked PREVIEW."""
        if self.preview:
            folder, _, file = name.rpartition("/")
            return f"{Prefix.PREVIEWS}{self.run_id}/{folder + '/' if folder else ''}PREVIEW-{file}"
        return f"{Prefix.RUNS}{self.run_id}/{name}"


class SettlementService:
    """Aggregate, render and close a run from its shard results; storage comes in the constructor."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        context: RunContext,
        curated_bucket: str,
        reports_bucket: str,
        sleep: clock.Sleep = clock.sleep,
        pages: bool = False,
        log: FileLog | None = None,
    ) -> None:
        """`pages`: RenderStatements writes the clinic and plan pages too (the deployed functions do; a
        service built for a benchmark of the run itself need not); `log` is the file log the plan page's
        intake health reads (none: the page says so)."""
        self._store = store
        self._pages = pages
        self._log = log
        self._context = context
        self._runs = context.runs
        self._ledger = context.ledger
        self._curated = curated_bucket
        self._reports = reports_bucket
        self._sleep = sleep

    # AggregateRun
    def aggregate(self, item: AggregateInput) -> RunTotals:
        """Sum the shard results per clinic with what the kind settles for the run; write the summary."""
        run = item.run
        require_open(self._runs, run.run_id)
        outputs = self._outputs(run.run_id, item.plan.bucket, item.plan.manifest_key)
        settled = kind_of(run.run_kind).settle(self._context, run, outputs)
        balances = ShardOutput(run_id=run.run_id, shard_id=BALANCES_SHARD, entries=tuple(settled))
        self._store.put_json(
            self._curated, result_key(run.run_id, BALANCES_SHARD), balances.model_dump(mode="json")
        )
        outputs.append(balances)
        by_clinic: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        kinds: dict[str, int] = defaultdict(int)
        payouts: dict[tuple[str, str, str], int] = defaultdict(int)
        for out in outputs:
            for e in out.entries:
                by_clinic[e.clinic_id][0] += 1
                by_clinic[e.clinic_id][1] += e.amount_cents
                kinds[e.kind.value] += e.amount_cents
                payouts[(e.clinic_id, e.payer, e.program)] += e.amount_cents
        counts = merge_counts(outputs)
        entry_count = sum(v[0] for v in by_clinic.values())
        total = sum(v[1] for v in by_clinic.values())
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
            # What the pages chart for a closed run without reading its entries again.
            "payouts": [
                {"clinic_id": c, "payer": payer, "program": program, "total_cents": cents}
                for (c, payer, program), cents in sorted(payouts.items())
            ],
        }
        self._store.put_json(self._reports, _Outputs(run).report("summary.json"), summary)
        clinic_count = len(set(by_clinic) | {m.clinic_id for m in counts})
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

    def _run_outputs(self, run: RunRef) -> list[ShardOutput]:
        """Every shard's result plus what AggregateRun settled for the whole run."""
        outputs = self._outputs(run.run_id, self._curated, manifest_key(run.run_id))
        try:
            body = self._store.get_json(self._curated, result_key(run.run_id, BALANCES_SHARD))
        except NotFoundError:
            raise ShardResultMissingError(f"run {run.run_id} has no aggregated result") from None
        outputs.append(ShardOutput.model_validate(body))
        return outputs

    # RenderStatements
    def render(self, item: RenderInput) -> StatementsResult:
        """Write a statement per clinic (CSV + HTML), the draft (or preview) payment file and the kind's
        reports; refused for a run that is not OPEN, so nothing paid or approved is ever rewritten."""
        run = item.run
        require_open(self._runs, run.run_id)
        where = _Outputs(run)
        outputs = self._run_outputs(run)
        entries_by_clinic: dict[str, list[LedgerEntry]] = defaultdict(list)
        for out in outputs:
            for e in out.entries:
                entries_by_clinic[e.clinic_id].append(e)
        clinics = self._context.gaps.clinics()
        missing = sorted(set(entries_by_clinic) - set(clinics))
        if missing:
            raise ReconciliationError(f"{len(missing)} paid clinic(s) missing from the clinic registry")
        totals = {c: sum(e.amount_cents for e in es) for c, es in entries_by_clinic.items()}
        # Plans paying together each pay their own share: a clinic's amount per payer, each at least zero.
        by_payer: dict[tuple[str, str], int] = defaultdict(int)
        for es in entries_by_clinic.values():
            for e in es:
                by_payer[(e.clinic_id, e.payer)] += e.amount_cents
        if any(cents < 0 for cents in by_payer.values()):
            raise ReconciliationError("a clinic nets negative with a payer after carried balances")
        categories = self._categories(e for es in entries_by_clinic.values() for e in es)
        kind = kind_of(run.run_kind)
        for clinic_id, entries in sorted(entries_by_clinic.items()):
            clinic = clinics[clinic_id]
            page_csv = kind.statement_csv(run.run_id, clinic, entries, categories, where.banner)
            self._store.put_bytes(self._reports, where.statement(clinic_id, "csv"), page_csv, "text/csv")
            page = kind.statement_html(run.run_id, clinic, entries, categories, where.banner)
            self._store.put_bytes(self._reports, where.statement(clinic_id, "html"), page, "text/html")
        payment = payment_csv(run.run_id, by_payer, clinics, banner=where.payment_banner)
        self._store.put_bytes(self._reports, where.payment, payment, "text/csv")
        for report in kind.reports(self._context, run, outputs):
            key = where.clinic_file(report.name) if report.for_clinic else where.report(report.name)
            self._store.put_bytes(self._reports, key, report.body, report.content_type)
        total = sum(totals.values())
        if total != item.totals.total_cents:
            raise ReconciliationError("statements total differs from the aggregated total")
        if self._pages and kind.writes_pages:
            self._render_pages(run, [e for es in entries_by_clinic.values() for e in es], where)
        logger.info("statements rendered", run_id=run.run_id, statement_count=len(totals), total_cents=total)
        return StatementsResult(statement_count=len(totals), draft_key=where.payment, total_cents=total)

    def _render_pages(self, run: RunRef, entries: list[LedgerEntry], where: _Outputs) -> None:
        """Every clinic's page and the plan's, as of the run's period, one page in memory at a time."""
        pages = PageService(context=self._context, reports_bucket=self._reports, log=self._log)
        stored = StoredPageFacts(self._store, self._curated, run.run_id)
        # The day PlanShards set, so the shards' parts and the page stand on the same day.
        as_of = stored.index.as_of
        for shown in pages.pages(as_of, run=run, entries=entries, banner=where.banner, stored=stored):
            self._store.put_bytes(self._reports, where.page(shown.name), shown.body, "text/html")

    def _categories(self, entries: Iterable[LedgerEntry]) -> dict[tuple[str, str], str]:
        """(rule version, action) -> menu category, from the program version that earned each entry."""
        found: dict[tuple[str, str], str] = {}
        for e in entries:
            key = (e.rule_version, e.action)
            if not isinstance(e.basis, SvuAward) or key in found:
                continue
            program = self._context.catalog.named(e.rule_version)
            try:
                found[key] = program.action(e.action).category.value if program else "unknown"
            except KeyError:
                found[key] = "unknown"
        return found

    # CloseRun
    def close(self, item: CloseInput) -> ClosedRun:
        """Check ledger = statements = draft payment file to the cent, then move the run OPEN -> CALCULATED
        with the draft's digest, which approval checks before it writes the payment file."""
        run = require_run(self._runs, item.run.run_id)
        if run.status.closed:
            return ClosedRun(run_id=run.run_id, status=run.effective_status)
        draft = self._store.get_bytes(self._reports, item.statements.draft_key)
        payment_total = payment_total_cents(draft)
        expected = {item.totals.total_cents, item.statements.total_cents, payment_total}
        if len(expected) != 1:
            raise ReconciliationError("aggregated, statement and draft payment file totals differ")
        ledger_total, ledger_count = self._recorded_total(item.run, payment_total)
        if ledger_total != payment_total or ledger_count != item.totals.entry_count:
            raise ReconciliationError("ledger total differs from statements and the draft payment file")
        closed = self._runs.transition(
            run,
            RunStatus.CALCULATED,
            allowed_from={RunStatus.OPEN},
            entry_count=ledger_count,
            total_cents=ledger_total,
            draft_sha256=sha256_of(draft),
        )
        logger.info("run calculated", run_id=run.run_id, entry_count=ledger_count, total_cents=ledger_total)
        return ClosedRun(run_id=closed.run_id, status=closed.status)

    def _recorded_total(self, run: RunRef, expected: int) -> tuple[int, int]:
        """The run's own ledger total (final) or its results' total (a preview writes no ledger)."""
        if run.mode is RunMode.PREVIEW:
            outputs = self._run_outputs(run)
            return sum(o.total_cents for o in outputs), sum(len(o.entries) for o in outputs)
        total, count = 0, 0
        # gsi1 is eventually consistent: give freshly written entries a moment to appear.
        for attempt in range(LEDGER_READ_ATTEMPTS):
            total, count = self._ledger.run_total(run.run_id)
            if total == expected:
                break
            self._sleep(0.5 * 2**attempt)
        return total, count
