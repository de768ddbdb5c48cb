"""Approval and payment through the operator API: four eyes, order, a payment file written once.

The operator function is called with the request API Gateway sends (`cli.operator.api_event`), so the
identity is the request context's, as it is on AWS; the run's steps are driven as the state machine does.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any

import boto3
import pytest

from cli.operator import api_event
from functions.operator import operate_runs
from functions.runs import render_statements
from shared.programs.care_gap import DATA_DIR
from tests.functional.flow import OPERATOR, land, run_month
from tests.functional.plan_data import FILES

APPROVER = "local:approver"
CLERK = "local:finance"


def call(lambda_context: Any, method: str, path: str, identity: str, body: dict[str, Any] | None = None):
    response = operate_runs.handler(api_event(method, path, identity, body), lambda_context)
    return response["statusCode"], json.loads(response["body"])


def payment_file(aws: Any, run_id: str) -> bytes:
    return aws.s3.get_object(Bucket=aws.names["PAYMENTS_BUCKET"], Key=f"payments/{run_id}.csv")["Body"].read()


def payments_keys(aws: Any) -> list[str]:
    listed = aws.s3.list_objects_v2(Bucket=aws.names["PAYMENTS_BUCKET"])
    return sorted(o["Key"] for o in listed.get("Contents", []))


def report_keys(aws: Any, prefix: str) -> list[str]:
    listed = aws.s3.list_objects_v2(Bucket=aws.names["REPORTS_BUCKET"], Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_a_second_person_approves_the_payment_file_is_written_once_and_paid_with_a_reference(
    aws, lambda_context
):
    # GIVEN March calculated by the operator: statements and a draft for review, no payment file yet
    land(aws, lambda_context, FILES)
    run_id = run_month(lambda_context, "2026-03")["run"]["run_id"]
    assert payments_keys(aws) == [] and report_keys(aws, "payments/") == []
    assert report_keys(aws, f"runs/{run_id}/payment-draft.csv")
    # WHEN the approver approves it, then finance marks it paid with its reference
    approved_status, approved = call(lambda_context, "POST", f"/runs/{run_id}/approve", APPROVER)
    paid_status, paid = call(
        lambda_context, "POST", f"/runs/{run_id}/mark-paid", CLERK, {"payment_reference": "ACH-2026-04-15"}
    )
    # THEN the stack recorded who and when, the payment file exists once with the digest kept on the run,
    # and the paid run names its payer and reference
    body = payment_file(aws, run_id)
    assert approved_status == 200 and approved["effective_status"] == "APPROVED"
    assert approved["approval"]["approved_by"] == APPROVER
    assert approved["approval"]["payment_sha256"] == hashlib.sha256(body).hexdigest()
    assert not body.startswith(b"#") and b"K1,111111111," in body
    assert paid_status == 200 and paid["effective_status"] == "PAID"
    assert paid["approval"]["paid_by"] == CLERK and paid["approval"]["payment_reference"] == "ACH-2026-04-15"
    # and a second approval or payment is refused, with the reason
    again_status, again = call(lambda_context, "POST", f"/runs/{run_id}/approve", APPROVER)
    assert again_status == 409 and "PAID" in again["message"]


def test_the_identity_that_ran_a_run_cannot_approve_it_unless_the_program_allows_one_operator(
    aws, lambda_context
):
    # GIVEN March calculated by the operator
    land(aws, lambda_context, FILES)
    run_id = run_month(lambda_context, "2026-03")["run"]["run_id"]
    # WHEN the same operator approves it
    status, refused = call(lambda_context, "POST", f"/runs/{run_id}/approve", OPERATOR)
    # THEN it is refused naming the operator, and nothing is written
    assert status == 409 and refused["error"] == "ApprovalRefusedError" and OPERATOR in refused["message"]
    assert payments_keys(aws) == []
    # WHEN the plan drops a program version allowing a single operator
    shipped = json.loads((DATA_DIR / "care_gap" / "care_gap_2026.json").read_text())
    single = shipped | {
        "version": "care_gap-2026.9",
        "effective_from": "2026-01-02",
        "approval": {"single_operator": True},
    }
    aws.s3.put_object(
        Bucket=aws.names["CURATED_BUCKET"],
        Key="programs/care_gap-2026.9.json",
        Body=json.dumps(single).encode(),
    )
    operate_runs.lifecycle.cache_clear()
    status, approved = call(lambda_context, "POST", f"/runs/{run_id}/approve", OPERATOR)
    # THEN the same person may approve
    assert status == 200 and approved["approval"]["approved_by"] == OPERATOR


def test_a_month_is_approved_only_after_every_earlier_final_month(aws, lambda_context):
    # GIVEN February and March calculated
    land(aws, lambda_context, FILES)
    run_month(lambda_context, "2026-02")
    run_month(lambda_context, "2026-03")
    # WHEN March is approved before February
    status, refused = call(lambda_context, "POST", "/runs/monthly-2026-03-final/approve", APPROVER)
    # THEN it is refused naming February; once February is approved, March may be
    assert status == 409 and "monthly-2026-02-final" in refused["message"]
    assert call(lambda_context, "POST", "/runs/monthly-2026-02-final/approve", APPROVER)[0] == 200
    assert call(lambda_context, "POST", "/runs/monthly-2026-03-final/approve", APPROVER)[0] == 200


def test_paying_before_approval_a_preview_an_unknown_run_and_no_identity_are_refused(aws, lambda_context):
    # GIVEN a calculated final run and a preview
    land(aws, lambda_context, FILES)
    final_id = run_month(lambda_context, "2026-03")["run"]["run_id"]
    preview_id = run_month(lambda_context, "2026-04", mode="preview", execution_name="p1")["run"]["run_id"]
    reference = {"payment_reference": "ACH-1"}
    # WHEN an approver skips approval, approves the preview, names an unknown run, or calls with no identity
    unpaid = call(lambda_context, "POST", f"/runs/{final_id}/mark-paid", APPROVER, reference)
    preview = call(lambda_context, "POST", f"/runs/{preview_id}/approve", APPROVER)
    unknown = call(lambda_context, "POST", "/runs/monthly-2026-12-final/approve", APPROVER)
    anonymous = call(lambda_context, "POST", f"/runs/{final_id}/approve", "")
    # THEN each is refused with its reason, and the run is still CALCULATED with no payment file
    assert unpaid[0] == 409 and "must be APPROVED" in unpaid[1]["message"]
    assert preview[0] == 409 and "preview" in preview[1]["message"]
    assert unknown[0] == 404
    assert anonymous[0] == 409 and "identity" in anonymous[1]["message"]
    assert call(lambda_context, "GET", f"/runs/{final_id}", APPROVER)[1]["effective_status"] == "CALCULATED"
    assert payments_keys(aws) == []


def test_a_paid_file_never_changes_and_payee_details_freeze_at_approval(aws, lambda_context):
    # GIVEN March calculated; its draft names K1's TIN as it was then
    land(aws, lambda_context, FILES)
    run = run_month(lambda_context, "2026-03")
    run_id = run["run"]["run_id"]
    changed_tin = FILES["landing/clinics/clinics-2026-03.csv"].replace("K1,111111111,", "K1,999999999,")
    # WHEN a new clinics file changes K1's TIN before approval, the run is approved and paid, then the TIN
    # changes back and RenderStatements is invoked on the paid run
    land(aws, lambda_context, {"landing/clinics/clinics-2026-04.csv": changed_tin})
    call(lambda_context, "POST", f"/runs/{run_id}/approve", APPROVER)
    call(lambda_context, "POST", f"/runs/{run_id}/mark-paid", CLERK, {"payment_reference": "ACH-9"})
    frozen = payment_file(aws, run_id)
    land(
        aws,
        lambda_context,
        {"landing/clinics/clinics-2026-05.csv": FILES["landing/clinics/clinics-2026-03.csv"]},
    )
    with pytest.raises(Exception, match="PAID"):
        render_statements.handler({"run": run["run"], "totals": run["totals"]}, lambda_context)
    # THEN the payment file carries the TIN of approval time and is unchanged
    rows = {r["clinic_id"]: r for r in csv.DictReader(io.StringIO(frozen.decode()))}
    assert rows["K1"]["tin"] == "999999999"
    assert payment_file(aws, run_id) == frozen


def test_mark_paid_refuses_a_payment_file_whose_digest_changed(aws, lambda_context):
    # GIVEN March approved
    land(aws, lambda_context, FILES)
    run_id = run_month(lambda_context, "2026-03")["run"]["run_id"]
    call(lambda_context, "POST", f"/runs/{run_id}/approve", APPROVER)
    # WHEN someone rewrites the payment file (dev has no Object Lock) and finance marks the run paid
    edited = payment_file(aws, run_id).replace(b"K1,111111111,", b"K1,666666666,")
    aws.s3.put_object(Bucket=aws.names["PAYMENTS_BUCKET"], Key=f"payments/{run_id}.csv", Body=edited)
    status, refused = call(
        lambda_context, "POST", f"/runs/{run_id}/mark-paid", CLERK, {"payment_reference": "X1"}
    )
    # THEN it is refused: the file is not the one approved
    assert status == 409 and refused["error"] == "PaymentFileChangedError"
    assert call(lambda_context, "GET", f"/runs/{run_id}", CLERK)[1]["effective_status"] == "APPROVED"


def test_starting_a_run_records_the_caller_and_refuses_unknown_keys(aws, lambda_context):
    # GIVEN the operator API
    body = {"run_kind": "monthly", "program_year": 2026, "month": "2026-03", "mode": "final"}
    # WHEN an operator starts March, and then sends a key the API does not know
    status, started = call(lambda_context, "POST", "/runs", OPERATOR, body)
    bad_status, refused = call(lambda_context, "POST", "/runs", OPERATOR, body | {"dry_run": True})
    # THEN the execution's input carries the caller as the API saw it; the unknown key is named, not run
    assert status == 200 and started["run_id"] == "monthly-2026-03-final"
    described = boto3.client("stepfunctions").describe_execution(executionArn=started["execution_arn"])
    assert json.loads(described["input"]) == body | {"requested_by": OPERATOR, "recalculate": False}
    assert bad_status == 409 and "`dry_run`" in refused["message"]
