"""Patient data stays in the data stores.

Recognisable fake identifiers are seeded into every input kind (valid rows and rejected values, a
quarantined file, a file that ends in the DLQ), the real stack runs them on the local runtime (ingest;
through the operator API a final month, its recalculation, approval and payment, a preview, a run that
fails on an exception quoting a member, the annual run), and everything the run emits is scanned: logs
at DEBUG, metrics, reject reports, manifests, registry and approval records, DLQ bodies, state-machine
inputs, outputs and histories, run reports, drafts, preview files, payment files, the operator API's
answers and every S3 key. The data stores (curated Parquet, gap state, ledger, statements) are where the
identifiers belong, and the test checks that they did reach them. The clinic pages may name a member by id
(as a registry does) and nothing else of theirs; the plan pages no member at all.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest

from cli.local.executions import wait_for_execution
from cli.local.runtime import LocalRuntime
from cli.operator import runtime_operator
from shared.clock import shifted_clock
from shared.intake import SCHEMAS
from shared.models.files import FileKind
from shared.models.tables import FAN_OUT_STATE_MACHINE_ENV
from shared.observability import logger
from shared.services.runs import RunService
from tests.functional.test_ingest_fanout import generated_file

pytestmark = [pytest.mark.xdist_group("local-app"), pytest.mark.slow]

MEMBER = "CNRYMEMBER01"
CANARY = re.compile(r"cnry|1961-07-19", re.IGNORECASE)
CLINIC = "K9"
FAN_OUT_LIMIT = 30_000
"""The ingest function's limit here (INGEST_MAX_FILE_BYTES): one claims file is past it and fans out."""
PAGE_ALLOWED = (MEMBER, "Cnry Family Clinic")
"""All a page may show of the canaries: a clinic page names its members by id, and its own name."""
EVIDENCE_REFERENCE = re.compile(r"\b(?:claim|fill):[\w.-]+#\d+|\battestation:[\w.-]+")
"""What an explanation page (`pages/<run>/explain/<clinic>.html`) also shows: evidence by its reference, as
the clinic's statement does (`docs/pages.md`)."""
LABS_HEADER = b"member_id,loinc_code,result_value,result_date"


def _csv(kind: FileKind, rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SCHEMAS[kind].names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode()


def _immunization(resource_id: str, cvx: str, day: str) -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "Immunization",
            "id": resource_id,
            "status": "completed",
            "patient": {"reference": "Patient/CNRYFHIRPATIENT"},
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": cvx}]},
            "occurrenceDateTime": day,
        }
    }


def _landing_files() -> dict[str, bytes]:
    member = {"member_id": MEMBER}
    clinic = {
        "clinic_id": CLINIC,
        "tin": "999999999",
        "npi": "1234567893",
        "clinic_name": "Cnry Family Clinic",
        "lines_of_business": "MC|CA",
        "program": "care_gap",
        "program_enrollment_date": "2026-01-02",
        "track": "family_adult",
        "practice_type": "adult",
        "apc_payment_track": "none",
        "address_line": "1 Cnry Street",
        "city": "Cnryville",
        "state": "CA",
        "zip_code": "94401",
    }
    eligibility = member | {
        "birth_date": "1961-07-19",
        "gender": "F",
        "line_of_business": "MC",
        "assigned_clinic_id": CLINIC,
        "pcp_npi": "1234567893",
        "enrollment_start_date": "2025-01-01",
        "product": "medi_cal",
    }
    claim = member | {
        "claim_id": "CNRYCLAIM01",
        "claim_line_number": "1",
        "claim_frequency_code": "1",
        "claim_start_date": "2026-03-03",
        "claim_end_date": "2026-03-03",
        "received_date": "2026-03-20",
        "hcpcs_code": "77067",
        "diagnosis_code_1": "Z1231",
        "rendering_npi": "1234567893",
        "billing_clinic_id": CLINIC,
        "paid_amount": "101.11",
        "claim_type": "professional",
    }
    # An inpatient stay's room line: facility details, and no HCPCS code (its revenue code says what it is).
    stay = member | {
        "claim_id": "CNRYSTAY01",
        "claim_line_number": "1",
        "claim_frequency_code": "1",
        "claim_start_date": "2026-02-10",
        "claim_end_date": "2026-02-13",
        "received_date": "2026-03-02",
        "diagnosis_code_1": "J189",
        "claim_type": "institutional",
        "bill_type_code": "111",
        "revenue_center_code": "0120",
        "admission_date": "2026-02-10",
        "discharge_date": "2026-02-13",
        "discharge_disposition_code": "01",
        "ms_drg_code": "194",
        "allowed_amount": "7200.00",
        "payer_id": "health_net",
    }
    attestation = member | {
        "attestation_id": "CNRYATTEST01",
        "clinic_id": CLINIC,
        "action_code": "BCS-E",
        "step": "schedule",
        "action_date": "2026-02-10",
        "attested_by": "cnry-user",
    }
    pharmacy = member | {
        "claim_id": "CNRYRX01",
        "fill_number": "0",
        "claim_status": "paid",
        "dispensing_date": "2026-02-05",
        "ndc_code": "00093505698",
        "days_supply": "30",
        "quantity": "30",
        "prescriber_npi": "1234567893",
    }
    immunization = member | {"cvx_code": "141", "immunization_date": "2026-01-15", "source": "registry"}
    lab = member | {
        "loinc_code": "4548-4",
        "result_value": "7.2",
        "result_unit": "%",
        "result_date": "2026-02-01",
    }
    engagement = {
        "practice_id": CLINIC,
        "activity": "coaching_session",
        "activity_date": "2026-02-12",
        "status": "completed",
    }
    provider = {
        "npi": "1234567893",
        "practice_id": CLINIC,
        "taxonomy_code": "207Q00000X",
        "specialty": "Cnry Family Medicine",
        "primary_care": "true",
        "effective_date": "2025-01-01",
    }
    fhir = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "CNRYFHIRPATIENT",
                    "name": [{"family": "Cnryfamily"}],
                    "birthDate": "1961-07-19",
                }
            },
            _immunization("CNRYIMM01", "141", "2026-01-15"),
            _immunization("CNRYIMM02", "CNRYBADCVX", "2026-01-16"),
        ],
    }
    # Rejected rows carry canaries in the very fields that fail, so a report quoting a value would leak it.
    return {
        "landing/clinics/c.csv": _csv(
            FileKind.CLINICS, [clinic, clinic | {"clinic_id": "K8", "tin": "CNRYBADTIN"}]
        ),
        "landing/eligibility/e.csv": _csv(
            FileKind.ELIGIBILITY,
            [
                eligibility,
                eligibility | {"member_id": "CNRYMEMBER02", "birth_date": "CNRYBAD-DOB"},
                eligibility
                | {"member_id": "CNRYMEMBER03", "product": "CNRYPRODUCT", "payer_id": "CNRY/PAYER"},
            ],
        ),
        "landing/medical_claims/m.csv": _csv(
            FileKind.MEDICAL_CLAIMS,
            [
                claim,
                claim | {"claim_id": "CNRYCLAIM02", "diagnosis_code_1": "CNRY.BAD", "paid_amount": "CNRY"},
                stay,
                stay
                | {
                    "claim_id": "CNRYSTAY02",
                    "claim_type": "CNRYTYPE",
                    "bill_type_code": "CNRY",
                    "revenue_center_code": "CNRYREV",
                    "admission_date": "CNRY-ADMIT",
                    "discharge_disposition_code": "CNRYDISP",
                    "ms_drg_code": "CNRYDRG",
                },
            ],
        ),
        "landing/attestations/a.csv": _csv(
            FileKind.ATTESTATIONS,
            [attestation, attestation | {"attestation_id": "CNRYATTEST02", "step": "CNRYSTEP"}],
        ),
        "landing/pharmacy_claims/p.csv": _csv(
            FileKind.PHARMACY_CLAIMS, [pharmacy, pharmacy | {"claim_id": "CNRYRX02", "ndc_code": "CNRYNDC"}]
        ),
        "landing/immunizations/i.csv": _csv(
            FileKind.IMMUNIZATIONS,
            [immunization, immunization | {"cvx_code": "CNRYCVX", "member_id": "CNRYM3"}],
        ),
        "landing/labs/l.csv": _csv(
            FileKind.LABS, [lab, lab | {"result_value": "CNRYVALUE", "member_id": "CNRYM4"}]
        ),
        "landing/ta_engagement/t.csv": _csv(
            FileKind.TA_ENGAGEMENT,
            [engagement, engagement | {"status": "CNRYSTATUS"}, engagement | {"activity": "CNRYACTIVITY"}],
        ),
        "landing/providers/r.csv": _csv(
            FileKind.PROVIDERS,
            [
                provider,
                provider | {"npi": "CNRYNPI001", "practice_id": "CNRYPRACTICE"},
                provider | {"practice_id": "K7", "taxonomy_code": "CNRYTAXONX", "primary_care": "CNRY"},
            ],
        ),
        "landing/fhir/bundle.json": json.dumps(fhir).encode(),
        # Whole-file problems: an unknown kind and a missing required column, both full of canaries.
        "landing/not_a_kind/x.csv": b"member_id,birth_date\nCNRYMEMBER01,1961-07-19\n",
        "landing/eligibility/missing-column.csv": b"member_id,gender\nCNRYMEMBER05,F\n",
        # A header that repeats an unknown column named like a value, a row that never closes its quote,
        # and a ragged row: their reasons name columns by position and rows by number, never a value.
        "landing/labs/duplicate-column.csv": LABS_HEADER + b",CNRYCOLUMN,cnrycolumn\n"
        b"CNRYMEMBER06,4548-4,7,2026-01-01,x,y\n",
        "landing/labs/open-quote.csv": LABS_HEADER + b'\n"CNRYMEMBER07,4548-4\n',
        "landing/labs/ragged.csv": LABS_HEADER + b"\nCNRYMEMBER08,4548-4,7,2026-01-01,CNRYEXTRA\n"
        b"M9,4548-4,7,2026-01-01\n",
    }


def _scan(label: str, text: str, leaks: list[str]) -> None:
    for match in CANARY.finditer(text):
        start = max(match.start() - 60, 0)
        leaks.append(f"{label}: ...{text[start : match.end() + 20]}...")


def _all_keys(s3: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _is_statement(key: str) -> bool:
    """A final run's or a preview's clinic statement (not its summary, draft or preview payment file)."""
    return key.startswith("statements/") or (key.startswith("previews/") and "/statements/" in key)


def _is_page(key: str) -> bool:
    """A run's clinic or plan page (`pages/<run>/…`, or a preview's under `previews/<run>/pages/`)."""
    return key.startswith("pages/") or (key.startswith("previews/") and "/pages/" in key)


def _page_text(key: str, body: bytes) -> str:
    """A page without what it may show: the clinic's own name, and its member by id (never a birth date,
    a rejected value or any other canary); an explanation page, also the evidence references."""
    text = body.decode("utf-8", "replace")
    if "/explain/" in key:
        text = EVIDENCE_REFERENCE.sub("", text)
    for allowed in PAGE_ALLOWED:
        text = text.replace(allowed, "")
    return text


def _quotes_a_member(service: RunService, item: Any) -> Any:
    # A foreign exception whose message names a member: it must travel by its type only.
    raise KeyError(MEMBER)


def sfn_executions(local: LocalRuntime, machine_arn: str) -> list[str]:
    listed = local.client("stepfunctions").list_executions(stateMachineArn=machine_arn)
    return [e["executionArn"] for e in listed["executions"]]


def _emitted(local: LocalRuntime, leaks: list[str]) -> dict[str, int]:
    """Scan every channel a run emits through; returns how much of each was scanned."""
    s3, sfn, sqs, dynamodb = (local.client(name) for name in ("s3", "stepfunctions", "sqs", "dynamodb"))
    outputs = local.outputs
    scanned = {
        "keys": 0,
        "reports": 0,
        "registry": 0,
        "approvals": 0,
        "payments": 0,
        "dlq": 0,
        "executions": 0,
        "pages": 0,
    }
    buckets = ("LandingBucketName", "CuratedBucketName", "ReportsBucketName", "PaymentsBucketName")
    for bucket in (outputs[b] for b in buckets):
        for key in _all_keys(s3, bucket):
            scanned["keys"] += 1
            _scan(f"s3 key {key}", key, leaks)
    for key in _all_keys(s3, outputs["ReportsBucketName"]):
        if _is_statement(key):
            continue  # a clinic's statement names its members: it is a data store, not an emission
        body = s3.get_object(Bucket=outputs["ReportsBucketName"], Key=key)["Body"].read()
        if _is_page(key):
            scanned["pages"] += 1
            _scan(f"page {key}", _page_text(key, body), leaks)
            continue
        scanned["reports"] += 1
        _scan(f"report {key}", body.decode("utf-8", "replace"), leaks)
    for key in _all_keys(s3, outputs["PaymentsBucketName"]):
        scanned["payments"] += 1
        body = s3.get_object(Bucket=outputs["PaymentsBucketName"], Key=key)["Body"].read()
        _scan(f"payment file {key}", body.decode("utf-8", "replace"), leaks)
    for item in dynamodb.scan(TableName=outputs["RegistryTableName"])["Items"]:
        scanned["registry"] += 1
        _scan("registry item", json.dumps(item), leaks)
    for item in dynamodb.scan(TableName=outputs["ApprovalsTableName"])["Items"]:
        scanned["approvals"] += 1
        _scan("approval item", json.dumps(item), leaks)
    dlq = sqs.receive_message(QueueUrl=outputs["IngestDlqUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
    for message in dlq.get("Messages", []):
        scanned["dlq"] += 1
        _scan("dlq body", message["Body"], leaks)
    machines = [outputs["MonthlyStateMachineArn"], outputs["AnnualStateMachineArn"]]
    for machine in [*machines, os.environ[FAN_OUT_STATE_MACHINE_ENV]]:
        for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
            scanned["executions"] += 1
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            _scan("execution", json.dumps(described, default=str), leaks)
            history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)
            _scan("execution history", json.dumps(history["events"], default=str), leaks)
    return scanned


def test_no_patient_identifier_leaves_the_data_stores(
    app_template: dict[str, Any], capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN canaries in every input kind, a quarantined file, and a file that vanishes before it is read
    files = _landing_files()
    leaks: list[str] = []
    # What a Lambda runtime emits from other libraries: the root handler at WARNING. Ours logs at DEBUG.
    caplog.set_level(logging.WARNING)
    logger.setLevel("DEBUG")
    # The handlers' logger writes to the stream it was built with; point it at a buffer we can read.
    log_stream = io.StringIO()
    original_stream = logger.registered_handler.setStream(log_stream)
    try:
        # After the year's finalization date, so the annual run is final too.
        with (
            LocalRuntime(app_template, clock=shifted_clock(datetime(2027, 7, 1, tzinfo=UTC))) as local,
            mock.patch.dict(os.environ, {"INGEST_MAX_FILE_BYTES": str(FAN_OUT_LIMIT)}),
        ):
            s3 = local.client("s3")
            landing = local.outputs["LandingBucketName"]
            for key, body in files.items():
                s3.put_object(Bucket=landing, Key=key, Body=body)
                local.pump_ingest_queue()
            s3.put_object(
                Bucket=landing, Key="landing/eligibility/gone.csv", Body=files["landing/eligibility/e.csv"]
            )
            s3.delete_object(Bucket=landing, Key="landing/eligibility/gone.csv")
            pumped = local.pump_ingest_queue(max_rounds=20)
            # A claims file past the ingest function's limit, canaries and all, through the fan-out.
            large = files["landing/medical_claims/m.csv"] + generated_file(600).split(b"\n", 1)[1]
            assert len(large) > FAN_OUT_LIMIT
            s3.put_object(Bucket=landing, Key="landing/medical_claims/large.csv", Body=large)
            local.pump_ingest_queue()
            (fanned,) = sfn_executions(local, os.environ[FAN_OUT_STATE_MACHINE_ENV])
            fanned_out = wait_for_execution(local.client("stepfunctions"), fanned, limit_s=300)

            # WHEN the month is run, recalculated, approved and paid through the operator API, previewed,
            # a run fails on an exception that quotes a member, and the year's annual run is computed
            operator, approver = runtime_operator(local, "operator"), runtime_operator(local, "approver")
            sfn = local.client("stepfunctions")

            def run(started: dict[str, Any]) -> Any:
                answers.append(json.dumps(started))
                return wait_for_execution(sfn, started["execution_arn"], limit_s=300)

            answers: list[str] = []
            march = {"run_kind": "monthly", "program_year": 2026, "month": "2026-03", "mode": "final"}
            final = run(operator.start(march))
            recalculated = run(operator.recalculate("monthly-2026-03-final"))
            answers.append(json.dumps(approver.approve("monthly-2026-03-final")))
            answers.append(json.dumps(approver.mark_paid("monthly-2026-03-final", "ACH-1")))
            preview = run(operator.start(march | {"month": "2026-04", "mode": "preview"}))
            with mock.patch.object(RunService, "earn", _quotes_a_member):
                broken = run(operator.start(march | {"month": "2026-05", "mode": "preview"}))
            yearly = run(operator.start({"run_kind": "annual", "program_year": 2026, "mode": "final"}))
            answers.append(json.dumps(operator.runs()))
            _scan("operator API answers", "\n".join(answers), leaks)
            scanned = _emitted(local, leaks)
            statement = (
                s3.get_object(
                    Bucket=local.outputs["ReportsBucketName"],
                    Key=f"statements/monthly-2026-03-final/{CLINIC}.csv",
                )["Body"]
                .read()
                .decode()
            )
            page = (
                s3.get_object(
                    Bucket=local.outputs["ReportsBucketName"],
                    Key=f"pages/monthly-2026-03-final/clinic/{CLINIC}.html",
                )["Body"]
                .read()
                .decode()
            )
    finally:
        logger.setLevel("INFO")
        logger.registered_handler.setStream(original_stream)
    _scan("handler logs", log_stream.getvalue(), leaks)
    captured = capfd.readouterr()
    _scan("stdout", captured.out, leaks)
    _scan("stderr", captured.err, leaks)
    records = (f"{r.getMessage()} {json.dumps(r.__dict__, default=str)}" for r in caplog.records)
    _scan("log records", "\n".join(records), leaks)

    # THEN the runs and the fan-out (its execution, history and logs scanned too) worked, the canary member
    # was paid (the data did flow) ...
    assert (final.status, recalculated.status, preview.status, yearly.status) == ("SUCCEEDED",) * 4, (
        final.cause,
        preview.cause,
    )
    assert broken.status == "FAILED"  # its error and cause are scanned with the executions
    assert fanned_out.status == "SUCCEEDED", fanned_out.failure_line()
    assert MEMBER in statement
    assert MEMBER in page, "the clinic page names its member by id (and the scan checks it names no more)"
    # powertools fails a batch whose every record failed, so the vanished file is retried, then dead-lettered
    assert pumped.retried >= 4 and scanned["dlq"] == 1, "the vanished file should have reached the DLQ"
    assert scanned["reports"] > 10 and scanned["executions"] == 6 and scanned["registry"] > 10
    assert scanned["approvals"] == 1 and scanned["payments"] == 1
    # March (its recalculation rewrote the same keys), April's preview and the year: K9's page, its registry's
    # explanations and the plan's.
    assert scanned["pages"] == 3 * 3, (
        "every run that rendered wrote a clinic page, its explanations and a plan page"
    )
    assert "RowsRejected" in captured.out, "metrics are emitted (and scanned)"
    assert '"message":"file accepted"' in log_stream.getvalue(), "handler logs are captured (and scanned)"
    # ... and no identifier, birth date or rejected value appears in anything the run emitted
    assert leaks == [], "\n".join(leaks[:20])
