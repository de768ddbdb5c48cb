"""APC Element 3 with plans paying together, on moto: one score per practice over all its attributed members
(the common methodology), paid by each payer the practice is on an APC track with, on that payer's member
months (docs/apc-incentive.md, "Plans paying together").

K2 and its data are `test_annual_apc.py`'s: 50 member months (W1-W4 all year, M4 in January and February),
BCS-E 3 of 4. Here W3 and W4 are PLAN2's members, so the plan has 26 member months at K2 and PLAN2 24.
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shared.clock import clock_override, shifted_clock
from shared.models.ledger import EntryKind, ledger_entry_id
from shared.services.kinds.annual_apc import ELEMENT3_SCHEME
from tests.functional.flow import land
from tests.functional.plan_data import CLINICS_HEADER, ELIGIBILITY_HEADER, FILES
from tests.functional.test_annual_apc import (
    AFTER_FINALIZATION,
    MAMMOGRAMS,
    ROSTER,
    RUN,
    _report,
    _run,
    _statement,
    apc_version,
)
from tests.functional.test_annual_run import benchmark_version

SINGLE_PAYER_TOTAL = Decimal("165.57")
"""K2's Element 3 when every member is the plan's (`test_annual_apc.py`): $6.00 x 50 member months scored."""

SPLIT_ROSTER = (
    ELIGIBILITY_HEADER.rstrip("\n")
    + ",payer_id\n"
    + "".join(f"W{i},1960-05-0{i},F,MC,K2,2025-01-01,,{'' if i < 3 else 'PLAN2'}\n" for i in range(1, 5))
)
K2 = "K2,222222222,1234567893,Bayside Adult Medicine,MC,care_gap,2025-11-01,family_adult,adult"
ONLY_PLAN2 = CLINICS_HEADER.rstrip("\n") + ",payer_id\n" + f"{K2},none,\n" + f"{K2},ffs_plus,PLAN2\n"


def _land(aws: Any, lambda_context: Any, roster: str, clinics: str | None = None) -> None:
    with clock_override(shifted_clock(AFTER_FINALIZATION)):
        files = FILES | {"landing/eligibility/k2.csv": roster, "landing/medical_claims/k2.csv": MAMMOGRAMS}
        land(aws, lambda_context, files)
        if clinics is not None:
            land(aws, lambda_context, {"landing/clinics/clinics-2026-04-payers.csv": clinics})
        for key, body in (
            ("programs/apc/test.json", apc_version()),
            ("programs/benchmark/test.json", benchmark_version()),
        ):
            aws.s3.put_object(Bucket=aws.names["CURATED_BUCKET"], Key=key, Body=body)


def _heads(aws: Any) -> dict[str, dict[str, str]]:
    rows = _statement(aws, "K2")
    return {r["payer_id"]: r for r in rows if r["record_type"] == "PERFORMANCE"}


def _lines(aws: Any, entry_id: str) -> dict[str, dict[str, str]]:
    rows = _statement(aws, "K2")
    return {
        r["measure"] + r["component"]: r
        for r in rows
        if r["record_type"] == "APC_MEASURE" and r["entry_id"] == entry_id
    }


def _half_up_of_shares(lines: dict[str, dict[str, str]], maximum: str) -> Decimal:
    exact = sum(Decimal(r["share"]) for r in lines.values()) * Decimal(maximum)
    return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _payment_rows(aws: Any) -> set[tuple[str, str]]:
    body = _report_bytes(aws, f"runs/{RUN}/payment-draft.csv")
    lines = [line for line in body.splitlines() if not line.startswith("#")]
    return {
        (r["payer_id"], r["amount"])
        for r in csv.DictReader(io.StringIO("\n".join(lines)))
        if r["clinic_id"] == "K2"
    }


def _report_bytes(aws: Any, key: str) -> str:
    body: bytes = aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read()
    return body.decode()


def test_a_single_payer_practice_is_paid_as_before(aws, lambda_context):
    # GIVEN every K2 member with the deploying plan
    _land(aws, lambda_context, ROSTER)
    # WHEN the annual run executes
    _run(lambda_context)
    # THEN K2 has one Element 3 entry, the plan's, with the id of a practice's entry before payers and the
    # practice's figure
    heads = _heads(aws)
    assert set(heads) == {"plan"}
    head = heads["plan"]
    assert (head["member_months"], head["maximum"], Decimal(head["amount"])) == (
        "50",
        "300.00",
        SINGLE_PAYER_TOTAL,
    )
    expected = ledger_entry_id(
        program="apc",
        payer="plan",
        clinic_id="K2",
        member_id="",
        key=(ELEMENT3_SCHEME, ""),
        period="2026",
        kind=EntryKind.EARN.value,
    )
    assert head["entry_id"] == expected


def test_two_payers_each_pay_on_their_own_member_months_one_score(aws, lambda_context):
    # GIVEN K2 on FFS+ as its own track (so with PLAN2 too), W1 and W2 with the plan, W3 and W4 with PLAN2
    _land(aws, lambda_context, SPLIT_ROSTER)
    # WHEN the annual run executes
    _run(lambda_context)
    # THEN each payer has one entry on its own member months: 26 for the plan (W1, W2, M4's two), 24 PLAN2's
    heads = _heads(aws)
    assert {p: (h["member_months"], h["maximum"]) for p, h in heads.items()} == {
        "plan": ("26", "156.00"),
        "PLAN2": ("24", "144.00"),
    }
    # AND both are scored on the one practice score: every member counts in the rates (BCS-E 3 of 4, EDU 50
    # member months), so each measure has the same share in both
    plan, plan2 = (_lines(aws, heads[p]["entry_id"]) for p in ("plan", "PLAN2"))
    assert (plan["BCS-E"]["denominator"], plan["BCS-E"]["numerator"], plan2["EDU"]["denominator"]) == (
        "4",
        "3",
        "50",
    )
    assert {k: r["share"] for k, r in plan.items()} == {k: r["share"] for k, r in plan2.items()}
    # AND each entry is its shares x its maximum, half up to the cent, and its measures add up to it
    for payer, lines in (("plan", plan), ("PLAN2", plan2)):
        amount = Decimal(heads[payer]["amount"])
        assert amount == _half_up_of_shares(lines, heads[payer]["maximum"])
        assert sum(Decimal(r["amount"]) for r in lines.values()) == amount
    # AND their member months and maximums add up to the single-payer figures (50, $300.00); their amounts
    # add up to it within a cent, each payer's rounded on its own: the practice's exact $165.566 rounds up to
    # $165.57, the plan's $86.094 down to $86.09 and PLAN2's $79.472 down to $79.47
    assert int(heads["plan"]["member_months"]) + int(heads["PLAN2"]["member_months"]) == 50
    assert Decimal(heads["plan"]["maximum"]) + Decimal(heads["PLAN2"]["maximum"]) == Decimal("300.00")
    amounts = (Decimal(heads["plan"]["amount"]), Decimal(heads["PLAN2"]["amount"]))
    assert amounts == (Decimal("86.09"), Decimal("79.47"))
    assert SINGLE_PAYER_TOTAL - sum(amounts) == Decimal("0.01")
    # AND the statement totals each payer, and the payment draft has K2 once per payer
    rows = _statement(aws, "K2")
    totals = {r["payer_id"]: r["amount"] for r in rows if r["record_type"] == "PAYER_TOTAL"}
    assert totals == {p: h["amount"] for p, h in heads.items()}
    assert _payment_rows(aws) == set(totals.items())
    # AND the HTML statement shows each payer's Element 3 with its own measures, the payer named
    html = _report_bytes(aws, f"statements/{RUN}/K2.html")
    for payer, head in heads.items():
        assert f"Paid by {payer}:" in html and f"{payer}'s entry, each measure" in html
        section = html.split(f"Paid by {payer}:", 1)[1].split("</table>", 2)[1]
        measures = _lines(aws, head["entry_id"])
        assert section.count("<tr><td>") == len(measures) > 0


def test_a_practice_on_a_track_only_with_another_payer_is_paid_by_that_payer_only(aws, lambda_context):
    # GIVEN K2 on no track of its own and on FFS+ with PLAN2; W3 and W4 are PLAN2's members
    _land(aws, lambda_context, SPLIT_ROSTER, ONLY_PLAN2)
    # WHEN the annual run executes
    _run(lambda_context)
    # THEN PLAN2 alone pays K2's Element 3, on its 24 member months
    heads = _heads(aws)
    assert {p: (h["member_months"], h["maximum"]) for p, h in heads.items()} == {"PLAN2": ("24", "144.00")}
    # AND the score is still the practice's, over every attributed member (the plan's included)
    lines = _lines(aws, heads["PLAN2"]["entry_id"])
    assert (lines["BCS-E"]["denominator"], lines["EDU"]["denominator"]) == ("4", "50")
    assert Decimal(heads["PLAN2"]["amount"]) == _half_up_of_shares(lines, "144.00")
    rates = {(r["clinic_id"], r["measure"]) for r in _report(aws, f"runs/{RUN}/apc-rates.csv")}
    assert ("K2", "BCS-E") in rates
    # AND no plan entry exists for K2's Element 3
    items = aws.dynamodb.scan(TableName=aws.names["LEDGER_TABLE"])["Items"]
    apc = {
        (i["clinic_id"]["S"], i.get("payer", {}).get("S", "plan"))
        for i in items
        if i["program"]["S"] == "apc"
    }
    assert apc == {("K2", "PLAN2")}
