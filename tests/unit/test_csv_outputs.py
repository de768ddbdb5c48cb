"""Every CSV the engine writes is safe to open in a spreadsheet: read back, no cell starts with = + - @,
a tab or a carriage return (OWASP's CSV-injection list), and a negative amount still reads as the amount."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.csv_cells import DANGEROUS_FIRST, csv_bytes, csv_cell, csv_cell_expr
from shared.intake import write_rejects_csv
from shared.models.actions import ActionCode, Step
from shared.models.gaps import GapStatus
from shared.models.ledger import LedgerEntry
from shared.models.runs import MeasureCount
from shared.services.registry import ChartRequest, RegistryRow, chart_requests_csv, registry_csv
from shared.services.statements import payment_amounts, payment_csv, rates_csv, statement_csv
from tests.unit.care_gap.factories import clinic

HOSTILE = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1", " =1", "=HYPERLINK(x)"]


def _cells(data: bytes) -> list[str]:
    text = data.decode("utf-8")
    if text.startswith("#"):  # a banner line: what the file is not
        text = text.split("\n", 1)[1]
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def _unsafe(cells: list[str]) -> list[str]:
    return [c for c in cells if c.startswith(DANGEROUS_FIRST) or c.lstrip(" ").startswith(("=", "+", "@"))]


def _entry(member: str, cents: int, clinic_id: str = "C1") -> LedgerEntry:
    return LedgerEntry(
        program="care_gap",
        clinic_id=clinic_id,
        member_id=member,
        action=ActionCode("BCS-E"),
        period="2026",
        step=Step.CLAIM,
        svu=Decimal(1),
        multiplier=Decimal(1),
        bonus_rate=Decimal(0),
        dollar_rate=Decimal(1),
        amount_cents=cents,
        rule_version="v",
        evidence_ids=("e",),
        evidence_refs=(f"claim:{member}#1",),
        action_date=date(2026, 3, 1),
        earned_month="2026-03",
        run_id="r",
    )


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12)))
def test_a_cell_never_starts_like_a_formula_and_python_and_polars_write_it_alike(value: str) -> None:
    # GIVEN any text, hostile or not
    # WHEN it is made a cell, in Python and as a polars expression
    cell = csv_cell(value)
    written = pl.DataFrame({"v": [value]}).select(csv_cell_expr(pl.col("v"))).item()
    # THEN it starts like no formula, holds no bare carriage return, both ways agree, and a safe value is
    # left as it was (its line breaks as LF)
    assert not cell.startswith(DANGEROUS_FIRST) and not cell.lstrip(" ").startswith(("=", "+", "@"))
    assert "\r" not in cell and written == cell
    if not value.lstrip(" ").startswith(DANGEROUS_FIRST):
        assert cell == value.replace("\r\n", "\n").replace("\r", "\n")


def test_statements_written_with_hostile_ids_read_back_with_no_formula_and_negatives_as_amounts() -> None:
    # GIVEN ledger entries whose ids carry formulas (intake refuses such ids; the writer does not trust it)
    entries = [_entry(member, 1250) for member in HOSTILE] + [_entry("M-refund", -1250)]
    # WHEN the clinic's statement is written and read back
    data = statement_csv("r", "=C1", entries)
    rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
    # THEN no cell starts like a formula, and the negative amount still reads as -12.50
    assert _unsafe(_cells(data)) == []
    refund = next(r for r in rows if r["member_id"] == "M-refund")
    assert refund["amount"] == " -12.50" and Decimal(refund["amount"]) == Decimal("-12.50")
    assert {r["member_id"] for r in rows if r["record_type"] == "LINE"} >= {f"'{HOSTILE[0]}"}


def test_payment_files_and_rates_read_back_with_no_formula() -> None:
    # GIVEN a payment file and a rates report naming clinics and measures with formulas
    clinics = {"=C1": clinic("=C1"), "@C2": clinic("@C2")}
    amounts = {("=C1", "plan"): 1000, ("@C2", "plan"): 250}
    payment = payment_csv("r", amounts, clinics, banner="=not a payment")
    rates = rates_csv([MeasureCount(clinic_id="+C3", action="-BCS", denominator=4, numerator=1)])
    # WHEN they are read back
    # THEN no cell starts like a formula, and the payment file's amounts still read as written
    assert _unsafe(_cells(payment)) == [] and _unsafe(_cells(rates)) == []
    assert payment_amounts(payment) == {"'=C1": 1000, "'@C2": 250}


def test_registry_and_chart_requests_read_back_with_no_formula() -> None:
    # GIVEN a registry row and a chart request whose values carry formulas
    row = RegistryRow(
        clinic_id="=C1",
        member_id="+M1",
        action=ActionCode("BCS-E"),
        action_name="=HYPERLINK(x)",
        period="2026",
        status=GapStatus.OPEN,
        next_action=Step.SCHEDULE,
        due_date=date(2026, 12, 31),
        svu_at_stake="10",
        cents_at_stake=1000,
        tags=("@tag",),
        detail="-2+3",
    )
    request = ChartRequest(
        clinic_id="=C1",
        member_id="@M1",
        action=ActionCode("BCS-E"),
        period="2026",
        step=Step.PERFORM,
        attested_on=date(2026, 1, 5),
        reference="=attestation:A1",
        days_unconfirmed=120,
    )
    # WHEN they are written and read back
    # THEN no cell starts like a formula
    assert _unsafe(_cells(registry_csv([row]))) == [] and _unsafe(_cells(chart_requests_csv([request]))) == []


def test_a_rejects_report_reads_back_with_no_formula(tmp_path: Path) -> None:
    # GIVEN reject lines (a row problem has no field)
    lines = pl.DataFrame(
        {"source_row": [1, 2], "field": ["", "=member_id"], "reason_code": ["RAGGED_ROW", "@X"]}
    )
    # WHEN the report is written and read back
    path = tmp_path / "rejects.csv"
    write_rejects_csv(lines.lazy(), path)
    # THEN the row problem's field is empty and no cell starts like a formula
    assert path.read_text().splitlines()[1] == "1,,RAGGED_ROW"
    assert _unsafe(_cells(path.read_bytes())) == []


def test_csv_bytes_makes_every_cell_safe_header_and_banner_included() -> None:
    # GIVEN a header and rows with formulas
    # WHEN the file is written
    data = csv_bytes(["=h"], [["=x"], ["-3"]], banner="=b")
    # THEN the banner stays a comment line and every cell is safe; -3 is still a number
    assert data.decode().splitlines()[0] == "# '=b"
    assert _cells(data) == ["'=h", "'=x", " -3"]
