"""A small generated plan on the in-memory fakes, ingested with its file log and run for a few months and
the year, so its pages have every section to show (Care Gap, Benchmark and APC clinics, HPI deciles)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from bench.annual import run_year
from bench.runs import CURATED, LANDING, PLAN_CLOCK_START, PLAN_KINDS, REPORTS, run_month
from cli.generate import generate_plan
from shared.dal.memory import (
    MemoryClaimVersionRepository,
    MemoryFileLog,
    MemoryFileRegistry,
    MemoryGapStateRepository,
    MemoryLedgerRepository,
    MemoryObjectStore,
    MemoryRunRegistry,
)
from shared.logic.money import parse_dollars
from shared.programs.care_gap import load_catalog
from shared.services.ingest import IngestService
from shared.services.runs import RunService

MONTHS = ("2026-01", "2026-02", "2026-03")
PREVIEW_MONTH = "2026-04"


@dataclass
class PagesPlan:
    service: RunService
    store: MemoryObjectStore
    gaps: MemoryGapStateRepository
    log: MemoryFileLog
    run_ids: list[str]
    preview_id: str
    annual_id: str


def build_plan(folder: Path, members: int = 300, clinics: int = 5) -> PagesPlan:
    """Generate, ingest (every file landed under its kind), then run January to March final, April as a
    preview and the year's annual run final; each RenderStatements writes its pages."""
    gaps, ledger, runs, files = (
        MemoryGapStateRepository(),
        MemoryLedgerRepository(),
        MemoryRunRegistry(),
        MemoryFileRegistry(),
    )
    store, log, catalog = MemoryObjectStore(), MemoryFileLog(), load_catalog()
    clock = [PLAN_CLOCK_START]

    def tick() -> datetime:
        clock[0] += timedelta(seconds=1)
        return clock[0]

    generated = generate_plan(folder, members=members, clinics=clinics, seed=11, kinds=set(PLAN_KINDS))
    ingest = IngestService(
        store=store,
        files=files,
        gaps=gaps,
        catalog=catalog,
        curated_bucket=CURATED,
        reports_bucket=REPORTS,
        versions=MemoryClaimVersionRepository(gaps),
        log=log,
    )
    for kind in PLAN_KINDS:
        for path in generated.paths(kind):
            key = f"landing/{kind}/{path.name}"
            store.put_bytes(LANDING, key, path.read_bytes())
            ingest.ingest(LANDING, key)
    service = RunService(
        store=store,
        gaps=gaps,
        ledger=ledger,
        runs=runs,
        files=files,
        catalog=catalog,
        curated_bucket=CURATED,
        reports_bucket=REPORTS,
        shard_size=100,
        now=tick,
        sleep=lambda _: None,
        pages=True,
        log=log,
    )
    run_ids = [run_month(service, month)["run"].run_id for month in MONTHS]
    preview = run_month(service, PREVIEW_MONTH, mode="preview")["run"].run_id
    annual = run_year(service)["run"].run_id
    return PagesPlan(service, store, gaps, log, run_ids, preview, annual)


def statement_total(plan: PagesPlan, key: str) -> int:
    """A statement's CLINIC_TOTAL, in cents."""
    text = plan.store.get_bytes(REPORTS, key).decode()
    rows = csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#"))
    return next(parse_dollars(r["amount"]) for r in rows if r["record_type"] == "CLINIC_TOTAL")


def statement_totals(plan: PagesPlan, run_id: str) -> dict[str, int]:
    """Each clinic's statement total of a final run."""
    prefix = f"statements/{run_id}/"
    return {
        key[len(prefix) : -len(".csv")]: statement_total(plan, key)
        for key in plan.store.keys(REPORTS, prefix)
        if key.endswith(".csv") and "/" not in key[len(prefix) :]
    }


def page_text(plan: PagesPlan, key: str) -> str:
    return plan.store.get_bytes(REPORTS, key).decode()


AS_OF = date(2026, 12, 31)
