"""BCS-E end to end on moto: files → ingest → gap state → monthly run → ledger → statements → payments."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from events import load_event
from functions.ingest import ingest_file
from functions.runs import fail_run, open_run, plan_shards
from shared.models.actions import Step, Track
from shared.programs.care_gap import load_program
from shared.services.runs import RunAlreadyClosedError
from tests.functional.flow import deliver, earn_all, land, open_payload, run_month
from tests.functional.plan_data import CLINICS_CSV, FILES

PROGRAM = load_program(date(2026, 3, 1))


def ledger_items(aws):
    return aws.dynamodb.scan(TableName=aws.names["LEDGER_TABLE"])["Items"]


def gap_state_items(aws, prefix):
    items = aws.dynamodb.scan(TableName=aws.names["GAPS_TABLE"])["Items"]
    return [i for i in items if i["sk"]["S"].startswith(prefix)]


def evidence_rows(aws):
    """Evidence items in the gap state: each packed item holds one line per item (shared/dal/gap_state.py)."""
    return sum(len(i["evidence"]["S"].split("\n")) for i in gap_state_items(aws, "EVID#"))


def read_csv(aws, key):
    body = aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read().decode()
    # A draft's or preview's first line says what the file is not; the CSV follows it.
    return list(csv.DictReader(line for line in io.StringIO(body) if not line.startswith("#")))


def cents(text):
    return int(Decimal(text) * 100)


def expected_cents(step, enrolled):
    """SVU x (1 + early-adoption bonus) x dollar rate; no multiplier is in force in February or March."""
    bonus = PROGRAM.bonus_rate(enrolled, date(2026, 3, 1))
    return int(PROGRAM.svu(Track.FAMILY_ADULT, "BCS-E", step) * (1 + bonus) * PROGRAM.svu_dollar_rate * 100)


def test_ingest_applies_each_file_once_and_acknowledges_test_events(aws, lambda_context):
    # GIVEN the plan's four files landed and ingested
    land(aws, lambda_context, FILES)
    evidence_before, packed_before = evidence_rows(aws), len(gap_state_items(aws, "EVID#"))
    # WHEN the clinics file comes again, the same bytes land under a new name, and S3 sends a test event
    aws.s3.put_object(
        Bucket=aws.names["LANDING_BUCKET"], Key="landing/clinics/copy.csv", Body=CLINICS_CSV.encode()
    )
    again = deliver(aws, lambda_context, "landing/clinics/clinics-2026-03.csv", "landing/clinics/copy.csv")
    test_event = ingest_file.handler(load_event("sqs_s3_test_event"), lambda_context)
    # THEN nothing fails, and the gap state holds one evidence item per mammogram line or attestation
    assert again["batchItemFailures"] == [] and test_event["batchItemFailures"] == []
    # two mammogram lines, five attestations, and the office visit that is AAP evidence
    assert evidence_before == evidence_rows(aws) == 2 + 5 + 1
    # packed one item per member and file: fewer items than evidence, and none written twice
    assert packed_before == len(gap_state_items(aws, "EVID#")) < evidence_before
    assert len(gap_state_items(aws, "PROFILE")) == 5 + 3
    registry = aws.dynamodb.scan(TableName=aws.names["REGISTRY_TABLE"])["Items"]
    contents = [i for i in registry if i["sk"]["S"] == "FILE"]
    assert sorted(i["status"]["S"] for i in contents) == ["ACCEPTED"] * 4
    curated = aws.s3.list_objects_v2(Bucket=aws.names["CURATED_BUCKET"], Prefix="curated/")["Contents"]
    assert any(o["Key"].startswith("curated/medical_claims/period=2026-03/") for o in curated)


def test_whole_file_problems_are_quarantined(aws, lambda_context):
    # GIVEN a file under a prefix that names no kind
    key = "landing/unknown/thing.csv"
    aws.s3.put_object(Bucket=aws.names["LANDING_BUCKET"], Key=key, Body=b"a,b\n1,2\n")
    # WHEN it is delivered
    result = deliver(aws, lambda_context, key)
    # THEN it is acknowledged, copied to quarantine and its reason recorded
    assert result["batchItemFailures"] == []
    moved = aws.s3.list_objects_v2(Bucket=aws.names["LANDING_BUCKET"], Prefix="quarantine/")["Contents"]
    assert len(moved) == 1 and moved[0]["Key"].endswith("/thing.csv")
    registry = aws.dynamodb.scan(TableName=aws.names["REGISTRY_TABLE"])["Items"]
    assert [i["status"]["S"] for i in registry if i["sk"]["S"] == "FILE"] == ["QUARANTINED"]


def test_monthly_runs_pay_each_step_once_to_the_assigned_clinic_and_reconcile(aws, lambda_context):
    # GIVEN the plan's files ingested and February already paid
    land(aws, lambda_context, FILES)
    february = run_month(lambda_context, "2026-02")
    # WHEN March is run
    march = run_month(lambda_context, "2026-03")
    # THEN February paid M1's schedule; March pays M1's perform, and all of M2 (K1) and M4 (K2, the clinic on
    # the service date) from claims received in March; M1's April claim, M3 and M5 earn nothing
    assert february["closed"]["status"] == march["closed"]["status"] == "CALCULATED"
    assert february["totals"]["entry_count"] == 1
    k1 = read_csv(aws, "statements/monthly-2026-03-final/K1.csv")
    k2 = read_csv(aws, "statements/monthly-2026-03-final/K2.csv")
    k1_lines = sorted((r["member_id"], r["step"]) for r in k1 if r["record_type"] == "LINE")
    assert k1_lines == [("M1", "perform"), ("M2", "claim"), ("M2", "perform"), ("M2", "schedule")]
    assert sorted(r["step"] for r in k2 if r["record_type"] == "LINE") == ["claim", "perform", "schedule"]
    assert {r["evidence"] for r in k2 if r["record_type"] == "LINE"} == {"claim:CL400#1"}
    k1_enrolled, k2_enrolled = date(2026, 1, 15), date(2025, 11, 1)
    three_steps = (Step.SCHEDULE, Step.PERFORM, Step.CLAIM)
    want_k1 = expected_cents(Step.PERFORM, k1_enrolled) + sum(
        expected_cents(s, k1_enrolled) for s in three_steps
    )
    want_k2 = sum(expected_cents(s, k2_enrolled) for s in three_steps)
    payments = {r["clinic_id"]: r for r in read_csv(aws, "runs/monthly-2026-03-final/payment-draft.csv")}
    assert {c: cents(r["amount"]) for c, r in payments.items()} == {"K1": want_k1, "K2": want_k2}
    assert payments["K2"]["tin"] == "222222222"
    assert march["statements"]["total_cents"] == march["totals"]["total_cents"] == want_k1 + want_k2
    ledger = ledger_items(aws)
    assert len(ledger) == 1 + 7
    gaps = {(i["pk"]["S"], i["status"]["S"]) for i in gap_state_items(aws, "GAP#BCS-E#2026")}
    assert {("MEMBER#M1", "open"), ("MEMBER#M2", "closed"), ("MEMBER#M3", "not_applicable")} <= gaps
    assert sum(
        int(i["amount_cents"]["N"]) for i in ledger if i["run_id"]["S"] == "monthly-2026-03-final"
    ) == (want_k1 + want_k2)


def test_a_closed_month_cannot_run_again(aws, lambda_context):
    # GIVEN March run and closed
    land(aws, lambda_context, FILES)
    run_month(lambda_context, "2026-03")
    entries = len(ledger_items(aws))
    # WHEN March is started again
    with pytest.raises(RunAlreadyClosedError):
        run_month(lambda_context, "2026-03")
    # THEN no entry is added and the run stays CALCULATED
    assert len(ledger_items(aws)) == entries
    run = aws.dynamodb.get_item(
        TableName=aws.names["REGISTRY_TABLE"],
        Key={"pk": {"S": "RUN#monthly-2026-03-final"}, "sk": {"S": "RUN"}},
    )["Item"]
    assert run["status"]["S"] == "CALCULATED"


def test_a_failed_month_resumes_without_new_entries(aws, lambda_context):
    # GIVEN March opened, earned and then failed before it closed
    land(aws, lambda_context, FILES)
    state = {"run": open_run.handler(open_payload(load_event("run_monthly_final")), lambda_context)}
    state["plan"] = plan_shards.handler({"run": state["run"]}, lambda_context)
    first = earn_all(state, lambda_context)
    failed = fail_run.handler({"run": state["run"], "error": {"Error": "States.Timeout"}}, lambda_context)
    entries = len(ledger_items(aws))
    # WHEN March is started again
    resumed = run_month(lambda_context, "2026-03")
    # THEN it resumes the same run, counts the entries it already wrote as its own, and adds none
    assert failed["status"] == "FAILED"
    assert resumed["run"]["resumed"] is True
    assert len(ledger_items(aws)) == entries
    assert sum(s["total_cents"] for s in resumed["shards"]) == sum(s["total_cents"] for s in first)
    assert resumed["closed"]["status"] == "CALCULATED"


def test_preview_writes_no_ledger_and_skips_what_is_paid(aws, lambda_context):
    # GIVEN March paid
    land(aws, lambda_context, FILES)
    march = run_month(lambda_context, "2026-03")
    paid = len(ledger_items(aws))
    # WHEN April is previewed
    preview = run_month(lambda_context, "2026-04", mode="preview", execution_name="exec-1")
    # THEN the preview shows only M1's claim received in April, and the ledger is untouched
    assert preview["run"]["run_id"] == "monthly-2026-04-preview-exec-1"
    lines = read_csv(aws, f"previews/{preview['run']['run_id']}/statements/PREVIEW-K1.csv")
    assert [(r["member_id"], r["step"]) for r in lines if r["record_type"] == "LINE"] == [("M1", "claim")]
    assert len(ledger_items(aws)) == paid == march["totals"]["entry_count"]
    assert preview["closed"]["status"] == "CALCULATED"
