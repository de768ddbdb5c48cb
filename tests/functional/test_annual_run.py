"""The annual run on moto: Benchmark P4P for a clinic that stayed in it, the earnings guarantee for Care Gap
clinics, each measure and figure on the statement, exactly-once entries.

The plan is the tiny plan (`plan_data.py`) plus a woman at K3, with a Benchmark version whose only measure is
BCS-E (CMS: women 52-74) and whose minimums the tiny plan meets, so every figure can be worked by hand:
- K3 (Benchmark since 2025): MC members M5 and M6 (12 months each), BCS-E 1 of 1 → composite 1 → 1 x $10 x 2.
- K1 (Care Gap from 15 Jan 2026): MC members M1, M3, M4 (M4 from March: 10 months), BCS-E M1 and M4, both
  screened → $10 x 3 = $30; CA member M2, screened → $20 x 1; full-year bonus $50.00. Days before enrolling:
  14 of 365 → prorated $1.92 (50 x 14 / 365 = 1.9178, half up); equivalent $48.08.
- K2 (Care Gap from Nov 2025): no member assigned 9 months (M4 left in February) → nothing.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.clock import clock_override, shifted_clock
from shared.programs.care_gap import DATA_DIR
from shared.services.runs import RunAlreadyClosedError
from tests.functional.flow import OPERATOR, land, run_month, run_request
from tests.functional.plan_data import CLAIMS_HEADER, ELIGIBILITY_HEADER, FILES

AFTER_FINALIZATION = datetime(2027, 7, 1, tzinfo=UTC)
ANNUAL = {"run_kind": "annual", "program_year": 2026, "mode": "final", "requested_by": OPERATOR}
EXTRA = {
    "landing/eligibility/k3-2026-05.csv": ELIGIBILITY_HEADER + "M6,1968-06-06,F,MC,K3,2025-01-01,\n",
    "landing/medical_claims/k3-2026-05.csv": CLAIMS_HEADER
    + "CL600,1,1,M6,2026-05-01,2026-05-01,2026-05-10,77067,Z1231,1234567893\n",
}


def benchmark_version(**changes: Any) -> bytes:
    shipped = json.loads((DATA_DIR / "benchmark" / "benchmark_2026.json").read_text(encoding="utf-8"))
    bcs = next(m for m in shipped["measures"] if m["code"] == "BCS-E")
    version = shipped | {
        "version": "benchmark-2026.test",
        "effective_from": "2026-01-02",
        "lines": [
            {"line_of_business": "MC", "minimum_members": 1, "amount_per_member": "10.00"},
            {"line_of_business": "CA", "minimum_members": 1, "amount_per_member": "20.00"},
        ],
        "minimum_denominator": 1,
        "measures": [bcs | {"practice_types": ["adult", "pediatric", "mixed"]}],
    }
    return json.dumps(version | changes).encode()


def ledger(aws: Any) -> list[dict[str, Any]]:
    return aws.dynamodb.scan(TableName=aws.names["LEDGER_TABLE"])["Items"]


def statement(aws: Any, clinic: str) -> list[dict[str, str]]:
    key = f"statements/annual-2026-final/{clinic}.csv"
    body = aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def annual_entries(aws: Any) -> dict[tuple[str, str], int]:
    found = {}
    for item in ledger(aws):
        if item["run_id"]["S"] == "annual-2026-final":
            basis = item["basis"]["M"]
            key = basis.get("line_of_business", basis.get("component", {"S": ""}))["S"]
            found[(item["clinic_id"]["S"], key)] = int(item["amount_cents"]["N"])
    return found


@pytest.fixture
def plan(aws, lambda_context):
    land(aws, lambda_context, FILES | EXTRA)
    aws.s3.put_object(
        Bucket=aws.names["CURATED_BUCKET"], Key="programs/benchmark/test.json", Body=benchmark_version()
    )
    return aws


def test_benchmark_pays_the_clinic_that_stayed_and_guarantees_the_care_gap_clinic(plan, lambda_context):
    # GIVEN the plan, after Benchmark's finalization date, with no monthly run paid
    # WHEN the annual run executes
    with clock_override(shifted_clock(AFTER_FINALIZATION)):
        annual = run_request(lambda_context, ANNUAL)
    # THEN K3 is paid its Benchmark payout, K1 its prorated bonus and the make-whole of the rest, K2 nothing
    assert annual["closed"]["status"] == "CALCULATED"
    assert annual_entries(plan) == {
        ("K3", "MC"): 2000,
        ("K1", "prorated_benchmark"): 192,
        ("K1", "make_whole"): 4808,
    }
    # AND the statements explain each measure and each guarantee figure
    k3 = statement(plan, "K3")
    [measure] = [r for r in k3 if r["record_type"] == "MEASURE"]
    assert (measure["measure"], measure["numerator"], measure["denominator"], measure["rate"]) == (
        "BCS-E",
        "1",
        "1",
        "100.0000",
    )
    assert (measure["benchmark"], measure["counted"], measure["met_by"]) == ("57", "yes", "benchmark")
    [incentive] = [r for r in k3 if r["record_type"] == "INCENTIVE"]
    assert (incentive["assigned_members"], incentive["composite"], incentive["amount"]) == (
        "2",
        "1.000000",
        "20.00",
    )
    k1 = {r["component"]: r for r in statement(plan, "K1") if r["record_type"] == "GUARANTEE"}
    assert (
        k1["prorated_benchmark"]["days_before"] == "14"
        and k1["prorated_benchmark"]["days_on_care_gap"] == "351"
    )
    assert (k1["make_whole"]["benchmark_full_year"], k1["make_whole"]["equivalent_benchmark"]) == (
        "50.00",
        "48.08",
    )
    assert (k1["make_whole"]["care_gap_earnings"], k1["make_whole"]["make_whole"]) == ("0.00", "48.08")
    # AND the rates report has every clinic line's BCS-E counts
    body = plan.s3.get_object(Bucket=plan.names["REPORTS_BUCKET"], Key="runs/annual-2026-final/rates.csv")
    rates = {
        (r["clinic_id"], r["line_of_business"], r["measure"]): r
        for r in csv.DictReader(io.StringIO(body["Body"].read().decode()))
    }
    assert (
        rates[("K1", "MC", "BCS-E")]["denominator"] == "2"
        and rates[("K1", "CA", "BCS-E")]["rate"] == "100.0000"
    )


def test_care_gap_earnings_count_against_the_make_whole(plan, lambda_context):
    # GIVEN March paid K1 its BCS-E awards
    march = run_month(lambda_context, "2026-03")
    k1_march = next(int(i["amount_cents"]["N"]) for i in ledger(plan) if i["clinic_id"]["S"] == "K1")
    earned = sum(
        int(i["amount_cents"]["N"])
        for i in ledger(plan)
        if i["clinic_id"]["S"] == "K1" and i["run_id"]["S"] == "monthly-2026-03-final"
    )
    assert march["closed"]["status"] == "CALCULATED" and k1_march > 0 and earned > 0
    # WHEN the annual run executes
    with clock_override(shifted_clock(AFTER_FINALIZATION)):
        run_request(lambda_context, ANNUAL)
    # THEN the make-whole is the equivalent Benchmark less what Care Gap paid (never below zero)
    make_whole = annual_entries(plan).get(("K1", "make_whole"), 0)
    assert make_whole == max(0, 4808 - earned)
    k1 = {r["component"]: r for r in statement(plan, "K1") if r["record_type"] == "GUARANTEE"}
    assert k1["prorated_benchmark"]["care_gap_earnings"] == f"{earned / 100:.2f}"


def test_the_annual_run_pays_once_and_a_funding_pool_caps_what_benchmark_pays(plan, lambda_context):
    # GIVEN a funding pool of $15.00, below the $20.00 K3's payout would be
    plan.s3.put_object(
        Bucket=plan.names["CURATED_BUCKET"],
        Key="programs/benchmark/test.json",
        Body=benchmark_version(funding_pool="15.00"),
    )
    with clock_override(shifted_clock(AFTER_FINALIZATION)):
        # WHEN the annual run executes, then is started again
        run_request(lambda_context, ANNUAL)
        entries = ledger(plan)
        with pytest.raises(RunAlreadyClosedError):
            run_request(lambda_context, ANNUAL)
    # THEN K3, the only Benchmark clinic, gets the whole pool, and the second start wrote nothing
    assert annual_entries(plan)[("K3", "MC")] == 1500
    assert ledger(plan) == entries
