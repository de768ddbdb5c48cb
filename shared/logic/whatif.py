"""A year re-run under another program file, set against what was paid (program-design step 6,
`docs/program-design.md`): which versions the file stands in for, which ledger entries each program's
what-if compares, and the per-clinic differences as a table and as CSV.

- The file is moved to the year re-run (`baseline.redate`) and stands in for every version of its program
  in force during that year; the other programs' versions are the stack's.
- What is compared (`SCOPES`): a Care Gap file, the year's SVU awards (member entries of Care Gap earned in
  the year, net of reversals), its phase payments (participation, onboarding, reporting: the clinic entries
  of the year's months) and the earnings guarantee (which sets those earnings against the Benchmark
  bonus); a Benchmark file, the Benchmark payouts and the guarantee; an APC file, Element 3.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from shared.csv_cells import csv_bytes
from shared.logic.baseline import redate
from shared.logic.money import format_cents
from shared.models.design import ClinicDifference, WhatIfResult
from shared.models.ledger import (
    GuaranteeTopUp,
    LedgerEntry,
    MeasureIncentive,
    PerformanceIncentive,
    PhasePayment,
)
from shared.models.members import BENCHMARK_PROGRAM, CARE_GAP_PROGRAM
from shared.programs.versions import VersionedProgram

SVU_AWARDS, GUARANTEE, BENCHMARK, APC_ELEMENT3 = "svu_awards", "guarantee", "benchmark", "apc_element3"
PHASE_PAYMENTS = "phase_payments"
SCOPES: dict[str, tuple[str, ...]] = {
    CARE_GAP_PROGRAM: (SVU_AWARDS, PHASE_PAYMENTS, GUARANTEE),
    BENCHMARK_PROGRAM: (BENCHMARK, GUARANTEE),
    "apc": (APC_ELEMENT3,),
}
CSV_HEADER = ("clinic_id", "paid", "whatif", "difference")


def as_year(raw: Mapping[str, Any], year: int) -> dict[str, Any]:
    """A version file's data moved to measurement year `year` (unchanged when it is that year's)."""
    return redate(raw, year - int(raw.get("measurement_year", year)))


def overlaps_year(version: VersionedProgram, year: int) -> bool:
    return version.effective_from <= date(year, 12, 31) and version.effective_to >= date(year, 1, 1)


def substituted(
    versions: Iterable[VersionedProgram], alternative: VersionedProgram, year: int
) -> tuple[list[VersionedProgram], tuple[str, ...]]:
    """Every version with `alternative` in place of its program's versions in force during `year`; and the
    names of those it replaces."""
    kept, replaced = [], []
    for version in versions:
        if version.program == alternative.program and overlaps_year(version, year):
            replaced.append(version.version)
        else:
            kept.append(version)
    return [*kept, alternative], tuple(replaced)


def in_scope(entry: LedgerEntry, scope: Sequence[str], year: int) -> bool:
    """True when the entry is one of the payments a what-if of `scope` compares."""
    basis = entry.basis
    if SVU_AWARDS in scope and entry.program == CARE_GAP_PROGRAM and entry.member_id:
        return not entry.is_balance and entry.earned_month[:4] == str(year)
    if PHASE_PAYMENTS in scope and isinstance(basis, PhasePayment):
        return basis.month[:4] == str(year)
    if GUARANTEE in scope and isinstance(basis, GuaranteeTopUp):
        return True
    if BENCHMARK in scope and isinstance(basis, MeasureIncentive):
        return True
    return APC_ELEMENT3 in scope and isinstance(basis, PerformanceIncentive)


def by_clinic(entries: Iterable[LedgerEntry], scope: Sequence[str], year: int) -> dict[str, int]:
    """Cents per clinic of the entries in scope."""
    found: dict[str, int] = defaultdict(int)
    for entry in entries:
        if in_scope(entry, scope, year):
            found[entry.clinic_id] += entry.amount_cents
    return dict(found)


def differences(paid: Mapping[str, int], whatif: Mapping[str, int]) -> tuple[ClinicDifference, ...]:
    """Every clinic either side names, in clinic order."""
    return tuple(
        ClinicDifference(clinic_id=c, paid_cents=paid.get(c, 0), whatif_cents=whatif.get(c, 0))
        for c in sorted(set(paid) | set(whatif))
    )


def whatif_rows(result: WhatIfResult) -> list[tuple[str, str, str, str]]:
    """Per clinic and in total: paid, what-if and the difference, in dollars."""
    rows = [
        (
            c.clinic_id,
            format_cents(c.paid_cents),
            format_cents(c.whatif_cents),
            format_cents(c.difference_cents),
        )
        for c in result.clinics
    ]
    rows.append(
        (
            "TOTAL",
            format_cents(result.paid_cents),
            format_cents(result.whatif_cents),
            format_cents(result.difference_cents),
        )
    )
    return rows


def whatif_csv(result: WhatIfResult) -> bytes:
    """The differences as CSV, under a first line saying it is a projection."""
    banner = (
        f"WHAT-IF of {result.year} (through {result.through}) under {result.program} version "
        f"{result.version}: a projection, nothing in this file is paid"
    )
    return csv_bytes(CSV_HEADER, whatif_rows(result), banner=banner)
