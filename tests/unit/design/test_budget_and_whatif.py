"""The funding-pool projection (`shared/logic/budget.py`), what a what-if compares (`shared/logic/whatif.py`)
and the read-only storage it runs on (`shared/services/read_only.py`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cli.runs import pool_lines
from shared.dal.memory import MemoryLedgerRepository, MemoryObjectStore
from shared.logic.budget import periods_left, pool_projection, projected_rest
from shared.logic.whatif import SCOPES, in_scope, substituted, whatif_csv
from shared.models.actions import Step
from shared.models.design import ClinicDifference, WhatIfResult
from shared.models.ledger import (
    CarriedBalance,
    EntryKind,
    GuaranteeTopUp,
    LedgerEntry,
    MeasureIncentive,
    SvuAward,
)
from shared.programs.benchmark import load_benchmark
from shared.programs.care_gap import load_catalog
from shared.services.read_only import ReadOnlyError, ReadOnlyLedger, ScratchObjectStore
from shared.services.whatif import last_month


def test_the_periods_left_in_the_year_after_a_run():
    assert [periods_left("monthly", m) for m in ("2026-01", "2026-03", "2026-12")] == [11, 9, 0]
    assert [periods_left("quarterly", q) for q in ("2026-Q1", "2026-Q4")] == [3, 0]
    assert periods_left("annual", "2026") == 0


def test_the_rest_of_the_year_is_the_kinds_average_rounded_half_up():
    # GIVEN 3 runs paying 1,000 cents together, 9 periods left: 3,000 exactly
    assert projected_rest(1000, 3, 9) == 3000
    # AND 1 cent over 2 runs for 1 period left: half a cent rounds up; minus half a cent rounds away
    assert projected_rest(1, 2, 1) == 1 and projected_rest(-1, 2, 1) == -1
    # AND nothing left, or no run, projects nothing
    assert projected_rest(1000, 3, 0) == 0 and projected_rest(1000, 0, 5) == 0


def _projection(pool: str, *, refuses: bool = False):
    return pool_projection(
        program="care_gap",
        version="care_gap-2026.1",
        year=2026,
        run_id="monthly-2026-03-final",
        pool=Decimal(pool),
        paid_cents=200_00,
        run_cents=100_00,
        rest_cents=900_00,
        left=9,
        refuses=refuses,
    )


def test_a_year_over_its_pool_warns_and_one_at_it_does_not():
    # GIVEN paid $200 + this run $100 + $900 projected = $1,200
    at, over = _projection("1200.00"), _projection("1199.99", refuses=True)
    # THEN at the pool: no warning; a cent under it: over by a cent, saying the program refuses approval
    assert (at.projected_cents, at.exceeds, at.warning) == (1200_00, False, None)
    assert over.over_by_cents == 1 and over.refuses_approval
    assert over.warning is not None and "by 0.01" in over.warning and "refuses approval" in over.warning
    # AND `p4p run show` prints the warning above the pool's line
    lines = pool_lines([over.model_dump(mode="json")])
    assert lines[0].startswith("[yellow]warning:") and "over by 0.01" in lines[1]


def test_a_what_if_stands_in_for_its_programs_versions_of_the_year_only():
    # GIVEN the shipped Benchmark version and a 2025 one, and a what-if file for 2026
    shipped = load_benchmark().versions[0]
    last_year = shipped.model_copy(
        update={
            "version": "benchmark-2025.1",
            "effective_from": date(2025, 1, 1),
            "effective_to": date(2025, 12, 31),
        }
    )
    care_gap = load_catalog().versions[0]
    alternative = shipped.model_copy(update={"version": "benchmark-2026.whatif"})
    # WHEN substituted for 2026
    versions, replaced = substituted([shipped, last_year, care_gap], alternative, 2026)
    # THEN it replaces 2026's Benchmark version only
    assert replaced == ("benchmark-2026.1",)
    assert {v.version for v in versions} == {"benchmark-2025.1", care_gap.version, "benchmark-2026.whatif"}


def _entry(basis, *, member: str = "", earned: str = "2026-03", program: str = "care_gap") -> LedgerEntry:
    return LedgerEntry(
        program=program,
        clinic_id="K1",
        member_id=member,
        period="2026",
        kind=EntryKind.EARN,
        basis=basis,
        amount_cents=100,
        rule_version="v",
        action_date=date(2026, 3, 1),
        earned_month=earned,
        run_id="r",
    )


def test_what_each_program_file_compares():
    award = SvuAward(
        action="BCS-E",
        step=Step.PERFORM,
        svu=Decimal(10),
        multiplier=Decimal(1),
        bonus_rate=Decimal(0),
        dollar_rate=Decimal(1),
    )
    svu = _entry(award, member="M1")
    late = _entry(award, member="M1", earned="2027-01")
    balance = _entry(CarriedBalance())
    guarantee = _entry(
        GuaranteeTopUp(
            component="make_whole",
            year=2026,
            enrollment_date=date(2026, 1, 15),
            days_before=14,
            days_on_care_gap=351,
            benchmark_full_year_cents=5000,
            care_gap_earnings_cents=0,
            equivalent_benchmark_cents=4808,
        )
    )
    payout = _entry(
        MeasureIncentive(
            scheme="benchmark_p4p",
            line_of_business="MC",
            assigned_members=2,
            amount_per_member=Decimal(10),
            composite=Decimal(1),
            measures=(),
        ),
        program="benchmark",
    )
    # THEN a Care Gap file compares the year's awards (not next year's, not balances) and the guarantee
    care_gap = SCOPES["care_gap"]
    assert [in_scope(e, care_gap, 2026) for e in (svu, late, balance, guarantee, payout)] == [
        True,
        False,
        False,
        True,
        False,
    ]
    # AND a Benchmark file the payouts and the guarantee
    assert [in_scope(e, SCOPES["benchmark"], 2026) for e in (svu, guarantee, payout)] == [False, True, True]


def test_the_what_if_csv_has_a_banner_each_clinic_and_the_total():
    result = WhatIfResult(
        program="benchmark",
        version="benchmark-2026.whatif",
        replaces=("benchmark-2026.1",),
        year=2026,
        through="2026-12",
        scope=("benchmark", "guarantee"),
        members=10,
        paid_runs=("annual-2026-final",),
        clinics=(
            ClinicDifference(clinic_id="K1", paid_cents=5000, whatif_cents=4900),
            ClinicDifference(clinic_id="K3", paid_cents=2000, whatif_cents=4000),
        ),
    )
    lines = whatif_csv(result).decode().splitlines()
    assert lines[0].startswith("# WHAT-IF of 2026 (through 2026-12)")
    # A negative difference stays a number a spreadsheet does not take for a formula.
    assert lines[1:] == [
        "clinic_id,paid,whatif,difference",
        "K1,50.00,49.00, -1.00",
        "K3,20.00,40.00,20.00",
        "TOTAL,70.00,89.00,19.00",
    ]


def test_read_only_storage_refuses_ledger_writes_and_keeps_object_writes_to_itself():
    # GIVEN a ledger and a store behind their read-only views
    ledger, store = MemoryLedgerRepository(), MemoryObjectStore()
    store.put_json("curated", "runs/a.json", {"a": 1})
    guarded, scratch = ReadOnlyLedger(ledger), ScratchObjectStore(store)
    entry = _entry(CarriedBalance())
    # THEN the ledger refuses every write, and reads through
    for write in (
        lambda: guarded.record(entry),
        lambda: guarded.index_member(entry),
        lambda: guarded.put_gap_digest("M1", {}),
    ):
        with pytest.raises(ReadOnlyError):
            write()
    assert list(guarded.by_run("r")) == []
    # AND the store reads through, keeps what is written and reads it back, and the real store is unchanged
    scratch.put_json("curated", "runs/b.json", {"b": 2})
    assert scratch.get_json("curated", "runs/a.json") == {"a": 1}
    assert scratch.get_json("curated", "runs/b.json") == {"b": 2}
    assert scratch.keys("curated", "runs/") == ["runs/a.json", "runs/b.json"]
    assert store.keys("curated") == ["runs/a.json"]


def test_the_year_so_far_runs_to_the_last_month_ended():
    # GIVEN a past year, this year in May, this year in January: THEN December, April, and no month yet
    assert last_month(2025, date(2026, 5, 10)) == "2025-12"
    assert last_month(2026, date(2026, 5, 10)) == "2026-04"
    assert last_month(2026, date(2026, 1, 31)) == "2026-00"
