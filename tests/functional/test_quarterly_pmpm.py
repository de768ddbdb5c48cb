"""The quarterly PMPM run (APC Element 2, and Element 1's capitation) on moto, through the real handlers:
member-months attributed by the common methodology paid PMPM x age/sex factor x (1 + HPI uplift), a month
that missed a technical-assistance requirement recorded at $0.00 naming it, the run's refusals, a
recalculation after late engagement, and a monthly run afterwards that leaves the PMPM entries alone.

K2 (adult, FFS+ track) is given HPI decile 3 (uplift 3%); its provider 1234567893 is a primary-care provider.
T1 (born 1 February 1961, Medi-Cal) is on K1's roster but selected K2's provider as PCP, so attribution gives
her months to K2 (`selected_pcp`): 64 on 1 January (band 60-65), 65 on 1 February (65+: the band holds its
lower bound, and the birthday is the month's first day). T2 (a man born 1990, commercial PPO) goes by claims:
two primary-care visits with K2's provider in 2025. M4 has no PCP and no primary-care visit: unattributed.
K2 completes the seven onboarding activities in December 2025; January has two coaching sessions and
work-plan progress; February only one coaching session; March two, work-plan progress and the quarter's
learning convening. So January and March are paid and February is not ("two coaching sessions").
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from events import load_event
from functions.runs import build_part, open_run, plan_shards
from shared.clock import clock_override, shifted_clock
from shared.dal.objects import S3ObjectStore
from shared.logic.member_buckets import MEMBER_BUCKETS, member_bucket
from shared.services.attribution import read_table
from shared.services.kinds.base import RunInputError
from shared.services.kinds.quarterly import NoTaEngagementError, QuarterNotEndedError
from tests.functional.flow import OPERATOR, land, open_payload, run_month, run_request
from tests.functional.plan_data import CLAIMS_HEADER, CLINICS_HEADER, ELIGIBILITY_HEADER, FILES

AFTER_QUARTER = datetime(2026, 4, 2, tzinfo=UTC)
RUN = "quarterly-2026-Q1-final"
QUARTER = {
    "run_kind": "quarterly",
    "program_year": 2026,
    "quarter": "2026-Q1",
    "mode": "final",
    "requested_by": OPERATOR,
}
HPI_CLINICS = (
    CLINICS_HEADER.rstrip("\n")
    + ",hpi_decile\n"
    + "K2,222222222,1234567893,Bayside Adult Medicine,MC,care_gap,2025-11-01,family_adult,adult,ffs_plus,3\n"
)
ROSTER = (
    ELIGIBILITY_HEADER.rstrip("\n")
    + ",product,pcp_npi\n"
    + "T1,1961-02-01,F,MC,K1,2025-01-01,,medi_cal,1234567893\n"
    + "T2,1990-06-15,M,MC,K2,2025-01-01,,commercial_ppo,\n"
)
PROVIDERS = (
    "npi,practice_id,taxonomy_code,specialty,primary_care,effective_date,termination_date\n"
    "1234567893,K2,207Q00000X,family medicine,true,2024-01-01,\n"
)
VISITS = (
    CLAIMS_HEADER.rstrip("\n")
    + ",place_of_service_code\n"
    + "CT21,1,1,T2,2025-06-10,2025-06-10,2025-06-20,99213,Z0000,1234567893,11\n"
    + "CT22,1,1,T2,2025-11-05,2025-11-05,2025-11-15,99213,Z0000,1234567893,11\n"
)
ONBOARDING = (
    "welcome_email",
    "onboarding_meetings",
    "learning_resources",
    "business_associate_agreement",
    "imat_baseline",
    "practice_improvement_plan",
    "coaching_sessions_scheduled",
)
TA_HEADER = "practice_id,activity,activity_date,status\n"
ENGAGEMENT = (
    TA_HEADER
    + "".join(f"K2,{a},2025-12-0{i + 1},completed\n" for i, a in enumerate(ONBOARDING))
    + "K2,coaching_session,2026-01-08,completed\nK2,coaching_session,2026-01-22,completed\n"
    + "K2,work_plan_progress,2026-01-30,completed\n"
    + "K2,coaching_session,2026-02-12,completed\nK2,coaching_session,2026-02-26,cancelled\n"
    + "K2,work_plan_progress,2026-02-27,completed\n"
    + "K2,coaching_session,2026-03-05,completed\nK2,coaching_session,2026-03-19,completed\n"
    + "K2,work_plan_progress,2026-03-27,completed\nK2,quarterly_convening,2026-03-25,completed\n"
)
LATE_SESSION = TA_HEADER + "K2,coaching_session,2026-02-27,completed\n"


def _cents(pmpm: str, factor: str, uplift: str) -> str:
    exact = Decimal(pmpm) * Decimal(factor) * (1 + Decimal(uplift))
    return str(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


UNDER_65 = _cents("4.00", "1.3670", "0.03")  # 60-65, female
OVER_65 = _cents("4.00", "1.6814", "0.03")  # 65+, female
MAN_35 = _cents("4.00", "0.8214", "0.03")  # 35-40, male


def _report(aws: Any, key: str) -> list[dict[str, str]]:
    body = aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def _lines(aws: Any, scheme: str = "apc_element2") -> dict[tuple[str, str], dict[str, str]]:
    rows = _report(aws, f"statements/{RUN}/K2.csv")
    return {
        (r["member_id"], r["month"]): r
        for r in rows
        if r["record_type"] == "MEMBER_MONTH" and r["scheme"] == scheme
    }


def _ledger_kinds(aws: Any, run_id: str) -> set[tuple[str, str]]:
    """(program, kind) of every ledger entry a run recorded."""
    pages = aws.dynamodb.get_paginator("scan").paginate(TableName=aws.names["LEDGER_TABLE"])
    items = [item for page in pages for item in page["Items"]]
    return {
        (item["program"]["S"], item["kind"]["S"])
        for item in items
        if item.get("run_id", {}).get("S") == run_id and "program" in item
    }


def _run(lambda_context: Any, request: dict[str, Any] = QUARTER) -> dict[str, Any]:
    with clock_override(shifted_clock(AFTER_QUARTER)):
        return run_request(lambda_context, request)


QUARTER_FILES = FILES | {
    "landing/clinics/clinics-2026-04.csv": HPI_CLINICS,
    "landing/providers/providers-2026.csv": PROVIDERS,
    "landing/eligibility/t1.csv": ROSTER,
    "landing/medical_claims/visits-2025.csv": VISITS,
    "landing/ta_engagement/ta-2026-q1.csv": ENGAGEMENT,
}
"""The plan's files with the quarter's: K2's HPI decile and provider, T1, T2 and T2's visits, K2's TA."""


@pytest.fixture
def quarter(aws, lambda_context):
    with clock_override(shifted_clock(AFTER_QUARTER)):
        land(aws, lambda_context, QUARTER_FILES)
        yield aws


def test_each_attributed_member_month_pays_pmpm_by_age_sex_and_uplift_when_the_practice_met_ta(
    quarter, lambda_context
):
    # GIVEN K2's quarter (module docstring)
    # WHEN its quarterly run runs final
    state = _run(lambda_context)
    # THEN each member-month at K2 is one line: its age on the month's first day, factor, uplift and amount
    assert state["closed"]["status"] == "CALCULATED"
    lines = _lines(quarter)
    assert {k: (v["age"], v["factor"], v["uplift"], v["amount"]) for k, v in lines.items()} == {
        ("T1", "2026-01"): ("64", "1.3670", "0.03", UNDER_65),
        ("T1", "2026-02"): ("65", "1.6814", "0.03", "0.00"),
        ("T1", "2026-03"): ("65", "1.6814", "0.03", OVER_65),
        ("T2", "2026-01"): ("35", "0.8214", "0.03", MAN_35),
        ("T2", "2026-02"): ("35", "0.8214", "0.03", "0.00"),
        ("T2", "2026-03"): ("35", "0.8214", "0.03", MAN_35),
    }
    # AND attribution, not the roster, placed them: T1 by her selected PCP, T2 by claims, M4 nowhere
    table = read_table(S3ObjectStore(quarter.s3), quarter.names["CURATED_BUCKET"], "2026-01")
    rules = dict(table.select("member_id", "rule").iter_rows())
    assert (rules["T1"], rules["T2"], rules["M4"]) == ("selected_pcp", "claims", "unattributed")
    # AND February says which requirement it missed; the other months met every one
    assert {k: (v["ta_status"], v["ta_missed"]) for k, v in lines.items() if k[0] == "T1"} == {
        ("T1", "2026-01"): ("met", ""),
        ("T1", "2026-02"): ("missed", "two coaching sessions"),
        ("T1", "2026-03"): ("met", ""),
    }
    # AND the statement's total is the sum of its lines, and K1 (no APC track) has no statement
    rows = _report(quarter, f"statements/{RUN}/K2.csv")
    total = next(r for r in rows if r["record_type"] == "CLINIC_TOTAL")
    assert Decimal(total["amount"]) == Decimal(UNDER_65) + Decimal(OVER_65) + 2 * Decimal(MAN_35)
    names = quarter.s3.list_objects_v2(Bucket=quarter.names["REPORTS_BUCKET"], Prefix=f"statements/{RUN}/")
    assert {o["Key"].rsplit("/", 1)[-1] for o in names.get("Contents", [])} >= {"K2.csv", "K2.html"}
    assert f"statements/{RUN}/K1.csv" not in {o["Key"] for o in names.get("Contents", [])}
    # AND it counts and writes no pages: the quarter's are the monthly run's of its last month
    for bucket, prefix in (("REPORTS_BUCKET", f"pages/{RUN}/"), ("CURATED_BUCKET", f"runs/{RUN}/pages")):
        listed = quarter.s3.list_objects_v2(Bucket=quarter.names[bucket], Prefix=prefix)
        assert listed.get("KeyCount", 0) == 0, prefix
    # AND the engagement report lists K2's months
    status = _report(quarter, f"runs/{RUN}/ta-status.csv")
    assert [(r["clinic_id"], r["month"], r["ta_status"]) for r in status] == [
        ("K2", "2026-01", "met"),
        ("K2", "2026-02", "missed"),
        ("K2", "2026-03", "met"),
    ]


def test_the_months_tables_are_built_in_member_bucket_parts_before_the_shards(quarter, lambda_context):
    # GIVEN K2's quarter opened and planned, as the state machine does before its maps
    curated = quarter.names["CURATED_BUCKET"]
    with clock_override(shifted_clock(AFTER_QUARTER)):
        run = open_run.handler(open_payload(QUARTER), lambda_context)
        plan = plan_shards.handler({"run": run}, lambda_context)
        listed = quarter.s3.list_objects_v2(Bucket=curated, Prefix="curated/attribution/")
        # WHEN each part of the plan is built
        manifest = quarter.s3.get_object(Bucket=curated, Key=plan["parts_key"])["Body"].read()
        parts = json.loads(manifest)
        built = [build_part.handler({"run": run, "part": part}, lambda_context) for part in parts]
        shards = json.loads(quarter.s3.get_object(Bucket=curated, Key=plan["manifest_key"])["Body"].read())
        members = [
            m
            for shard in shards
            for m in json.loads(
                quarter.s3.get_object(Bucket=curated, Key=shard["members_key"])["Body"].read()
            )["member_ids"]
        ]
    # THEN PlanShards built no table: it named the parts (ranges of member buckets, no member data), which
    # together cover every bucket once, and each BuildPart wrote its buckets of each month
    assert listed["KeyCount"] == 0
    assert plan["part_count"] == len(parts) >= 1
    covered = [b for p in parts for b in range(p["first_bucket"], p["last_bucket"] + 1)]
    assert covered == list(range(MEMBER_BUCKETS))
    assert all(set(p) == {"first_bucket", "last_bucket"} for p in parts)
    assert all(set(b) == {"first_bucket", "last_bucket", "members"} for b in built)
    store = S3ObjectStore(quarter.s3)
    for month in ("2026-01", "2026-02", "2026-03"):
        assert {"T1", "T2", "M4"} <= set(read_table(store, curated, month).get_column("member_id"))
    # AND its shards hold the members in bucket order (each EarnShard then reads its buckets' parts alone),
    # not clinic by clinic as the monthly runs do
    by_bucket = sorted(members, key=lambda m: (member_bucket(m, MEMBER_BUCKETS), m))
    assert len(members) >= 4 and members == by_bucket and members != sorted(members)


def test_a_run_that_builds_no_parts_refuses_a_part(aws, lambda_context):
    # GIVEN a preview of March's monthly run opened and planned
    with clock_override(shifted_clock(AFTER_QUARTER)):
        land(aws, lambda_context, FILES)
        request = load_event("run_monthly_final") | {"month": "2026-03", "mode": "preview"}
        run = open_run.handler(open_payload(request), lambda_context)
        plan = plan_shards.handler({"run": run}, lambda_context)
        # WHEN a part is asked of it anyway
        with pytest.raises(RunInputError, match="a monthly run builds no parts"):
            build_part.handler({"run": run, "part": {"first_bucket": 0, "last_bucket": 127}}, lambda_context)
    # THEN its plan named none, and the part was refused
    assert (plan["part_count"], plan["parts_key"]) == (0, None)


def test_a_late_coaching_session_is_paid_by_recalculation_and_a_monthly_run_leaves_pmpm_alone(
    quarter, lambda_context
):
    # GIVEN the quarter's run, calculated with February missed
    _run(lambda_context)
    # WHEN February's second session arrives and the run is recalculated by another operator
    with clock_override(shifted_clock(AFTER_QUARTER)):
        land(quarter, lambda_context, {"landing/ta_engagement/ta-2026-02-late.csv": LATE_SESSION})
    again = _run(lambda_context, QUARTER | {"recalculate": True, "requested_by": "local:second"})
    # THEN February's $0.00 lines are reversed and earned again at their amounts
    assert again["closed"]["status"] == "CALCULATED"
    rows = _report(quarter, f"statements/{RUN}/K2.csv")
    february = [(r["record_type"], r["member_id"], r["amount"]) for r in rows if r["month"] == "2026-02"]
    assert sorted(f for f in february if f[0] != "MONTH_TOTAL") == [
        ("MEMBER_MONTH", "T1", "0.00"),
        ("MEMBER_MONTH", "T1", OVER_65),
        ("MEMBER_MONTH", "T2", "0.00"),
        ("MEMBER_MONTH", "T2", MAN_35),
        ("REVERSAL", "T1", "0.00"),
        ("REVERSAL", "T2", "0.00"),
    ]
    # AND a monthly Care Gap run afterwards settles only Care Gap's awards: no PMPM entry is reversed
    with clock_override(shifted_clock(AFTER_QUARTER)):
        month = run_month(lambda_context, "2026-03")
    assert month["closed"]["status"] == "CALCULATED"
    assert _ledger_kinds(quarter, month["run"]["run_id"]) <= {("care_gap", "EARN"), ("care_gap", "CARRY_OUT")}


def test_a_final_quarter_waits_for_its_end_and_for_its_engagement(aws, lambda_context):
    # GIVEN the plan's files without any engagement file
    with clock_override(shifted_clock(AFTER_QUARTER)):
        land(aws, lambda_context, FILES | {"landing/eligibility/t1.csv": ROSTER})
    # WHEN the quarter is run final on its last day, then after it with no engagement
    last_day = clock_override(shifted_clock(datetime(2026, 3, 31, 12, tzinfo=UTC)))
    with last_day, pytest.raises(QuarterNotEndedError, match="ends on 2026-03-31"):
        run_request(lambda_context, QUARTER)
    # THEN both are refused, naming what is missing, and nothing is paid
    with pytest.raises(NoTaEngagementError, match="landing/ta_engagement/"):
        _run(lambda_context)
    assert aws.dynamodb.scan(TableName=aws.names["LEDGER_TABLE"])["Count"] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"month": "2026-03"}, "takes `quarter`"),
        ({"quarter": None}, "needs `quarter`"),
        ({"quarter": "2025-Q4"}, "outside program_year 2026"),
    ],
)
def test_a_quarterly_request_must_name_its_quarter_in_its_year(aws, lambda_context, change, message):
    # GIVEN a quarterly request with a wrong period
    request = {k: v for k, v in (QUARTER | change).items() if v is not None}
    # WHEN it is opened
    # THEN it is refused naming the field
    with pytest.raises(RunInputError, match=message):
        _run(lambda_context, request)


def test_a_practice_on_basic_capitation_is_also_paid_its_capitation_by_age_and_sex_whatever_its_engagement(
    quarter, lambda_context
):
    # GIVEN K2 moved to basic capitation (track B, $22.00 PMPM in the shipped version)
    capitated = HPI_CLINICS.replace(",ffs_plus,3", ",basic_capitation,3")
    with clock_override(shifted_clock(AFTER_QUARTER)):
        land(quarter, lambda_context, {"landing/clinics/clinics-2026-04b.csv": capitated})
    # WHEN the quarter runs
    _run(lambda_context)
    # THEN each member-month also has an Element 1 line: $22.00 x the age/sex factor, no uplift, February
    # paid although the practice missed a requirement for Element 2
    element1 = _lines(quarter, "apc_element1")
    assert {k: (v["factor"], v["uplift"], v["amount"]) for k, v in element1.items()} == {
        ("T1", "2026-01"): ("1.3670", "0", _cents("22.00", "1.3670", "0")),
        ("T1", "2026-02"): ("1.6814", "0", _cents("22.00", "1.6814", "0")),
        ("T1", "2026-03"): ("1.6814", "0", _cents("22.00", "1.6814", "0")),
        ("T2", "2026-01"): ("0.8214", "0", _cents("22.00", "0.8214", "0")),
        ("T2", "2026-02"): ("0.8214", "0", _cents("22.00", "0.8214", "0")),
        ("T2", "2026-03"): ("0.8214", "0", _cents("22.00", "0.8214", "0")),
    }
    assert _lines(quarter)[("T1", "2026-02")]["amount"] == "0.00"
    # AND the direct-services report classifies K2's quarter by its track: March's office visit (99213, by
    # K2's provider) is capitated E&M, the mammography lines fee-for-service
    report = _report(quarter, f"runs/{RUN}/direct-services.csv")
    k2 = {
        (r["month"], r["payment"], r["category"]): int(r["lines"]) for r in report if r["clinic_id"] == "K2"
    }
    assert k2[("2026-03", "capitated", "E&M")] == 1
    assert {payment for _, payment, _ in k2} == {"capitated", "fee_for_service"}
    assert {r["track"] for r in report} == {"basic_capitation"}


PAYER_CLINICS = (
    CLINICS_HEADER.rstrip("\n")
    + ",hpi_decile,payer_id\n"
    + "K2,222222222,1234567893,Bayside Adult Medicine,MC,care_gap,2025-11-01,family_adult,adult,"
    + "intermediate_capitation,3,\n"
    + "K2,222222222,1234567893,Bayside Adult Medicine,MC,care_gap,2025-11-01,family_adult,adult,"
    + "basic_capitation,3,PLAN2\n"
)
T2_WITH_PLAN2 = (
    ELIGIBILITY_HEADER.rstrip("\n")
    + ",product,pcp_npi,payer_id\n"
    + "T2,1990-06-15,M,MC,K2,2025-01-01,,commercial_ppo,,PLAN2\n"
)
WELL_VISITS = (
    CLAIMS_HEADER.rstrip("\n")
    + ",place_of_service_code,payer_id\n"
    + "CW1,1,1,T1,2026-02-11,2026-02-11,2026-02-20,99393,Z0000,1234567893,11,\n"
    + "CW2,1,1,T2,2026-02-10,2026-02-10,2026-02-20,99393,Z0000,1234567893,11,PLAN2\n"
)


def test_a_practice_on_c_with_the_plan_and_b_with_another_payer_is_paid_and_classified_per_payer(
    quarter, lambda_context
):
    # GIVEN K2 on intermediate capitation (C, $30.00) of its own and on basic capitation (B, $22.00) with
    # PLAN2; T2's roster span is with PLAN2, T1's with the deploying plan; in February each has a well visit
    # at K2, T2's claim paid by PLAN2
    with clock_override(shifted_clock(AFTER_QUARTER)):
        land(
            quarter,
            lambda_context,
            {
                "landing/clinics/clinics-2026-04-payers.csv": PAYER_CLINICS,
                "landing/eligibility/t2-plan2.csv": T2_WITH_PLAN2,
                "landing/medical_claims/well-2026-02.csv": WELL_VISITS,
            },
        )
    # WHEN the quarter runs
    _run(lambda_context)
    # THEN each member-month's capitation is its payer's track's PMPM x the age/sex factor, paid by that payer
    element1 = _lines(quarter, "apc_element1")
    assert {k: (v["pmpm"], v["amount"], v["payer_id"]) for k, v in element1.items() if k[1] == "2026-01"} == {
        ("T1", "2026-01"): ("30.00", _cents("30.00", "1.3670", "0"), "plan"),
        ("T2", "2026-01"): ("22.00", _cents("22.00", "0.8214", "0"), "PLAN2"),
    }
    # AND Element 2 is paid with each payer as before
    assert {k[0]: v["payer_id"] for k, v in _lines(quarter).items()} == {"T1": "plan", "T2": "PLAN2"}
    # AND the direct-services report has a row per payer: the plan's well visit capitated under C, PLAN2's
    # fee-for-service under B
    report = _report(quarter, f"runs/{RUN}/direct-services.csv")
    february = {
        (r["payer_id"], r["track"], r["payment"], r["category"]): int(r["lines"])
        for r in report
        if r["clinic_id"] == "K2" and r["month"] == "2026-02"
    }
    assert february[("PLAN2", "basic_capitation", "fee_for_service", "Annual well visits")] == 1
    assert february[("plan", "intermediate_capitation", "capitated", "Other E&M")] == 1
    assert {(r["payer_id"], r["track"]) for r in report} == {
        ("plan", "intermediate_capitation"),
        ("PLAN2", "basic_capitation"),
    }
