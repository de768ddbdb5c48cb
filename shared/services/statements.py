"""Clinic statements, the payment file and the rates report, rendered from ledger entries.

Every statement line traces one dollar amount to member, action, step, evidence and rule; totals are
sums of the lines' integer cents, so statement, payment file and ledger agree to the cent.
"""

from __future__ import annotations

import csv
import html
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from shared.logic.money import format_cents, parse_dollars
from shared.models.ledger import LedgerEntry
from shared.models.members import Clinic
from shared.models.runs import MeasureCount

STATEMENT_COLUMNS = (
    "record_type",
    "run_id",
    "clinic_id",
    "earned_month",
    "member_id",
    "action",
    "step",
    "action_date",
    "evidence",
    "rule_version",
    "svu",
    "multiplier",
    "bonus_rate",
    "dollar_rate",
    "amount",
    "entry_id",
)
PAYMENT_COLUMNS = ("clinic_id", "tin", "amount", "run_id")
RATE_COLUMNS = ("clinic_id", "action", "denominator", "numerator", "rate")


def _csv(rows: Iterable[Sequence[object]], header: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _line(entry: LedgerEntry) -> tuple[object, ...]:
    return (
        "LINE",
        entry.run_id,
        entry.clinic_id,
        entry.earned_month,
        entry.member_id,
        entry.action,
        entry.step.value,
        entry.action_date.isoformat(),
        " ".join(entry.evidence_refs),
        entry.rule_version,
        entry.svu,
        entry.multiplier,
        entry.bonus_rate,
        entry.dollar_rate,
        format_cents(entry.amount_cents),
        entry.entry_id,
    )


def _total(kind: str, run_id: str, clinic_id: str, action: str, cents: int) -> tuple[object, ...]:
    return (kind, run_id, clinic_id, "", "", action, "", "", "", "", "", "", "", "", format_cents(cents), "")


def statement_csv(run_id: str, clinic_id: str, entries: Sequence[LedgerEntry]) -> bytes:
    """One clinic's statement: every entry as a LINE, then ACTION_TOTAL per action and a CLINIC_TOTAL."""
    ordered = sorted(entries, key=lambda e: (e.action, e.member_id, e.period, e.step.value, e.entry_id))
    by_action: dict[str, int] = defaultdict(int)
    for e in ordered:
        by_action[e.action] += e.amount_cents
    rows = [_line(e) for e in ordered]
    rows += [_total("ACTION_TOTAL", run_id, clinic_id, a, c) for a, c in sorted(by_action.items())]
    rows.append(_total("CLINIC_TOTAL", run_id, clinic_id, "", sum(by_action.values())))
    return _csv(rows, STATEMENT_COLUMNS)


def statement_html(run_id: str, clinic: Clinic, entries: Sequence[LedgerEntry]) -> bytes:
    """A plain HTML rendering of the same statement for people."""
    total = sum(e.amount_cents for e in entries)
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in _line(e)[3:15]) + "</tr>"
        for e in sorted(entries, key=lambda e: (e.action, e.member_id, e.step.value))
    )
    head = "".join(f"<th>{c}</th>" for c in STATEMENT_COLUMNS[3:15])
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Statement {html.escape(run_id)}</title></head>"
        f"<body><h1>{html.escape(clinic.clinic_name)} ({html.escape(clinic.clinic_id)})</h1>"
        f"<p>Run {html.escape(run_id)}: total ${format_cents(total)}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table></body></html>"
    )
    return page.encode("utf-8")


def payment_csv(run_id: str, totals: Mapping[str, int], clinics: Mapping[str, Clinic]) -> bytes:
    """One row per paid clinic: clinic_id, TIN, amount in dollars, run id."""
    rows = [(c, clinics[c].tin, format_cents(cents), run_id) for c, cents in sorted(totals.items())]
    return _csv(rows, PAYMENT_COLUMNS)


def payment_total_cents(data: bytes) -> int:
    """Sum of a payment file's amounts, in cents."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    return sum(parse_dollars(row["amount"]) for row in reader)


def _rate(count: MeasureCount) -> str:
    if not count.denominator:
        return ""
    return str((Decimal(count.numerator) / Decimal(count.denominator)).quantize(Decimal("0.0001")))


def rates_csv(counts: Iterable[MeasureCount]) -> bytes:
    """The annual rates report: denominator, numerator and rate (4 places) per clinic and action."""
    rows = [
        (
            m.clinic_id,
            m.action,
            m.denominator,
            m.numerator,
            _rate(m),
        )
        for m in sorted(counts, key=lambda m: (m.clinic_id, m.action))
    ]
    return _csv(rows, RATE_COLUMNS)
