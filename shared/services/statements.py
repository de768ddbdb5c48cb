"""Clinic statements, the payment file and the rates report, rendered from ledger entries.

Every statement line traces one dollar amount to member, action, step, evidence and rule; totals are
sums of the lines' integer cents, so statement, payment file and ledger agree to the cent.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal

from shared.csv_cells import csv_bytes
from shared.logic.money import format_cents, parse_dollars
from shared.models.incentives import GuaranteeResult
from shared.models.ledger import (
    EntryKind,
    GuaranteeTopUp,
    LedgerEntry,
    MeasureIncentive,
    PerformanceIncentive,
    Phase,
    PhasePayment,
    SvuAward,
)
from shared.models.members import Clinic
from shared.models.runs import MeasureCount
from shared.render.environment import render

STATEMENT_COLUMNS = (
    "record_type",
    "run_id",
    "clinic_id",
    "earned_month",
    "kind",
    "category",
    "phase",
    "member_id",
    "action",
    "step",
    "action_date",
    "evidence",
    "rule_version",
    "rule",
    "svu",
    "multiplier",
    "bonus_rate",
    "dollar_rate",
    "amount",
    "entry_id",
    "reverses",
    "payer_id",
)
PAYMENT_COLUMNS = ("clinic_id", "tin", "amount", "run_id", "payer_id")
"""One row per clinic and payer: plans paying together each pay their own rows."""
RATE_COLUMNS = ("clinic_id", "line_of_business", "measure", "denominator", "numerator", "rate")
BALANCE_CATEGORY = "balance"
# Columns people read on the HTML page: from earned_month to amount.
_HTML_COLUMNS = slice(STATEMENT_COLUMNS.index("earned_month"), STATEMENT_COLUMNS.index("amount") + 1)


def _csv(rows: Iterable[Sequence[object]], header: Sequence[str], banner: str | None = None) -> bytes:
    # Every cell made safe to open in a spreadsheet; a banner is a first line no spreadsheet or payment
    # system takes for data: what the file is not.
    return csv_bytes(header, rows, banner)


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
    if isinstance(entry.basis, PhasePayment):
        return entry.basis.reason
    return categories.get((entry.rule_version, entry.action), "")


def phase_of(entry: LedgerEntry) -> str:
    """The program phase an entry pays in: a phase payment's, an award's (pay for performance when its
    version has no phases); '' for a carried balance."""
    basis = entry.basis
    if isinstance(basis, PhasePayment):
        return basis.phase.value
    if isinstance(basis, SvuAward):
        return (basis.phase or Phase.PERFORMANCE).value
    return ""


def _record_type(entry: LedgerEntry) -> str:
    # A carried balance and a phase payment are a clinic's, not a member's: their own record types keep
    # LINE rows fully traced to a member.
    if entry.is_balance:
        return "BALANCE"
    return "PHASE" if isinstance(entry.basis, PhasePayment) else "LINE"


def _line(entry: LedgerEntry, categories: Mapping[tuple[str, str], str]) -> tuple[object, ...]:
    svu = entry.basis if isinstance(entry.basis, SvuAward) else None
    return (
        _record_type(entry),
        entry.run_id,
        entry.clinic_id,
        entry.earned_month,
        entry.kind.value,
        _category(entry, categories),
        phase_of(entry),
        entry.member_id,
        entry.action,
        entry.step.value if entry.step else "",
        entry.action_date.isoformat(),
        " ".join(entry.evidence_refs),
        entry.rule_version,
        entry.basis.rule if isinstance(entry.basis, PhasePayment) else "",
        svu.svu if svu else "",
        svu.multiplier if svu else "",
        svu.bonus_rate if svu else "",
        svu.dollar_rate if svu else "",
        format_cents(entry.amount_cents),
        entry.entry_id,
        entry.reverses or "",
        entry.payer,
    )


def _total(
    kind: str, run_id: str, clinic_id: str, category: str, action: str, cents: int, payer: str = ""
) -> tuple[object, ...]:
    row: list[object] = [""] * len(STATEMENT_COLUMNS)
    row[0], row[1], row[2] = kind, run_id, clinic_id
    row[STATEMENT_COLUMNS.index("category")] = category
    row[STATEMENT_COLUMNS.index("action")] = action
    row[STATEMENT_COLUMNS.index("amount")] = format_cents(cents)
    row[STATEMENT_COLUMNS.index("payer_id")] = payer
    return tuple(row)


def payer_totals(entries: Iterable[LedgerEntry]) -> dict[str, int]:
    """Cents by payer: what each plan paying together pays the clinic (their sum is the clinic total)."""
    found: dict[str, int] = defaultdict(int)
    for e in entries:
        found[e.payer] += e.amount_cents
    return dict(sorted(found.items()))


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
    """One clinic's statement: an entry per LINE (BALANCE if carried, PHASE for a phase payment),
    ACTION_/CATEGORY_TOTALs, CLINIC_TOTAL.

    A line traces its amount to the member, action, step, evidence (claim id and line, attestation id,
    registry record), rule version and multiplier, and names the program phase it pays in; a phase payment
    names the rule it met; reversals and carried balances name the entry they reverse or carry in `reverses`.
    """
    categories = categories or {}
    by_category, by_action, total = statement_totals(entries, categories)
    rows = [_line(e, categories) for e in _ordered(entries, categories)]
    rows += [_total("ACTION_TOTAL", run_id, clinic_id, c, a, v) for (c, a), v in sorted(by_action.items())]
    rows += [_total("CATEGORY_TOTAL", run_id, clinic_id, c, "", v) for c, v in sorted(by_category.items())]
    rows += [_total("PAYER_TOTAL", run_id, clinic_id, "", "", v, p) for p, v in payer_totals(entries).items()]
    rows.append(_total("CLINIC_TOTAL", run_id, clinic_id, "", "", total))
    return _csv(rows, STATEMENT_COLUMNS, banner)


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
    return render(
        "statement.html.j2",
        run_id=run_id,
        clinic=clinic,
        banner=banner,
        total=total,
        by_action=sorted(by_action.items()),
        by_category=sorted(by_category.items()),
        by_payer=payer_totals(entries),
        phases=sorted({p for p in map(phase_of, entries) if p}),
        columns=STATEMENT_COLUMNS[_HTML_COLUMNS],
        lines=[_line(e, categories)[_HTML_COLUMNS] for e in _ordered(entries, categories)],
    )


def payment_csv(
    run_id: str,
    totals: Mapping[tuple[str, str], int],
    clinics: Mapping[str, Clinic],
    banner: str | None = None,
) -> bytes:
    """One row per paid clinic and payer (`totals` by (clinic_id, payer)): clinic_id, TIN, amount in dollars,
    run id, payer (a draft or preview says so on its first line).

    Only positive amounts are payments: a clinic at zero with a payer (its negative balance carried forward)
    has no row, and a negative amount is refused, never written.
    """
    if any(cents < 0 for cents in totals.values()):
        raise ValueError("a payment file cannot carry a negative amount")
    rows = [
        (c, clinics[c].tin, format_cents(cents), run_id, payer)
        for (c, payer), cents in sorted(totals.items())
        if cents > 0
    ]
    return _csv(rows, PAYMENT_COLUMNS, banner)


def payment_lines(data: bytes) -> dict[tuple[str, str], int]:
    """Cents per (clinic, payer) of a payment file (a draft's or preview's banner line is skipped)."""
    lines = [line for line in data.decode("utf-8").splitlines() if not line.startswith("#")]
    return {
        (row["clinic_id"], row["payer_id"]): parse_dollars(row["amount"]) for row in csv.DictReader(lines)
    }


def payment_amounts(data: bytes) -> dict[str, int]:
    """Cents per clinic of a payment file, every payer's rows added."""
    found: dict[str, int] = defaultdict(int)
    for (clinic_id, _), cents in payment_lines(data).items():
        found[clinic_id] += cents
    return dict(found)


def payment_total_cents(data: bytes) -> int:
    """Sum of a payment file's amounts, in cents."""
    return sum(payment_lines(data).values())


def _rate(count: MeasureCount) -> str:
    if not count.denominator:
        return ""
    percent = Decimal(count.numerator * 100) / Decimal(count.denominator)
    return str(percent.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def rates_csv(counts: Iterable[MeasureCount]) -> bytes:
    """The annual rates report: denominator, numerator and rate (percent, 4 places) per clinic, line of
    business and measure."""
    rows = [
        (m.clinic_id, m.line_of_business, m.action, m.denominator, m.numerator, _rate(m))
        for m in sorted(counts, key=lambda m: (m.clinic_id, m.line_of_business, m.action))
    ]
    return _csv(rows, RATE_COLUMNS)


GUARANTEE_COLUMNS = (
    "run_id",
    "clinic_id",
    "year",
    "enrollment_date",
    "days",
    "days_before",
    "days_on_care_gap",
    "benchmark_full_year",
    "prorated_benchmark",
    "equivalent_benchmark",
    "care_gap_earnings",
    "make_whole",
    "guarantee_total",
)


def guarantee_csv(run_id: str, results: Mapping[str, GuaranteeResult]) -> bytes:
    """The guarantee report: every guaranteed clinic's figures, dollars to the cent, zeros included."""
    rows = [
        (
            run_id,
            clinic_id,
            g.year,
            g.enrollment_date.isoformat(),
            g.days,
            g.days_before,
            g.days_on_care_gap,
            format_cents(g.benchmark_full_year_cents),
            format_cents(g.prorated_benchmark_cents),
            format_cents(g.equivalent_benchmark_cents),
            format_cents(g.care_gap_earnings_cents),
            format_cents(g.make_whole_cents),
            format_cents(g.guarantee_total_cents),
        )
        for clinic_id, g in sorted(results.items())
    ]
    return _csv(rows, GUARANTEE_COLUMNS)


INCENTIVE_COLUMNS = (
    "record_type",
    "run_id",
    "clinic_id",
    "program",
    "rule_version",
    "line_of_business",
    "component",
    "measure",
    "weight",
    "denominator",
    "numerator",
    "rate",
    "benchmark",
    "prior_rate",
    "counted",
    "met_by",
    "composite",
    "assigned_members",
    "amount_per_member",
    "enrollment_date",
    "days_before",
    "days_on_care_gap",
    "benchmark_full_year",
    "prorated_benchmark",
    "equivalent_benchmark",
    "care_gap_earnings",
    "make_whole",
    "practice_type",
    "member_months",
    "max_pmpm",
    "maximum",
    "applicable_measures",
    "valid_measures",
    "target",
    "scale",
    "unit",
    "baseline",
    "mpt",
    "threshold",
    "gold",
    "category",
    "share",
    "reason",
    "amount",
    "entry_id",
    "reverses",
    "payer_id",
)


def _blank(value: object) -> object:
    return "" if value is None else value


APC_RATE_COLUMNS = (
    "clinic_id",
    "measure",
    "part",
    "kind",
    "unit",
    "denominator",
    "numerator",
    "rate",
    "observed",
    "mean_factor",
)


def apc_rates_csv(rows: Iterable[Sequence[object]]) -> bytes:
    """The APC rates report: every practice's incentive and tracking rates in table 4's units, with the
    rate before risk adjustment and the practice's mean age/sex factor for utilization and cost."""
    return _csv(rows, APC_RATE_COLUMNS)


def _incentive_rows(entry: LedgerEntry) -> list[dict[str, object]]:
    """An annual entry and what explains it: per measure (numerator, denominator, benchmark or prior rate,
    met by what), or the guarantee's figures and the difference it makes whole."""
    head: dict[str, object] = {
        "run_id": entry.run_id,
        "clinic_id": entry.clinic_id,
        "program": entry.program,
        "rule_version": entry.rule_version,
        "amount": format_cents(entry.amount_cents),
        "entry_id": entry.entry_id,
        "reverses": entry.reverses or "",
        "payer_id": entry.payer,
    }
    basis = entry.basis
    if isinstance(basis, MeasureIncentive):
        row = head | {
            "record_type": "INCENTIVE" if entry.kind is not EntryKind.REVERSAL else "REVERSAL",
            "line_of_business": basis.line_of_business,
            "component": basis.scheme,
            "composite": basis.composite.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP),
            "assigned_members": basis.assigned_members,
            "amount_per_member": basis.amount_per_member,
        }
        measures: list[dict[str, object]] = [
            {
                "record_type": "MEASURE",
                "run_id": entry.run_id,
                "clinic_id": entry.clinic_id,
                "program": entry.program,
                "line_of_business": basis.line_of_business,
                "measure": m.measure,
                "weight": m.weight,
                "denominator": m.denominator,
                "numerator": m.numerator,
                "rate": m.rate if m.rate is not None else "",
                "benchmark": m.benchmark if m.benchmark is not None else "",
                "prior_rate": m.prior_rate if m.prior_rate is not None else "",
                "counted": "yes" if m.counted else "no",
                "met_by": m.met_by or "",
                "entry_id": entry.entry_id,
            }
            for m in basis.measures
        ]
        return [row, *measures]
    if isinstance(basis, PerformanceIncentive):
        return [
            head
            | {
                "record_type": "PERFORMANCE" if entry.kind is not EntryKind.REVERSAL else "REVERSAL",
                "component": basis.scheme,
                "practice_type": basis.practice_type,
                "member_months": basis.member_months,
                "max_pmpm": basis.max_pmpm,
                "maximum": format_cents(basis.maximum_cents),
                "applicable_measures": basis.applicable_measures,
                "valid_measures": basis.valid_measures,
                "target": basis.target,
                "scale": basis.scale,
            },
            *(
                {
                    "record_type": "APC_MEASURE",
                    "run_id": entry.run_id,
                    "clinic_id": entry.clinic_id,
                    "program": entry.program,
                    "measure": m.measure,
                    "component": m.component,
                    "unit": m.unit,
                    "denominator": m.denominator,
                    "numerator": m.numerator,
                    "rate": _blank(m.rate),
                    "baseline": _blank(m.baseline),
                    "mpt": _blank(m.mpt),
                    "threshold": _blank(m.threshold),
                    "gold": _blank(m.gold),
                    "category": m.category,
                    "share": m.share,
                    "reason": m.reason,
                    "amount": format_cents(m.amount_cents),
                    "entry_id": entry.entry_id,
                }
                for m in basis.measures
            ),
        ]
    if isinstance(basis, GuaranteeTopUp):
        prorated = basis.benchmark_full_year_cents - basis.equivalent_benchmark_cents
        gap = max(0, basis.equivalent_benchmark_cents - basis.care_gap_earnings_cents)
        return [
            head
            | {
                "record_type": "GUARANTEE" if entry.kind is not EntryKind.REVERSAL else "REVERSAL",
                "component": basis.component,
                "enrollment_date": basis.enrollment_date.isoformat(),
                "days_before": basis.days_before,
                "days_on_care_gap": basis.days_on_care_gap,
                "benchmark_full_year": format_cents(basis.benchmark_full_year_cents),
                "prorated_benchmark": format_cents(prorated),
                "equivalent_benchmark": format_cents(basis.equivalent_benchmark_cents),
                "care_gap_earnings": format_cents(basis.care_gap_earnings_cents),
                "make_whole": format_cents(gap),
            }
        ]
    return [head | {"record_type": "LINE"}]


def incentive_statement_rows(entries: Sequence[LedgerEntry]) -> list[dict[str, object]]:
    """Every row of an annual statement, ordered by program, line and component, then the clinic total."""
    ordered = sorted(entries, key=lambda e: (e.program, *e.basis.slot_key(), e.kind.value, e.entry_id))
    rows = [row for e in ordered for row in _incentive_rows(e)]
    if entries:
        rows += [
            {
                "record_type": "PAYER_TOTAL",
                "run_id": entries[0].run_id,
                "clinic_id": entries[0].clinic_id,
                "payer_id": payer,
                "amount": format_cents(cents),
            }
            for payer, cents in payer_totals(entries).items()
        ]
        total: dict[str, object] = {
            "record_type": "CLINIC_TOTAL",
            "run_id": entries[0].run_id,
            "clinic_id": entries[0].clinic_id,
            "amount": format_cents(sum(e.amount_cents for e in entries)),
        }
        rows.append(total)
    return rows


def incentive_statement_csv(entries: Sequence[LedgerEntry], *, banner: str | None = None) -> bytes:
    """One clinic's annual statement: each incentive with its measures, each guarantee part with its
    figures, and the clinic total (a plain sum of the entries' cents)."""
    rows = incentive_statement_rows(entries)
    return _csv(([row.get(c, "") for c in INCENTIVE_COLUMNS] for row in rows), INCENTIVE_COLUMNS, banner)


def incentive_statement_html(
    run_id: str, clinic: Clinic, entries: Sequence[LedgerEntry], *, banner: str | None = None
) -> bytes:
    """The annual statement for people: the incentives, how each measure did, and the guarantee."""
    rows = incentive_statement_rows(entries)
    return render(
        "annual_statement.html.j2",
        run_id=run_id,
        clinic=clinic,
        banner=banner,
        total=sum(e.amount_cents for e in entries),
        incentives=[r for r in rows if "composite" in r],
        measures=[r for r in rows if r["record_type"] == "MEASURE"],
        guarantees=[r for r in rows if "days_before" in r],
        performance=[r for r in rows if "scale" in r],
        apc_measures=[r for r in rows if r["record_type"] == "APC_MEASURE"],
        by_payer=payer_totals(entries),
    )
