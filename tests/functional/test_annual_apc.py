"""APC Element 3 in the annual run on moto: an APC practice's rates from the measure engine, the data runout,
attribution by roster months, the baseline from last year's run, and the entry and statement that explain it.

K2 (adult, on the FFS+ track) gets four women born in 1960 for all of 2026 (W1-W4) and keeps M4 for January
and February (M4 then moves to K1, so her quality measures count at K1). Mammograms: W1's received in June,
W2's on the last day of the runout (31 March 2027), W3's the day after, W4's in December; W3's is not known in
time, so BCS-E at K2 is 3 of 4 = 75%: above table 4's improvement floor (70), below its threshold (76). The
test version lowers the validity minimums to 1 so a tiny practice has valid measures; every table figure is
the shipped one.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from shared.clock import clock_override, shifted_clock
from shared.programs.care_gap import DATA_DIR
from tests.functional.flow import land, run_request
from tests.functional.plan_data import CLAIMS_HEADER, ELIGIBILITY_HEADER, FILES
from tests.functional.test_annual_run import ANNUAL, benchmark_version

AFTER_FINALIZATION = datetime(2027, 7, 1, tzinfo=UTC)
RUN = "annual-2026-final"
ROSTER = ELIGIBILITY_HEADER + "".join(f"W{i},1960-05-0{i},F,MC,K2,2025-01-01,\n" for i in range(1, 5))
MAMMOGRAMS = (
    CLAIMS_HEADER
    + "CW1,1,1,W1,2026-06-01,2026-06-01,2026-06-10,77067,Z1231,1234567893\n"
    + "CW2,1,1,W2,2026-12-01,2026-12-01,2027-03-31,77067,Z1231,1234567893\n"
    + "CW3,1,1,W3,2026-12-01,2026-12-01,2027-04-01,77067,Z1231,1234567893\n"
    + "CW4,1,1,W4,2026-12-01,2026-12-01,2026-12-20,77067,Z1231,1234567893\n"
)


def apc_version() -> bytes:
    shipped = json.loads((DATA_DIR / "apc" / "apc_2026.json").read_text(encoding="utf-8"))
    incentive = shipped["incentive"] | {
        "validity": {
            "quality_minimum_denominator": {"adult": 1, "both": 1, "pediatric": 1},
            "utilization_and_cost_minimum_member_months": 1,
        }
    }
    return json.dumps(
        shipped | {"version": "apc-2026.test", "effective_from": "2026-01-02", "incentive": incentive}
    ).encode()


def _report(aws: Any, key: str) -> list[dict[str, str]]:
    body = aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def practice(aws, lambda_context):
    with clock_override(shifted_clock(AFTER_FINALIZATION)):
        files = FILES | {"landing/eligibility/k2.csv": ROSTER, "landing/medical_claims/k2.csv": MAMMOGRAMS}
        land(aws, lambda_context, files)
        for key, body in (
            ("programs/apc/test.json", apc_version()),
            ("programs/benchmark/test.json", benchmark_version()),
        ):
            aws.s3.put_object(Bucket=aws.names["CURATED_BUCKET"], Key=key, Body=body)
        yield aws


def _run(lambda_context) -> dict[str, Any]:
    with clock_override(shifted_clock(AFTER_FINALIZATION)):
        return run_request(lambda_context, ANNUAL)


def _statement(aws: Any, clinic: str) -> list[dict[str, str]]:
    return _report(aws, f"statements/{RUN}/{clinic}.csv")


def test_rates_count_the_runout_and_attributed_months(practice, lambda_context):
    # WHEN the annual run executes
    _run(lambda_context)
    # THEN BCS-E at K2 is 3 of 4 (W3's mammogram came after the runout; M4 counts at K1)
    rates = {
        (r["clinic_id"], r["measure"], r["part"]): r for r in _report(practice, f"runs/{RUN}/apc-rates.csv")
    }
    bcs = rates[("K2", "BCS-E", "")]
    assert (bcs["denominator"], bcs["numerator"], bcs["rate"], bcs["unit"]) == (
        "4",
        "3",
        "75.0000",
        "percent",
    )
    # AND utilization counts every attributed month: 4 women x 12 + M4's January and February at K2
    assert rates[("K2", "EDU", "")]["denominator"] == "50"
    # AND the tracking measures are reported, never paid
    assert rates[("K2", "WCV", "")]["kind"] == "tracking"


def test_without_a_baseline_a_rate_between_the_floor_and_the_threshold_earns_nothing(
    practice, lambda_context
):
    # WHEN the annual run executes with no prior year
    _run(lambda_context)
    # THEN BCS-E reaches the floor, so its category is improvement, but with no baseline its share is 0; the
    # maximum is $6.00 x 50 member months
    rows = _statement(practice, "K2")
    [head] = [r for r in rows if r["record_type"] == "PERFORMANCE"]
    assert (head["member_months"], head["maximum"], head["applicable_measures"]) == ("50", "300.00", "9")
    lines = {r["measure"] + r["component"]: r for r in rows if r["record_type"] == "APC_MEASURE"}
    assert (lines["BCS-E"]["category"], lines["BCS-E"]["amount"]) == ("improvement", "0.00")
    # AND the measures add up to the entry, which is at most the maximum
    total = sum(Decimal(r["amount"]) for r in lines.values())
    assert total == Decimal(head["amount"]) <= Decimal("300.00")


def test_improvement_on_last_years_rate_pays_the_improvement_share(practice, lambda_context):
    # GIVEN last year's final run rated K2's BCS-E at 70%: closing 10% of the gap to gold (80) is 1 point
    prior = {
        "K2": {
            "BCS-E": {"unit": "percent", "denominator": 10, "numerator": 7, "rate": "70.0000", "parts": {}}
        }
    }
    practice.s3.put_object(
        Bucket=practice.names["CURATED_BUCKET"],
        Key="runs/annual-2025-final/apc-rates.json",
        Body=json.dumps(prior).encode(),
    )
    # WHEN the annual run executes
    _run(lambda_context)
    # THEN BCS-E (75%, 5 points up) is `improvement` with the adult improvement share (4.0%) scaled
    rows = _statement(practice, "K2")
    [head] = [r for r in rows if r["record_type"] == "PERFORMANCE"]
    line = next(r for r in rows if r["record_type"] == "APC_MEASURE" and r["measure"] == "BCS-E")
    assert (line["category"], line["baseline"], line["rate"]) == ("improvement", "70.0000", "75.0000")
    share = Decimal("0.04") * Decimal(head["scale"])
    assert abs(Decimal(line["share"]) - share) < Decimal("0.000000001")
    exact = (share * Decimal("300.00")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert abs(Decimal(line["amount"]) - exact) <= Decimal("0.01")  # floor plus a remainder cent at most
    # AND the HTML statement shows the line with its levels
    page = practice.s3.get_object(Bucket=practice.names["REPORTS_BUCKET"], Key=f"statements/{RUN}/K2.html")
    html = page["Body"].read().decode()
    assert (
        "<td>BCS-E</td><td></td><td>percent</td><td>4</td><td>3</td><td>75.0000</td><td>70.0000</td><td>70</td><td>76</td><td>80</td>"
        in html
    )


def test_a_practice_not_on_an_apc_track_gets_no_element_3(practice, lambda_context):
    # WHEN the annual run executes
    _run(lambda_context)
    # THEN K1 and K3 (track "none") have no APC rates and no performance entry
    rates = _report(practice, f"runs/{RUN}/apc-rates.csv")
    assert {r["clinic_id"] for r in rates} == {"K2"}
    items = practice.dynamodb.scan(TableName=practice.names["LEDGER_TABLE"])["Items"]
    apc = [i for i in items if i["program"]["S"] == "apc"]
    assert {i["clinic_id"]["S"] for i in apc} <= {"K2"}
