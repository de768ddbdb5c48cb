"""The demo's annual incentive run: what it paid each clinic, by part, read back from the ledger.

The parts are the annual run's kinds of entry: the Benchmark P4P bonus of a clinic in Benchmark for the
year, the two parts of the Care Gap earnings guarantee (the prorated Benchmark bonus for the days before a
clinic joined Care Gap, and the make-whole top-up), and APC Element 3 for a practice on an APC track.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from shared.logic.money import format_cents
from shared.models.ledger import (
    BENCHMARK_SCHEME,
    GuaranteeTopUp,
    LedgerEntry,
    MeasureIncentive,
    PerformanceIncentive,
)
from shared.models.members import ApcPaymentTrack, Clinic

NO_APC = ApcPaymentTrack.NONE
PARTS = {
    "benchmark": "Benchmark bonus",
    "prorated_benchmark": "prorated Benchmark",
    "make_whole": "make-whole",
    "apc_element3": "APC Element 3",
}
"""What the annual run pays for, in the order shown, with the column's title."""
GUARANTEE_NOTE = "prorated Benchmark + make-whole = the Care Gap earnings guarantee"


def part_of(entry: LedgerEntry) -> str:
    """The part of the annual run an entry pays (a reversal counts against the part it reverses)."""
    basis = entry.basis
    if isinstance(basis, GuaranteeTopUp):
        return basis.component
    if isinstance(basis, MeasureIncentive):
        return "benchmark" if basis.scheme == BENCHMARK_SCHEME else basis.scheme
    if isinstance(basis, PerformanceIncentive):
        return "apc_element3"
    return basis.basis


def program_of(clinic: Clinic, year: int) -> str:
    """The clinic's programs during `year` in a few words: `Benchmark`, `Care Gap`, or `Benchmark, then
    Care Gap from 2026-07-01` for a clinic that joined during the year."""
    joined = clinic.care_gap_start(year)
    if joined is None:
        return "Benchmark" if clinic.in_benchmark_for(year) else "neither"
    if joined <= date(year, 1, 1):
        return "Care Gap"
    return f"Benchmark, then Care Gap from {joined.isoformat()}"


def annual_summary(runtime: Any, run: dict[str, Any], out: Path) -> dict[str, Any]:
    """Per clinic: its programs in the year, the cents of each part and the amount paid (the payment file
    the approval wrote); and the totals."""
    from shared.dal.gap_state import DynamoGapStateRepository
    from shared.dal.ledger import DynamoLedgerRepository
    from shared.services.statements import payment_amounts

    outputs = runtime.outputs
    ledger = DynamoLedgerRepository(runtime.client("dynamodb"), outputs["LedgerTableName"])
    clinics = DynamoGapStateRepository(runtime.client("dynamodb"), outputs["GapsTableName"]).clinics()
    year = int(run["run_id"].split("-")[1])
    cents: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PARTS, 0))
    for entry in ledger.by_run(run["run_id"]):
        parts = cents[entry.clinic_id]
        parts[part_of(entry)] = parts.get(part_of(entry), 0) + entry.amount_cents
    paid = payment_amounts((out / run["payment_file_key"]).read_bytes())
    by_clinic = {
        clinic_id: {
            "program": program_of(clinic, year),
            **{part: format_cents(c) for part, c in cents[clinic_id].items()},
            "paid": format_cents(paid.get(clinic_id, 0)),
        }
        for clinic_id, clinic in sorted(clinics.items())
    }
    totals = {part: format_cents(sum(c.get(part, 0) for c in cents.values())) for part in PARTS}
    return {
        "run_id": run["run_id"],
        "payment_file": run["payment_file_key"],
        "apc_practices": sorted(
            c for c, k in clinics.items() if k.apc_payment_track is not ApcPaymentTrack.NONE
        ),
        "by_clinic": by_clinic,
        "totals": totals,
        "paid": format_cents(sum(paid.values())),
    }


def print_annual(annual: dict[str, Any], console: Console) -> None:
    """The annual run's table: each clinic's programs, parts and payment, and the totals."""
    shown = [p for p in PARTS if p != "apc_element3" or annual["apc_practices"]]
    table = Table(
        title=f"annual incentive run {annual['run_id']} (USD)", caption=GUARANTEE_NOTE, min_width=72
    )
    table.add_column("clinic")
    table.add_column("programs in the year")
    for part in shown:
        table.add_column(PARTS[part], justify="right")
    table.add_column("paid", justify="right")
    for clinic_id, row in annual["by_clinic"].items():
        table.add_row(clinic_id, row["program"], *(row[p] for p in shown), row["paid"])
    totals = annual["totals"]
    table.add_row(
        "[bold]total[/bold]",
        "",
        *(f"[bold]{totals[p]}[/bold]" for p in shown),
        f"[bold]{annual['paid']}[/bold]",
    )
    console.print(table)
