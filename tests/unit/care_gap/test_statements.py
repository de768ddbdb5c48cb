import csv
import io
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.models.actions import ActionCode, Step
from shared.models.ledger import LedgerEntry
from shared.services.statements import payment_csv, payment_total_cents, statement_csv
from tests.unit.care_gap.factories import clinic


def entry(member, step, cents, clinic_id="C1"):
    return LedgerEntry(
        program="care_gap",
        clinic_id=clinic_id,
        member_id=member,
        action=ActionCode("BCS-E"),
        period="2026",
        step=step,
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


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=30))
def test_statement_lines_totals_and_payment_file_agree_to_the_cent(amounts):
    # GIVEN entries of any amounts for one clinic
    entries = [entry(f"M{i}", list(Step)[i % 3], cents) for i, cents in enumerate(amounts)]
    # WHEN the statement and payment file are rendered
    rows = list(csv.DictReader(io.StringIO(statement_csv("r", "C1", entries).decode())))
    payment = payment_csv("r", {("C1", "plan"): sum(amounts)}, {"C1": clinic("C1")})
    # THEN each entry is a traced line, and the lines, the clinic total and the payment file agree
    lines = [r for r in rows if r["record_type"] == "LINE"]
    assert len(lines) == len(amounts) and all(r["evidence"].startswith("claim:") for r in lines)
    line_cents = sum(round(Decimal(r["amount"]) * 100) for r in lines)
    total = next(r for r in rows if r["record_type"] == "CLINIC_TOTAL")
    assert line_cents == round(Decimal(total["amount"]) * 100) == payment_total_cents(payment) == sum(amounts)
