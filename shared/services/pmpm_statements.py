"""Statements and reports of the quarterly PMPM run (APC Element 2): one line per member-month with its
age, age/sex factor, HPI uplift, technical-assistance status and amount, and each month's requirements
the practice met or missed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from shared.csv_cells import csv_bytes
from shared.logic.money import format_cents
from shared.logic.ta_engagement import TaMonth
from shared.models.ledger import EntryKind, LedgerEntry, PmpmPayment
from shared.models.members import Clinic
from shared.render.environment import render
from shared.services.statements import payer_totals

PMPM_COLUMNS = (
    "record_type",
    "run_id",
    "clinic_id",
    "member_id",
    "scheme",
    "month",
    "age",
    "gender",
    "factor",
    "hpi_decile",
    "uplift",
    "pmpm",
    "ta_status",
    "ta_missed",
    "amount",
    "rule_version",
    "entry_id",
    "reverses",
    "payer_id",
)
TA_COLUMNS = ("run_id", "clinic_id", "month", "ta_status", "requirements_missed")
DIRECT_SERVICES_COLUMNS = (
    "run_id",
    "clinic_id",
    "payer_id",
    "month",
    "track",
    "payment",
    "category",
    "lines",
    "allowed_amount",
)


def _ta(compliant: bool) -> str:
    return "met" if compliant else "missed"


def _line(entry: LedgerEntry) -> dict[str, object]:
    basis = entry.basis
    if not isinstance(basis, PmpmPayment):
        raise TypeError(f"entry {entry.entry_id} is not a PMPM payment")
    return {
        "record_type": "REVERSAL" if entry.kind is EntryKind.REVERSAL else "MEMBER_MONTH",
        "run_id": entry.run_id,
        "clinic_id": entry.clinic_id,
        "member_id": entry.member_id,
        "scheme": basis.scheme,
        "month": basis.month,
        "age": basis.age,
        "gender": basis.gender,
        "factor": basis.factor,
        "hpi_decile": "" if basis.hpi_decile is None else basis.hpi_decile,
        "uplift": basis.uplift,
        "pmpm": basis.pmpm,
        "ta_status": _ta(basis.ta_compliant),
        "ta_missed": "; ".join(basis.ta_missed),
        "amount": format_cents(entry.amount_cents),
        "rule_version": entry.rule_version,
        "entry_id": entry.entry_id,
        "reverses": entry.reverses or "",
        "payer_id": entry.payer,
    }


def _scheme(entry: LedgerEntry) -> str:
    return entry.basis.scheme if isinstance(entry.basis, PmpmPayment) else ""


def pmpm_statement_rows(entries: Sequence[LedgerEntry]) -> list[dict[str, object]]:
    """Every member-month line, by scheme, month and member, then one MONTH_TOTAL per scheme and month and
    the CLINIC_TOTAL."""
    ordered = sorted(entries, key=lambda e: (_scheme(e), e.period, e.member_id, e.kind.value, e.entry_id))
    rows = [_line(e) for e in ordered]
    months: dict[tuple[str, str], int] = defaultdict(int)
    for e in ordered:
        months[(_scheme(e), e.period)] += e.amount_cents
    if entries:
        head: dict[str, object] = {"run_id": entries[0].run_id, "clinic_id": entries[0].clinic_id}
        rows += [
            head | {"record_type": "MONTH_TOTAL", "scheme": k, "month": m, "amount": format_cents(c)}
            for (k, m), c in sorted(months.items())
        ]
        rows += [
            head | {"record_type": "PAYER_TOTAL", "payer_id": p, "amount": format_cents(c)}
            for p, c in payer_totals(entries).items()
        ]
        rows.append(head | {"record_type": "CLINIC_TOTAL", "amount": format_cents(sum(months.values()))})
    return rows


def pmpm_statement_csv(
    run_id: str, clinic_id: str, entries: Sequence[LedgerEntry], *, banner: str | None = None
) -> bytes:
    """One practice's quarterly statement as CSV (the total is a plain sum of the entries' cents)."""
    rows = pmpm_statement_rows(entries)
    return csv_bytes(PMPM_COLUMNS, ([r.get(c, "") for c in PMPM_COLUMNS] for r in rows), banner)


def pmpm_statement_html(
    run_id: str, clinic: Clinic, entries: Sequence[LedgerEntry], *, banner: str | None = None
) -> bytes:
    """The same statement for people: each month's total and engagement, then every member-month."""
    rows = pmpm_statement_rows(entries)
    lines = [r for r in rows if r["record_type"] in ("MEMBER_MONTH", "REVERSAL")]
    missed: dict[tuple[str, str], str] = {}
    for r in lines:
        missed.setdefault((str(r["scheme"]), str(r["month"])), str(r["ta_missed"]))
    months = [
        r | {"ta_missed": missed.get((str(r["scheme"]), str(r["month"])), "")}
        for r in rows
        if r["record_type"] == "MONTH_TOTAL"
    ]
    return render(
        "pmpm_statement.html.j2",
        run_id=run_id,
        clinic=clinic,
        banner=banner,
        total=sum(e.amount_cents for e in entries),
        months=months,
        lines=lines,
        by_payer=payer_totals(entries),
    )


def ta_status_csv(run_id: str, status: Mapping[tuple[str, str], TaMonth]) -> bytes:
    """The engagement report: each APC practice's months, met or missed, and the requirements missed."""
    rows = (
        (run_id, practice, month, _ta(s.compliant), "; ".join(s.missed))
        for (practice, month), s in sorted(status.items())
    )
    return csv_bytes(TA_COLUMNS, rows)


def direct_services_csv(run_id: str, rows: Iterable[Mapping[str, object]]) -> bytes:
    """Element 1's report: each APC practice's claim lines and allowed dollars per payer and month, capitated
    or fee-for-service under its track with that payer, by the row or exception of table 1 or 2 that decided
    it (a report written before it named payers has an empty payer)."""
    body = (
        (
            run_id,
            r["practice_id"],
            r.get("payer_id", ""),
            r["month"],
            r["track"],
            r["payment"],
            r["category"],
            r["lines"],
            r["allowed_amount"],
        )
        for r in rows
    )
    return csv_bytes(DIRECT_SERVICES_COLUMNS, body)
