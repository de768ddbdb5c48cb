"""The annual run's counting rules on moto: who counts (9 of 12 months, no HealthWorx), what is known (the
submission deadline), improvement on last year's rate, a preview, a recalculation that appends only the
difference, the guarantee report and the HTML statement.

The plan is the tiny plan plus women at K3 (Benchmark since 2025, MC), with the one-measure Benchmark
version of `test_annual_run.py` (BCS-E, $10 per MC member, $20 per CA member, minimums of 1), so every
figure is worked by hand in each test.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.clock import clock_override, shifted_clock
from tests.functional.flow import land, run_request
from tests.functional.plan_data import CLAIMS_HEADER, ELIGIBILITY_HEADER, FILES
from tests.functional.test_annual_run import ANNUAL, annual_entries, benchmark_version, ledger, statement

AFTER_FINALIZATION = datetime(2027, 7, 1, tzinfo=UTC)
RUN = "annual-2026-final"


def _claim(claim_id: str, member: str, received: str, served: str = "2026-12-01") -> str:
    return f"{claim_id},1,1,{member},{served},{served},{received},77067,Z1231,1234567893\n"


def _rates(aws: Any, key: str = f"runs/{RUN}/rates.csv") -> dict[tuple[str, str, str], dict[str, str]]:
    body = aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read().decode()
    return {
        (r["clinic_id"], r["line_of_business"], r["measure"]): r for r in csv.DictReader(io.StringIO(body))
    }


def _report(aws: Any, key: str) -> list[dict[str, str]]:
    body = aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def _program(aws: Any, **changes: Any) -> None:
    aws.s3.put_object(
        Bucket=aws.names["CURATED_BUCKET"],
        Key="programs/benchmark/test.json",
        Body=benchmark_version(**changes),
    )


def _prior_rates(aws: Any, rates: dict[str, Any]) -> None:
    aws.s3.put_object(
        Bucket=aws.names["CURATED_BUCKET"],
        Key="runs/annual-2025-final/rates.json",
        Body=json.dumps(rates).encode(),
    )


@pytest.fixture
def after_finalization():
    # Files are dropped and runs started after the year's finalization date (received dates of 2027 are
    # then in the past, as they would be).
    with clock_override(shifted_clock(AFTER_FINALIZATION)):
        yield


def test_claims_received_after_the_submission_deadline_do_not_count(aws, lambda_context, after_finalization):
    # GIVEN K3's women M6, M7, M8 screened in December; M7's claim received on the deadline (26 March
    # 2027), M8's the day after
    roster = ELIGIBILITY_HEADER + "".join(f"{m},1968-06-06,F,MC,K3,2025-01-01,\n" for m in ("M6", "M7", "M8"))
    claims = (
        CLAIMS_HEADER
        + _claim("CL600", "M6", "2026-12-10")
        + _claim("CL700", "M7", "2027-03-26")
        + _claim("CL800", "M8", "2027-03-27")
    )
    land(
        aws,
        lambda_context,
        FILES | {"landing/eligibility/k3.csv": roster, "landing/medical_claims/k3.csv": claims},
    )
    _program(aws)
    # WHEN the annual run executes
    run_request(lambda_context, ANNUAL)
    # THEN M8's screening is not known in time: BCS-E is 2 of 3 at K3
    rate = _rates(aws)[("K3", "MC", "BCS-E")]
    assert (rate["numerator"], rate["denominator"], rate["rate"]) == ("2", "3", "66.6667")


def test_only_members_assigned_nine_months_count_and_healthworx_never(
    aws, lambda_context, after_finalization
):
    # GIVEN M9 at K3 from May (8 months, screened), M10 at K3 from April (9 months, not screened), and M11 a
    # HealthWorx member of K1 all year (screened)
    roster = (
        ELIGIBILITY_HEADER
        + "M6,1968-06-06,F,MC,K3,2025-01-01,\n"
        + "M9,1969-01-01,F,MC,K3,2026-05-01,\n"
        + "M10,1969-01-01,F,MC,K3,2026-04-01,\n"
        + "M11,1966-01-01,F,HW,K1,2025-01-01,\n"
    )
    claims = (
        CLAIMS_HEADER
        + _claim("CL600", "M6", "2026-12-10")
        + _claim("CL900", "M9", "2026-12-10")
        + _claim("CL110", "M11", "2026-12-10")
    )
    land(
        aws,
        lambda_context,
        FILES | {"landing/eligibility/k3.csv": roster, "landing/medical_claims/k3.csv": claims},
    )
    _program(aws)
    # WHEN the annual run executes
    run_request(lambda_context, ANNUAL)
    # THEN K3's BCS-E counts M6 and M10 (1 of 2), K1's lines are as without M11, and no HW line is rated
    rates = _rates(aws)
    assert (rates[("K3", "MC", "BCS-E")]["numerator"], rates[("K3", "MC", "BCS-E")]["denominator"]) == (
        "1",
        "2",
    )
    assert rates[("K1", "MC", "BCS-E")]["denominator"] == "2"
    assert not any(lob == "HW" for _, lob, _ in rates)
    # AND K3 is not paid (50% < 57%, no prior rate), so it has no incentive entry
    assert ("K3", "MC") not in annual_entries(aws)


@pytest.mark.parametrize(
    ("prior", "paid_cents", "met_by"),
    [
        ("45.0000", 3000, "improvement"),  # 50 - 45 = 5 points: exactly the required improvement
        ("45.0001", 0, ""),  # just short of it
    ],
)
def test_a_measure_is_met_by_improving_on_last_years_rate(
    aws, lambda_context, after_finalization, prior, paid_cents, met_by
):
    # GIVEN K3's BCS-E at 1 of 2 (50%, below the 57% benchmark) and last year's rate `prior`
    roster = (
        ELIGIBILITY_HEADER + "M6,1968-06-06,F,MC,K3,2025-01-01,\n" + "M10,1969-01-01,F,MC,K3,2025-01-01,\n"
    )
    claims = CLAIMS_HEADER + _claim("CL600", "M6", "2026-12-10")
    land(
        aws,
        lambda_context,
        FILES | {"landing/eligibility/k3.csv": roster, "landing/medical_claims/k3.csv": claims},
    )
    _program(aws)
    _prior_rates(aws, {"K3": {"MC": {"BCS-E": prior}}})
    # WHEN the annual run executes
    run_request(lambda_context, ANNUAL)
    # THEN improvement by the required 5 points meets the measure: composite 1 x $10 x 3 members (M5, M6, M10)
    assert annual_entries(aws).get(("K3", "MC"), 0) == paid_cents
    if paid_cents:
        [measure] = [r for r in statement(aws, "K3") if r["record_type"] == "MEASURE"]
        assert (measure["rate"], measure["prior_rate"], measure["met_by"]) == ("50.0000", prior, met_by)
    # AND this year's final rates are kept for next year's improvement
    kept = aws.s3.get_object(Bucket=aws.names["CURATED_BUCKET"], Key=f"runs/{RUN}/rates.json")
    assert json.loads(kept["Body"].read())["K3"]["MC"]["BCS-E"] == "50.0000"


def test_a_preview_writes_no_entries_and_marks_every_output(aws, lambda_context, after_finalization):
    # GIVEN the plan with M6 screened at K3
    roster = ELIGIBILITY_HEADER + "M6,1968-06-06,F,MC,K3,2025-01-01,\n"
    land(
        aws,
        lambda_context,
        FILES
        | {
            "landing/eligibility/k3.csv": roster,
            "landing/medical_claims/k3.csv": CLAIMS_HEADER + _claim("CL600", "M6", "2026-12-10"),
        },
    )
    _program(aws)
    # WHEN the year is previewed
    preview = run_request(lambda_context, ANNUAL | {"mode": "preview"}, execution_name="look")
    # THEN nothing is recorded, and the statement, payment file and reports are under previews/, marked
    run_id = preview["run"]["run_id"]
    assert not [i for i in ledger(aws) if i["run_id"]["S"] == run_id]
    keys = {
        o["Key"]
        for o in aws.s3.list_objects_v2(Bucket=aws.names["REPORTS_BUCKET"], Prefix="")["Contents"]
        if run_id in o["Key"]
    }
    assert keys and all(k.startswith(f"previews/{run_id}/") for k in keys)
    page = aws.s3.get_object(
        Bucket=aws.names["REPORTS_BUCKET"], Key=f"previews/{run_id}/statements/PREVIEW-K3.csv"
    )
    assert page["Body"].read().decode().startswith("# PREVIEW")
    assert preview["totals"]["total_cents"] == 2000 + 192 + 4808  # K3's $20, K1's guarantee


def test_a_recalculation_appends_only_what_changed(aws, lambda_context, after_finalization):
    # GIVEN the annual run calculated with M6 at K3 not yet screened (K3: composite 0, unpaid)
    roster = ELIGIBILITY_HEADER + "M6,1968-06-06,F,MC,K3,2025-01-01,\n"
    land(aws, lambda_context, FILES | {"landing/eligibility/k3.csv": roster})
    _program(aws)
    first = run_request(lambda_context, ANNUAL)
    before = {(i["entry_id"]["S"]) for i in ledger(aws) if i["run_id"]["S"] == RUN}
    assert ("K3", "MC") not in annual_entries(aws) and first["closed"]["status"] == "CALCULATED"
    # WHEN M6's screening, received before the deadline, arrives, and a second operator recalculates
    late = CLAIMS_HEADER + _claim("CL600", "M6", "2027-03-01")
    land(aws, lambda_context, {"landing/medical_claims/late.csv": late})
    again = run_request(lambda_context, ANNUAL | {"recalculate": True, "requested_by": "local:second"})
    # THEN K3's $20 is the one new entry; K1's guarantee parts are untouched
    after = {i["entry_id"]["S"]: i for i in ledger(aws) if i["run_id"]["S"] == RUN}
    added = [after[i] for i in set(after) - before]
    assert [(i["clinic_id"]["S"], int(i["amount_cents"]["N"])) for i in added] == [("K3", 2000)]
    assert again["closed"]["status"] == "CALCULATED"
    assert again["totals"]["total_cents"] == first["totals"]["total_cents"] + 2000


def test_the_guarantee_report_shows_every_guaranteed_clinic_even_with_nothing_to_pay(
    aws, lambda_context, after_finalization
):
    # GIVEN the tiny plan: K1 (Care Gap from 15 January 2026) and K2 (from November 2025, no member counts)
    land(aws, lambda_context, FILES)
    _program(aws)
    # WHEN the annual run executes
    run_request(lambda_context, ANNUAL)
    # THEN the guarantee report has both: K1's figures and K2's zeros, which no statement would show
    rows = {r["clinic_id"]: r for r in _report(aws, f"runs/{RUN}/guarantee.csv")}
    assert set(rows) == {"K1", "K2"}
    k1, k2 = rows["K1"], rows["K2"]
    assert (k1["days_before"], k1["prorated_benchmark"], k1["make_whole"], k1["guarantee_total"]) == (
        "14",
        "1.92",
        "48.08",
        "50.00",
    )
    assert (k2["days_before"], k2["benchmark_full_year"], k2["guarantee_total"]) == ("0", "0.00", "0.00")


def test_the_html_statement_explains_each_measure_and_escapes_what_files_said(
    aws, lambda_context, after_finalization
):
    # GIVEN K3 named with markup in the clinics file, and M6 screened
    clinics = FILES["landing/clinics/clinics-2026-03.csv"].replace(
        "Hillside Pediatrics", "Hillside <b>Kids</b>"
    )
    roster = ELIGIBILITY_HEADER + "M6,1968-06-06,F,MC,K3,2025-01-01,\n"
    files = FILES | {
        "landing/clinics/clinics-2026-03.csv": clinics,
        "landing/eligibility/k3.csv": roster,
        "landing/medical_claims/k3.csv": CLAIMS_HEADER + _claim("CL600", "M6", "2026-12-10"),
    }
    land(aws, lambda_context, files)
    _program(aws)
    # WHEN the annual run executes
    run_request(lambda_context, ANNUAL)
    # THEN K3's page has the measure's counts, rate, benchmark and how it was met, and the name escaped
    key = f"statements/{RUN}/K3.html"
    page = aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read().decode()
    assert "<b>Kids</b>" not in page and "Hillside &lt;b&gt;Kids&lt;/b&gt;" in page
    row = "<tr><td>MC</td><td>BCS-E</td><td>1</td><td>1</td><td>1</td><td>100.0000</td><td>57</td>"
    assert row in page and "<td>benchmark</td>" in page


def test_the_annual_run_exports_each_clinics_measures_gaps_and_payments_as_fhir(
    aws, lambda_context, after_finalization
):
    from tests.unit.fhir_export.fhir import resources, validated

    # GIVEN M6 screened at K3 (Benchmark: BCS-E 1 of 1, $20) and the tiny plan's Care Gap clinic K1
    roster = ELIGIBILITY_HEADER + "M6,1968-06-06,F,MC,K3,2025-01-01,\n"
    claims = CLAIMS_HEADER + _claim("CL600", "M6", "2026-12-10")
    land(
        aws,
        lambda_context,
        FILES | {"landing/eligibility/k3.csv": roster, "landing/medical_claims/k3.csv": claims},
    )
    _program(aws)
    # WHEN the annual run executes
    run_request(lambda_context, ANNUAL)

    def export(clinic: str, name: str) -> dict[str, Any]:
        key = f"statements/{RUN}/fhir/{clinic}/{name}"
        return validated(
            json.loads(aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read())
        )

    # THEN K3's summary MeasureReport for BCS-E has its population counts, and its VBPR report the $20.00
    [report] = resources(export("K3", "measure-reports.json"), "MeasureReport")
    populations = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert populations["denominator"] == 1 and populations["numerator"] == 1
    [vbpr] = resources(export("K3", "vbpr.json"), "MeasureReport")
    amounts = [
        ext["valueMoney"]["value"]
        for group in vbpr["group"]
        for ext in group.get("measureScore", {}).get("extension", [])
        if "valueMoney" in ext
    ]
    assert amounts and max(amounts) == 20.0
    # AND K1, a Care Gap clinic, has its year-end registry as gaps-in-care documents, one per member
    care_gaps = export("K1", "care-gaps.json")
    members = {
        patient["identifier"][0]["value"]
        for parameter in care_gaps["parameter"]
        for patient in resources(parameter["resource"], "Patient")
    }
    assert members == {"M1", "M2", "M3", "M4"}


def test_an_attestation_in_the_attestation_window_meets_a_measure_that_takes_attestations(
    aws, lambda_context, after_finalization
):
    # GIVEN BCS-E taking attestations, and K3's women M6, M7, M8 without claims: K3 attests M6 on 15 April
    # 2027 (in the window), M7 on 1 May (after it); K1 attests M8 in April, but M8 is K3's
    bcs = next(m for m in json.loads(benchmark_version())["measures"] if m["code"] == "BCS-E")
    roster = ELIGIBILITY_HEADER + "".join(f"{m},1968-06-06,F,MC,K3,2025-01-01,\n" for m in ("M6", "M7", "M8"))
    attested = (
        "attestation_id,clinic_id,member_id,action_code,step,action_date,attested_by\n"
        "AW-1,K3,M6,BCS-E,perform,2027-04-15,user-3\n"
        "AW-2,K3,M7,BCS-E,perform,2027-05-01,user-3\n"
        "AW-3,K1,M8,BCS-E,perform,2027-04-15,user-7\n"
    )
    land(
        aws,
        lambda_context,
        FILES | {"landing/eligibility/k3.csv": roster, "landing/attestations/april.csv": attested},
    )
    _program(aws, measures=[bcs | {"attestation_allowed": True}])
    # WHEN the annual run executes
    run_request(lambda_context, ANNUAL)
    # THEN only M6's attestation counts: BCS-E is 1 of 3 at K3
    rate = _rates(aws)[("K3", "MC", "BCS-E")]
    assert (rate["numerator"], rate["denominator"]) == ("1", "3")
