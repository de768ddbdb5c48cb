"""A phased Care Gap program through the monthly runs (issue 14 §1, step 4 of the program design steps), on
the in-memory fakes: participation pays each clinic-month and onboarding once, reporting pays a month whose
files were on time and complete, performance pays the SVUs, and a phase change mid-month pays each phase its
days; reruns pay nothing twice and the statements name the phase."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from bench.runs import run_through
from shared import clock
from shared.dal.memory import (
    MemoryClaimVersionRepository,
    MemoryFileRegistry,
    MemoryGapStateRepository,
    MemoryLedgerRepository,
    MemoryObjectStore,
    MemoryRunRegistry,
)
from shared.models.actions import Step
from shared.models.ledger import LedgerEntry, Phase, PhasePayment, SvuAward
from shared.programs.care_gap import CareGapProgram, ProgramCatalog, load_catalog, parse_program
from shared.programs.catalog import Programs, load_programs
from shared.services.ingest import IngestService
from shared.services.kinds.monthly import ReportingNotDueError
from shared.services.runs import RunAlreadyClosedError, RunService
from shared.services.whatif import WhatIfService
from tests.functional.plan_data import CLAIMS_CSV, ELIGIBILITY_CSV, FILES
from tests.unit.care_gap.test_phases import PHASES, SHIPPED

# One worker builds the module fixture once; split across workers it was built on each.
pytestmark = pytest.mark.xdist_group("test_program_phases")

LANDING, CURATED, REPORTS = "landing", "curated", "reports"
MONTHS = ("2026-01", "2026-02", "2026-03", "2026-04")
ELIGIBILITY_ONLY = {"file_kinds": ["eligibility"], "due_day": 10, "max_reject_share": "0.05"}
TA_CSV = """practice_id,activity,activity_date,status
K1,welcome_email,2026-01-20,completed
K1,onboarding_meetings,2026-01-28,completed
K2,welcome_email,2026-01-20,completed
"""


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


@dataclass
class Plan:
    service: RunService
    store: MemoryObjectStore
    ledger: MemoryLedgerRepository
    clock: list[datetime]
    gaps: MemoryGapStateRepository
    runs: MemoryRunRegistry
    files: MemoryFileRegistry

    def run(self, month: str, **fields: Any) -> dict[str, Any]:
        request = {"run_kind": "monthly", "program_year": 2026, "month": month, "mode": "final"} | fields
        return run_through(self.service, request, f"phases-{month}")

    def entries(self, run_id: str) -> list[LedgerEntry]:
        return sorted(self.ledger.by_run(run_id), key=lambda e: e.entry_id)

    def statement(self, run_id: str, clinic_id: str, ext: str = "csv") -> str:
        return self.store.get_bytes(REPORTS, f"statements/{run_id}/{clinic_id}.{ext}").decode()


def _plan(catalog: ProgramCatalog, run_day: str = "2026-06-20") -> Plan:
    """The tiny plan's files landed in March (roster, attestations, engagement) and April (the claims and a
    new roster, on the 8th), then runs standing on `run_day`."""
    gaps, ledger, files, store = (
        MemoryGapStateRepository(),
        MemoryLedgerRepository(),
        MemoryFileRegistry(),
        MemoryObjectStore(),
    )
    ingest = IngestService(
        store=store,
        files=files,
        gaps=gaps,
        catalog=catalog,
        curated_bucket=CURATED,
        reports_bucket=REPORTS,
        versions=MemoryClaimVersionRepository(gaps),
    )
    # The April roster says the same in another order: other bytes, so it is a file of its own.
    head, *rows = ELIGIBILITY_CSV.splitlines(keepends=True)
    landings = {
        "2026-03-05": {k: v for k, v in FILES.items() if "medical_claims" not in k}
        | {"landing/ta_engagement/ta-2026-02.csv": TA_CSV},
        "2026-04-08": {
            "landing/eligibility/roster-2026-04.csv": head + "".join(reversed(rows)),
            "landing/medical_claims/claims-2026-04.csv": CLAIMS_CSV,
        },
    }
    for day, landed in landings.items():
        with clock.clock_override(lambda day=day: _at(day)):
            for key, body in landed.items():
                store.put_bytes(LANDING, key, body.encode())
                ingest.ingest(LANDING, key)
    now = [_at(run_day)]

    def tick() -> datetime:
        now[0] += timedelta(seconds=1)
        return now[0]

    runs = MemoryRunRegistry()
    service = RunService(
        store=store,
        gaps=gaps,
        ledger=ledger,
        runs=runs,
        files=files,
        catalog=catalog,
        curated_bucket=CURATED,
        reports_bucket=REPORTS,
        shard_size=2,
        now=tick,
        sleep=lambda _: None,
    )
    return Plan(service, store, ledger, now, gaps, runs, files)


def _phased_program(participation: float = 1) -> CareGapProgram:
    """The phased version; `participation` scales what its participation phase pays."""
    first = PHASES[0] | {
        key: f"{Decimal(PHASES[0][key]) * Decimal(participation):.2f}"
        for key in ("per_clinic_month", "onboarding_complete")
    }
    phases = [first, PHASES[1] | {"submission": ELIGIBILITY_ONLY}, *PHASES[2:]]
    return parse_program(json.dumps(SHIPPED | {"version": "care_gap-2026.phased", "phases": phases}))


def _phased() -> ProgramCatalog:
    return ProgramCatalog((_phased_program(),))


@pytest.fixture(scope="module")
def phased() -> Iterator[tuple[Plan, dict[str, str]]]:
    plan = _plan(_phased())
    run_ids = {month: plan.run(month)["run"].run_id for month in MONTHS}
    yield plan, run_ids


def _phase_paid(entries: list[LedgerEntry]) -> set[tuple[str, str, str, int]]:
    return {
        (e.clinic_id, e.basis.phase.value, e.basis.reason, e.amount_cents)
        for e in entries
        if isinstance(e.basis, PhasePayment)
    }


def _awards(entries: list[LedgerEntry]) -> set[tuple[str, str, str, str | None]]:
    return {
        (e.clinic_id, e.member_id, e.basis.step.value, e.basis.phase.value if e.basis.phase else None)
        for e in entries
        if isinstance(e.basis, SvuAward)
    }


def test_each_phase_pays_exactly_what_the_program_file_says(phased):
    # GIVEN the tiny plan under the phased version: participation to 10 February ($100 a clinic-month,
    # $500 once onboarded), reporting from 11 February to 3 March ($200 a clinic-month when an eligibility
    # file is accepted by the 10th of the month after), performance from 4 March; K1 joined Care Gap on
    # 15 January and completed its onboarding on 28 January, K2 has one activity of two
    plan, run_ids = phased
    # WHEN January to April are run final
    paid = {month: plan.entries(run_id) for month, run_id in run_ids.items()}
    # THEN January pays participation by each clinic's days (K1 17 of 31) and K1's onboarding
    assert _phase_paid(paid["2026-01"]) == {
        ("K1", "participation", "enrolled_month", 5484),
        ("K1", "participation", "onboarding_complete", 50000),
        ("K2", "participation", "enrolled_month", 10000),
    }
    # AND February changes phase on the 11th: 10 of 28 days of participation, 18 of reporting (the roster
    # landed on 5 March); onboarding is not paid again
    assert _phase_paid(paid["2026-02"]) == {
        (k, phase, reason, cents)
        for k in ("K1", "K2")
        for phase, reason, cents in (
            ("participation", "enrolled_month", 3571),
            ("reporting", "reporting_month", 12857),
        )
    }
    # AND March pays its three reporting days (the April roster landed on the 8th) and no participation
    assert _phase_paid(paid["2026-03"]) == {
        ("K1", "reporting", "reporting_month", 1935),
        ("K2", "reporting", "reporting_month", 1935),
    }
    assert _phase_paid(paid["2026-04"]) == set()
    # AND no SVUs are paid for steps dated in participation or reporting (M1's February schedule, M2's and
    # M4's screenings of 1 March and 20 February); M1's screening of 5 March and its claim are performance's
    assert _awards(paid["2026-01"]) == _awards(paid["2026-02"]) == set()
    assert _awards(paid["2026-03"]) == {("K1", "M1", "perform", "performance")}
    assert _awards(paid["2026-04"]) == {("K1", "M1", "claim", "performance")}


def test_reruns_and_recalculation_pay_nothing_twice():
    # GIVEN the phased plan with January and February run final
    plan = _plan(_phased())
    january = plan.run("2026-01")["run"].run_id
    february = plan.run("2026-02")["run"].run_id
    before = dict(plan.ledger.entries)
    # WHEN February is started again, recalculated and previewed, then March and April run
    with pytest.raises(RunAlreadyClosedError):
        plan.run("2026-02")
    recalculated = plan.run("2026-02", recalculate=True)
    preview = plan.run("2026-02", mode="preview")
    # THEN the recalculation appends nothing and pays what it paid, and the preview would append nothing
    assert plan.ledger.entries == before
    assert recalculated["totals"].total_cents == sum(e.amount_cents for e in plan.entries(february))
    assert preview["totals"].total_cents == 0
    # AND K1's onboarding is in the ledger once, whatever the later months
    for month in ("2026-03", "2026-04"):
        plan.run(month)
    onboarding = [
        e
        for e in plan.ledger.entries.values()
        if isinstance(e.basis, PhasePayment) and e.basis.reason == "onboarding_complete"
    ]
    assert [(e.clinic_id, e.run_id, e.amount_cents) for e in onboarding] == [("K1", january, 50000)]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))


def test_statements_name_the_phase_of_every_line(phased):
    # GIVEN February's and March's runs
    plan, run_ids = phased
    # WHEN K1's statements are read
    february = _rows(plan.statement(run_ids["2026-02"], "K1"))
    march = _rows(plan.statement(run_ids["2026-03"], "K1"))
    html = plan.statement(run_ids["2026-02"], "K1", "html")
    # THEN each phase payment is a PHASE line naming its phase and the rule it met, and SVU lines name
    # theirs
    phases = {(r["phase"], r["category"], r["amount"]) for r in february if r["record_type"] == "PHASE"}
    assert phases == {
        ("participation", "enrolled_month", "35.71"),
        ("reporting", "reporting_month", "128.57"),
    }
    rules = {r["rule"] for r in february if r["record_type"] == "PHASE"}
    assert "in Care Gap P4P 10 of 28 days (2026-02-01 to 2026-02-10)" in rules
    assert any(r.startswith("eligibility accepted by 2026-03-10") for r in rules)
    lines = [
        (r["record_type"], r["phase"], r["step"]) for r in march if r["record_type"] in ("LINE", "PHASE")
    ]
    assert sorted(lines) == [("LINE", "performance", "perform"), ("PHASE", "reporting", "")]
    total = next(r for r in february if r["record_type"] == "CLINIC_TOTAL")
    assert total["amount"] == "164.28"
    # AND the HTML statement says which phases the run paid
    assert "Phases: participation, reporting" in html and "128.57" in html


def test_a_final_run_of_a_reporting_month_waits_for_its_files_due_date():
    # GIVEN the phased version and a clock on 5 April, before March's files are due (10 April)
    plan = _plan(_phased(), run_day="2026-04-05")
    plan.run("2026-01")
    plan.run("2026-02")
    # WHEN March is run final
    # THEN it is refused, saying when it may run
    with pytest.raises(ReportingNotDueError, match="due by 2026-04-10"):
        plan.run("2026-03")


def test_a_program_without_phases_pays_as_before():
    # GIVEN the shipped version (no phases)
    plan = _plan(load_catalog())
    # WHEN February to April are run
    paid = {m: plan.entries(plan.run(m)["run"].run_id) for m in MONTHS}
    # THEN no phase amount is paid, every step is paid as pay for performance, and no award names a phase
    assert not any(isinstance(e.basis, PhasePayment) for es in paid.values() for e in es)
    assert ("K1", "M1", "schedule", None) in _awards(paid["2026-02"])
    assert {("K1", "M2", s, None) for s in ("schedule", "perform", "claim")} <= _awards(paid["2026-03"])
    march = _rows(plan.statement("monthly-2026-03-final", "K1"))
    assert {r["phase"] for r in march if r["record_type"] == "LINE"} == {"performance"}
    assert Step.CLAIM.value in {r["step"] for r in march}
    assert Phase.PERFORMANCE.value == "performance"


def test_a_whatif_re_runs_the_phase_payments_under_the_file_and_sets_them_against_what_was_paid(phased):
    # GIVEN the phased plan with January to April paid, seen on 2 May (the what-if goes through April)
    plan, run_ids = phased
    paid = [e for run_id in run_ids.values() for e in plan.entries(run_id)]
    phase_paid = [e for e in paid if isinstance(e.basis, PhasePayment)]
    svu_paid = [e for e in paid if isinstance(e.basis, SvuAward)]

    def whatif(participation: float) -> dict[str, tuple[int, int]]:
        service = WhatIfService(
            store=plan.store,
            gaps=plan.gaps,
            ledger=plan.ledger,
            runs=plan.runs,
            files=plan.files,
            programs=Programs(care_gap=_phased(), benchmark=load_programs().benchmark),
            curated_bucket=CURATED,
            now=lambda: _at("2026-05-02"),
        )
        result = service.whatif(_phased_program(participation), 2026)
        assert "phase_payments" in result.scope
        return {c.clinic_id: (c.paid_cents, c.whatif_cents) for c in result.clinics}

    # WHEN the year is re-run under the same file, and under one paying twice as much for participation
    same, doubled = whatif(1), whatif(2)
    # THEN what was paid counts the phase payments beside the awards, and the same file pays exactly that
    for clinic_id in ("K1", "K2"):
        cents = sum(e.amount_cents for e in phase_paid + svu_paid if e.clinic_id == clinic_id)
        assert same[clinic_id] == (cents, cents)
    # AND the doubled file pays each participation payment again at twice the amount (each rounded half up
    # on its own), K1's onboarding once, and reporting and awards as paid
    for clinic_id in ("K1", "K2"):
        extra = 0
        for e in phase_paid:
            if e.clinic_id != clinic_id or e.basis.phase is not Phase.PARTICIPATION:
                continue
            basis = e.basis
            if basis.reason == "onboarding_complete":
                extra += e.amount_cents
                continue
            twice = (2 * basis.amount * 100 * basis.days / basis.days_in_month).quantize(
                Decimal(1), rounding=ROUND_HALF_UP
            )
            extra += int(twice) - e.amount_cents
        assert extra > 0
        assert doubled[clinic_id] == (same[clinic_id][0], same[clinic_id][1] + extra)
