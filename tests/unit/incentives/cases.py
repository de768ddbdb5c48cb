"""The boundary cases of docs/annual-incentives.md: each one an input and the outputs the plan expects.

The tests assert every case against the calculators (as functions and through `p4p calc`), and check
that the doc's two tables are exactly `render_benchmark_table()` and `render_guarantee_table()`, so the
doc cannot drift from what is tested. After changing a case, print the tables to paste into the doc:

    .venv/bin/python -m tests.unit.incentives.cases
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared.models.actions import LineOfBusiness
from shared.models.incentives import BenchmarkInput, BenchmarkMeasure, GuaranteeInput, MetBy

BENCHMARK = "benchmark"
NOT_MET = "not met"
NOT_COUNTED = "not counted"
IMPROVEMENT = "improvement"


@dataclass(frozen=True)
class BenchmarkCase:
    name: str
    clinic: BenchmarkInput
    per_measure: dict[str, str]
    """Each measure's expected outcome: `benchmark`, `improvement`, `not met` or `not counted`."""
    eligible: bool
    composite: str
    payment: str


@dataclass(frozen=True)
class GuaranteeCase:
    name: str
    clinic: GuaranteeInput
    days_before: int
    days_on_care_gap: int
    prorated_benchmark: str
    equivalent_benchmark: str
    make_whole: str
    guarantee_total: str


def measure(
    rate: str | None,
    *,
    benchmark: str = "57",
    weight: str = "1",
    inverse: bool = False,
    points: str = "2",
    prior: str | None = None,
    denominator: int = 40,
) -> BenchmarkMeasure:
    """A measure in percent; by default breast-cancer-screening-like: benchmark 57, 2 points to improve."""
    return BenchmarkMeasure(
        weight=Decimal(weight),
        benchmark=Decimal(benchmark),
        inverse=inverse,
        required_improvement_points=Decimal(points),
        rate=None if rate is None else Decimal(rate),
        prior_rate=None if prior is None else Decimal(prior),
        denominator=denominator,
    )


def inverse_measure(rate: str | None, *, prior: str | None = None, weight: str = "1") -> BenchmarkMeasure:
    """A lower-is-better measure like HbA1c poor control (> 9%): benchmark 33.5."""
    return measure(rate, benchmark="33.5", inverse=True, prior=prior, weight=weight)


def clinic(
    measures: dict[str, BenchmarkMeasure],
    *,
    members: int = 200,
    minimum: int = 100,
    line: LineOfBusiness = LineOfBusiness.MC,
    amount: str = "10.00",
    minimum_denominator: int = 30,
) -> BenchmarkInput:
    """A Medi-Cal clinic of 200 assigned members (minimum 100), $10.00 a member, minimum denominator 30."""
    return BenchmarkInput(
        line_of_business=line,
        assigned_members=members,
        minimum_members=minimum,
        minimum_denominator=minimum_denominator,
        amount_per_member=Decimal(amount),
        measures=measures,
    )


BENCHMARK_CASES: tuple[BenchmarkCase, ...] = (
    BenchmarkCase(
        "exactly at the benchmark",
        clinic({"BCS-E": measure("57")}),
        {"BCS-E": BENCHMARK},
        True,
        "1",
        "2000.00",
    ),
    BenchmarkCase(
        "just below the benchmark, no prior rate",
        clinic({"BCS-E": measure("56.99")}),
        {"BCS-E": NOT_MET},
        True,
        "0",
        "0.00",
    ),
    BenchmarkCase(
        "inverse measure exactly at the benchmark",
        clinic({"GSD": inverse_measure("33.5")}),
        {"GSD": BENCHMARK},
        True,
        "1",
        "2000.00",
    ),
    BenchmarkCase(
        "inverse measure just above the benchmark",
        clinic({"GSD": inverse_measure("33.51")}),
        {"GSD": NOT_MET},
        True,
        "0",
        "0.00",
    ),
    BenchmarkCase(
        "improvement exactly at the required points",
        clinic({"BCS-E": measure("52", prior="50")}),
        {"BCS-E": IMPROVEMENT},
        True,
        "1",
        "2000.00",
    ),
    BenchmarkCase(
        "improvement just below the required points",
        clinic({"BCS-E": measure("51.99", prior="50")}),
        {"BCS-E": NOT_MET},
        True,
        "0",
        "0.00",
    ),
    BenchmarkCase(
        "inverse improvement exactly at the required points",
        clinic({"GSD": inverse_measure("38", prior="40")}),
        {"GSD": IMPROVEMENT},
        True,
        "1",
        "2000.00",
    ),
    BenchmarkCase(
        "inverse improvement just below the required points",
        clinic({"GSD": inverse_measure("38.01", prior="40")}),
        {"GSD": NOT_MET},
        True,
        "0",
        "0.00",
    ),
    BenchmarkCase(
        "at the benchmark and improved: the benchmark takes precedence",
        clinic({"BCS-E": measure("60", prior="50")}),
        {"BCS-E": BENCHMARK},
        True,
        "1",
        "2000.00",
    ),
    BenchmarkCase(
        "denominator at the minimum counts, one below does not",
        clinic({"BCS-E": measure("60", denominator=30), "CCS-E": measure("10", denominator=29)}),
        {"BCS-E": BENCHMARK, "CCS-E": NOT_COUNTED},
        True,
        "1",
        "2000.00",
    ),
    BenchmarkCase(
        "a measure without a rate does not count",
        clinic({"BCS-E": measure("60"), "COL-E": measure(None)}),
        {"BCS-E": BENCHMARK, "COL-E": NOT_COUNTED},
        True,
        "1",
        "2000.00",
    ),
    BenchmarkCase(
        "no counted measure",
        clinic({"BCS-E": measure("60", denominator=29), "COL-E": measure(None)}),
        {"BCS-E": NOT_COUNTED, "COL-E": NOT_COUNTED},
        True,
        "0",
        "0.00",
    ),
    BenchmarkCase(
        "clinic exactly at minimum_members",
        clinic({"BCS-E": measure("60")}, members=100),
        {"BCS-E": BENCHMARK},
        True,
        "1",
        "1000.00",
    ),
    BenchmarkCase(
        "clinic one below minimum_members",
        clinic({"BCS-E": measure("60")}, members=99),
        {"BCS-E": NOT_COUNTED},
        False,
        "0",
        "0.00",
    ),
    BenchmarkCase(
        "CareAdvantage clinic at its minimum of 50",
        clinic({"COA-MR": measure("80")}, members=50, minimum=50, line=LineOfBusiness.CA),
        {"COA-MR": BENCHMARK},
        True,
        "1",
        "500.00",
    ),
    BenchmarkCase(
        "HealthWorx: Benchmark P4P is not offered",
        clinic({"BCS-E": measure("60")}, line=LineOfBusiness.HW),
        {"BCS-E": NOT_COUNTED},
        False,
        "0",
        "0.00",
    ),
    BenchmarkCase(
        "weights 2 met of 3 counted: composite does not terminate",
        clinic({"BCS-E": measure("60", weight="2"), "GSD": inverse_measure("40")}),
        {"BCS-E": BENCHMARK, "GSD": NOT_MET},
        True,
        "0.666667",
        "1333.33",
    ),
    BenchmarkCase(
        "half a cent rounds up (12.625)",
        clinic({"BCS-E": measure("60"), "CCS-E": measure("10")}, members=101, amount="0.25", minimum=100),
        {"BCS-E": BENCHMARK, "CCS-E": NOT_MET},
        True,
        "0.5",
        "12.63",
    ),
    BenchmarkCase(
        "paid on the exact composite, not on 0.666667 (which would pay 666667.00)",
        clinic({"BCS-E": measure("60", weight="2"), "GSD": inverse_measure("40")}, members=100000),
        {"BCS-E": BENCHMARK, "GSD": NOT_MET},
        True,
        "0.666667",
        "666666.67",
    ),
)


def guarantee(year: int, enrolled: date, full: str, earnings: str) -> GuaranteeInput:
    return GuaranteeInput(
        year=year,
        enrollment_date=enrolled,
        benchmark_full_year=Decimal(full),
        care_gap_earnings=Decimal(earnings),
    )


GUARANTEE_CASES: tuple[GuaranteeCase, ...] = (
    GuaranteeCase(
        "enrolled 1 January, earnings below the equivalent",
        guarantee(2026, date(2026, 1, 1), "3650.00", "3000.00"),
        0, 365, "0.00", "3650.00", "650.00", "650.00",
    ),
    GuaranteeCase(
        "enrolled 1 January, earnings above the equivalent",
        guarantee(2026, date(2026, 1, 1), "3650.00", "4000.00"),
        0, 365, "0.00", "3650.00", "0.00", "0.00",
    ),
    GuaranteeCase(
        "enrolled 31 December",
        guarantee(2026, date(2026, 12, 31), "3650.00", "0.00"),
        364, 1, "3640.00", "10.00", "10.00", "3650.00",
    ),
    GuaranteeCase(
        "enrolled 1 March, earnings exactly the equivalent",
        guarantee(2026, date(2026, 3, 1), "3650.00", "3060.00"),
        59, 306, "590.00", "3060.00", "0.00", "590.00",
    ),
    GuaranteeCase(
        "enrolled 15 April, proration rounded to the cent (284.9315…)",
        guarantee(2026, date(2026, 4, 15), "1000.00", "500.00"),
        104, 261, "284.93", "715.07", "215.07", "500.00",
    ),
    GuaranteeCase(
        "leap year, enrolled 1 March",
        guarantee(2028, date(2028, 3, 1), "3660.00", "2500.00"),
        60, 306, "600.00", "3060.00", "560.00", "1160.00",
    ),
    GuaranteeCase(
        "leap year, half the year: half a cent rounds up (1000.005)",
        guarantee(2028, date(2028, 7, 2), "2000.01", "1200.00"),
        183, 183, "1000.01", "1000.00", "0.00", "1000.01",
    ),
    GuaranteeCase(
        "enrolled in an earlier year",
        guarantee(2026, date(2025, 7, 1), "3650.00", "2000.00"),
        0, 365, "0.00", "3650.00", "1650.00", "1650.00",
    ),
    GuaranteeCase(
        "enrolled after the year (on Benchmark all year)",
        guarantee(2026, date(2027, 1, 1), "3650.00", "0.00"),
        365, 0, "3650.00", "0.00", "0.00", "3650.00",
    ),
    GuaranteeCase(
        "no Benchmark bonus to guarantee",
        guarantee(2026, date(2026, 7, 1), "0.00", "0.00"),
        181, 184, "0.00", "0.00", "0.00", "0.00",
    ),
)  # fmt: skip


def _describe_measure(code: str, m: BenchmarkMeasure) -> str:
    target = f"{'≤' if m.inverse else '≥'} {m.benchmark}"
    parts = [f"{code} (w {m.weight}, {target}"]
    parts.append(f", {m.required_improvement_points} pts): rate {'none' if m.rate is None else m.rate}")
    if m.prior_rate is not None:
        parts.append(f", prior {m.prior_rate}")
    parts.append(f", n {m.denominator}")
    return "".join(parts)


def _describe_clinic(c: BenchmarkInput) -> str:
    return (
        f"{c.line_of_business.value}, {c.assigned_members} members (min {c.minimum_members}), "
        f"${c.amount_per_member}/member, min n {c.minimum_denominator}"
    )


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_benchmark_table() -> str:
    """The doc's Benchmark P4P table, one row per case."""
    rows = [
        (
            case.name,
            _describe_clinic(case.clinic),
            "; ".join(_describe_measure(code, m) for code, m in case.clinic.measures.items()),
            "; ".join(f"{code}: {outcome}" for code, outcome in case.per_measure.items()),
            "yes" if case.eligible else "no",
            case.composite,
            case.payment,
        )
        for case in BENCHMARK_CASES
    ]
    header = ("Case", "Clinic", "Measures", "Per measure", "eligible", "composite", "payment")
    return _table(header, rows)


def render_guarantee_table() -> str:
    """The doc's earnings guarantee table, one row per case."""
    rows = [
        (
            case.name,
            str(case.clinic.year),
            case.clinic.enrollment_date.isoformat(),
            str(case.clinic.benchmark_full_year),
            str(case.clinic.care_gap_earnings),
            str(case.days_before),
            str(case.days_on_care_gap),
            case.prorated_benchmark,
            case.equivalent_benchmark,
            case.make_whole,
            case.guarantee_total,
        )
        for case in GUARANTEE_CASES
    ]
    header = (
        "Case",
        "year",
        "enrollment_date",
        "benchmark_full_year",
        "care_gap_earnings",
        "days_before",
        "days_on_care_gap",
        "prorated_benchmark",
        "equivalent_benchmark",
        "make_whole",
        "guarantee_total",
    )
    return _table(header, rows)


def met_by_label(met_by: MetBy | None, counted: bool) -> str:
    """A calculator outcome in the table's words."""
    if not counted:
        return NOT_COUNTED
    return NOT_MET if met_by is None else met_by.value


if __name__ == "__main__":
    print(render_benchmark_table())
    print()
    print(render_guarantee_table())
