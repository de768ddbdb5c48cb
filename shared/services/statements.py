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
from shared.models.ledger import LedgerEntry, SvuAward
from shared.models.members import Clinic
from shared.models.runs import MeasureCount

STATEMENT_COLUMNS = (
    "record_type",
    "run_id",
    "clinic_id",
    "earned_month",
    "kind",
    "category",
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
    "reverses",
)
PAYMENT_COLUMNS = ("clinic_id", "tin", "amount", "run_id")
RATE_COLUMNS = ("clinic_id", "action", "denominator", "numerator", "rate")
BALANCE_CATEGORY = "balance"
# Columns people read on the HTML page: from earned_month to amount.
_HTML_COLUMNS = slice(STATEMENT_COLUMNS.index("earned_month"), STATEMENT_COLUMNS.index("amount") + 1)


def _csv(rows: Iterable[Sequence[object]], header: Sequence[str], banner: str | None = None) -> bytes:
    buffer = io.StringIO()
    if banner:
        # A first line no spreadsheet or payment system takes for data: what the file is not.
        buffer.write(f"# {banner}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def preview_banner(run_id: str) -> str:
    """The first line of every file a preview writes."""
    return f"PREVIEW of run {run_id}: a projection, nothing in this file is paid"


def draft_banner(run_id: str) -> str:
    """The first line of a run's draft payment file."""
    return (
        f"DRAFT of run {run_id} for review: not a payment file; the payment file is written once, at approval"
    )


def _category(entry: LedgerEntry, categories: Mapping[tuple[str, str], str]) -> str:
    if entry.is_balance:
        return BALANCE_CATEGORY
    return categories.get((entry.rule_version, entry.action), "")


def _line(entry: LedgerEntry, categories: Mapping[tuple[str, str], str]) -> tuple[object, ...]:
    # A carried balance is a clinic's, not a member's: its own record type keeps LINE rows fully traced.
    svu = entry.basis if isinstance(entry.basis, SvuAward) else None
    return (
        "BALANCE" if entry.is_balance else "LINE",
        entry.run_id,
        entry.clinic_id,
        entry.earned_month,
        entry.kind.value,
        _category(entry, categories),
        entry.member_id,
        entry.action,
        entry.step.value if entry.step else "",
        entry.action_date.isoformat(),
        " ".join(entry.evidence_refs),
        entry.rule_version,
        svu.svu if svu else "",
        svu.multiplier if svu else "",
        svu.bonus_rate if svu else "",
        svu.dollar_rate if svu else "",
        format_cents(entry.amount_cents),
        entry.entry_id,
        entry.reverses or "",
    )


def _total(
    kind: str, run_id: str, clinic_id: str, category: str, action: str, cents: int
) -> tuple[object, ...]:
    row: list[object] = [""] * len(STATEMENT_COLUMNS)
    row[0], row[1], row[2] = kind, run_id, clinic_id
    row[STATEMENT_COLUMNS.index("category")] = category
    row[STATEMENT_COLUMNS.index("action")] = action
    row[STATEMENT_COLUMNS.index("amount")] = format_cents(cents)
    return tuple(row)


def _ordered(entries: Iterable[LedgerEntry], categories: Mapping[tuple[str, str], str]) -> list[LedgerEntry]:
    return sorted(
        entries,
        key=lambda e: (
            _category(e, categories),
            e.action,
            e.member_id,
            e.period,
            e.step.value if e.step else "",
            e.kind.value,
            e.entry_id,
        ),
    )


def statement_totals(
    entries: Iterable[LedgerEntry], categories: Mapping[tuple[str, str], str] | None = None
) -> tuple[dict[str, int], dict[tuple[str, str], int], int]:
    """Cents by category, by (category, action), and the clinic total: plain sums of the lines."""
    categories = categories or {}
    by_category: dict[str, int] = defaultdict(int)
    by_action: dict[tuple[str, str], int] = defaultdict(int)
    total = 0
    for e in entries:
        category = _category(e, categories)
        by_category[category] += e.amount_cents
        by_action[(category, e.action)] += e.amount_cents
        total += e.amount_cents
    return dict(by_category), dict(by_action), total


def statement_csv(
    run_id: str,
    clinic_id: str,
    entries: Sequence[LedgerEntry],
    *,
    categories: Mapping[tuple[str, str], str] | None = None,
    banner: str | None = None,
) -> bytes:
    """One clinic's statement: an entry per LINE (BALANCE if carried), ACTION_/CATEGORY_TOTALs, CLINIC_TOTAL.

    A line traces its amount to the member, action, step, evidence (claim id and line, attestation id,
    registry record), rule version and multiplier; reversals and carried balances name the entry they
    reverse or carry in `reverses`.
    """
    categories = categories or {}
    by_category, by_action, total = statement_totals(entries, categories)
    rows = [_line(e, categories) for e in _ordered(entries, categories)]
    rows += [_total("ACTION_TOTAL", run_id, clinic_id, c, a, v) for (c, a), v in sorted(by_action.items())]
    rows += [_total("CATEGORY_TOTAL", run_id, clinic_id, c, "", v) for c, v in sorted(by_category.items())]
    rows.append(_total("CLINIC_TOTAL", run_id, clinic_id, "", "", total))
    return _csv(rows, STATEMENT_COLUMNS, banner)


def _cells(values: Iterable[object], tag: str = "td") -> str:
    return "".join(f"<{tag}>{html.escape(str(v))}</{tag}>" for v in values)


def statement_html(
    run_id: str,
    clinic: Clinic,
    entries: Sequence[LedgerEntry],
    *,
    categories: Mapping[tuple[str, str], str] | None = None,
    banner: str | None = None,
) -> bytes:
    """The same statement for people: totals by category and action, then every traced line."""
    categories = categories or {}
    by_category, by_action, total = statement_totals(entries, categories)
    summary = "".join(
        f"<tr>{_cells((c, a, format_cents(v)))}</tr>" for (c, a), v in sorted(by_action.items())
    ) + "".join(f"<tr>{_cells((c, 'all', format_cents(v)))}</tr>" for c, v in sorted(by_category.items()))
    lines = "".join(
        f"<tr>{_cells(_line(e, categories)[_HTML_COLUMNS])}</tr>" for e in _ordered(entries, categories)
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Statement {html.escape(run_id)}</title></head>"
        f"<body>{f'<p><strong>{html.escape(banner)}</strong></p>' if banner else ''}"
        f"<h1>{html.escape(clinic.clinic_name)} ({html.escape(clinic.clinic_id)})</h1>"
        f"<p>Run {html.escape(run_id)}: total ${format_cents(total)}</p>"
        f"<h2>Totals</h2><table><thead><tr>{_cells(('category', 'action', 'amount'), 'th')}</tr></thead>"
        f"<tbody>{summary}</tbody></table>"
        f"<h2>Lines</h2><table><thead><tr>{_cells(STATEMENT_COLUMNS[_HTML_COLUMNS], 'th')}</tr></thead>"
        f"<tbody>{lines}</tbody></table></body></html>"
    )
    return page.encode("utf-8")


def payment_csv(
    run_id: str, totals: Mapping[str, int], clinics: Mapping[str, Clinic], banner: str | None = None
) -> bytes:
    """One row per paid clinic: clinic_id, TIN, amount in dollars, run id (a draft or preview says so on
    its first line).

    Only positive amounts are payments: a clinic at zero (its negative balance carried forward) has no
    row, and a negative total is refused, never written.
    """
    if any(cents < 0 for cents in totals.values()):
        raise ValueError("a payment file cannot carry a negative amount")
    rows = [
        (c, clinics[c].tin, format_cents(cents), run_id) for c, cents in sorted(totals.items()) if cents > 0
    ]
    return _csv(rows, PAYMENT_COLUMNS, banner)


def payment_amounts(data: bytes) -> dict[str, int]:
    """Cents per clinic of a payment file (a draft's or preview's banner line is skipped)."""
    lines = [line for line in data.decode("utf-8").splitlines() if not line.startswith("#")]
    return {row["clinic_id"]: parse_dollars(row["amount"]) for row in csv.DictReader(lines)}


def payment_total_cents(data: bytes) -> int:
    """Sum of a payment file's amounts, in cents."""
    return sum(payment_amounts(data).values())


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
