"""Plans paying together (issue 13 §1): a member's roster span names the payer that pays what the member
earns; a clinic's statement shows every payer side by side and the total; the payment file has one row per
clinic and payer, kept through approval.

K1 has M1 (the deploying plan, no `payer_id`) and P1, a woman of 60 whose roster names PLAN2, screened in
March (claim received in April, so both pay in April's run).
"""

from __future__ import annotations

import csv
from decimal import Decimal
from typing import Any

from tests.functional.flow import land, run_month
from tests.functional.plan_data import CLAIMS_HEADER, ELIGIBILITY_HEADER, FILES
from tests.functional.test_run_lifecycle import APPROVER, call, payment_file

SECOND_PLAN = ELIGIBILITY_HEADER.rstrip("\n") + ",payer_id\n" + "P1,1966-05-01,F,MC,K1,2025-01-01,,PLAN2\n"
SCREENING = CLAIMS_HEADER + "CP1,1,1,P1,2026-03-10,2026-03-10,2026-04-03,77067,Z1231,1234567893\n"


def _rows(data: bytes) -> list[dict[str, str]]:
    lines = [line for line in data.decode().splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def _report(aws: Any, key: str) -> bytes:
    body: bytes = aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read()
    return body


def test_each_payer_pays_what_its_members_earn_side_by_side_on_the_statement_and_the_payment_file(
    aws, lambda_context
):
    # GIVEN the plan's files and P1, with PLAN2, screened in March
    land(
        aws,
        lambda_context,
        FILES | {"landing/eligibility/plan2.csv": SECOND_PLAN, "landing/medical_claims/p1.csv": SCREENING},
    )
    # WHEN April runs (M1's and P1's screenings are both received in April)
    run_id = run_month(lambda_context, "2026-04")["run"]["run_id"]
    # THEN every line names its payer, and the statement totals each payer and the clinic
    rows = _rows(_report(aws, f"statements/{run_id}/K1.csv"))
    lines = [r for r in rows if r["record_type"] == "LINE"]
    assert {r["payer_id"] for r in lines if r["member_id"] == "P1"} == {"PLAN2"}
    assert {r["payer_id"] for r in lines if r["member_id"] != "P1"} == {"plan"}
    payers = {r["payer_id"]: Decimal(r["amount"]) for r in rows if r["record_type"] == "PAYER_TOTAL"}
    total = next(Decimal(r["amount"]) for r in rows if r["record_type"] == "CLINIC_TOTAL")
    assert set(payers) == {"plan", "PLAN2"} and sum(payers.values()) == total
    assert payers["PLAN2"] == sum(Decimal(r["amount"]) for r in lines if r["payer_id"] == "PLAN2")
    assert b"PLAN2" in _report(aws, f"statements/{run_id}/K1.html")
    # AND the draft payment file has K1 once per payer, as the approved payment file does
    draft = _rows(_report(aws, f"runs/{run_id}/payment-draft.csv"))
    k1 = {(r["payer_id"], Decimal(r["amount"])) for r in draft if r["clinic_id"] == "K1"}
    assert k1 == set(payers.items())
    status, _ = call(lambda_context, "POST", f"/runs/{run_id}/approve", APPROVER)
    assert status == 200
    paid = _rows(payment_file(aws, run_id))
    assert {(r["clinic_id"], r["payer_id"], r["amount"]) for r in paid} == {
        (r["clinic_id"], r["payer_id"], r["amount"]) for r in draft
    }
