"""Every AWS call a handler makes is one its function's own IAM policy allows.

moto enforces no IAM, so a handler that reads a prefix its least-privilege policy does not grant passes
every local test and fails on AWS with AccessDenied. Here the real stack runs a small but complete plan
on the local runtime (every file kind, a quarantined, a redelivered and a vanished file, a phased program
version dropped under `programs/` (its January paid and recalculated), a final month through the state
machine, a failed and resumed month, a preview, the annual run, a quarterly run and a refused start),
each AWS call a handler makes is recorded against the function that made it, and every call is evaluated
against that function's policies in the synthesized template (`tests/local/iam_policy.py`).

Attribution: an invoke routed by the runtime (state machine task or SQS event source mapping) marks the
function in a context variable, which pool threads inherit; the event source mapping's own queue calls
count for the function too, since Lambda polls with the function's role. Every invoke is a cold start
(the process caches are reset), because on AWS each function builds its own services and program catalog:
a shared warm cache would credit one function's reads to another.
"""

from __future__ import annotations

import contextvars
import copy
import hashlib
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from cli.local.executions import wait_for_execution
from cli.local.lambdas import RUNNING_AS, LambdaRouter, reset_process_caches
from cli.local.runtime import ExecutionResult, LocalRuntime
from cli.operator import runtime_operator
from shared.clock import shifted_clock
from shared.models.files import FileKind
from shared.models.tables import FAN_OUT_STATE_MACHINE_ENV
from shared.programs.care_gap import DATA_DIR
from shared.services.runs import RunService
from tests.functional.plan_data import FILES
from tests.functional.test_ingest_fanout import generated_file
from tests.local.fixture_snapshot import settle_threads
from tests.local.iam_policy import (
    ApiCall,
    Encryption,
    FunctionPolicies,
    Permission,
    Scope,
    Statement,
    function_policies,
    permissions_for,
    unused_grants,
    violations,
)
from tests.unit.intake.factories import VALID_ROWS, csv_bytes

pytestmark = [pytest.mark.xdist_group("local-app"), pytest.mark.slow]

_CLOSE_RUN_HANDLER = "functions.runs.close_run.handler"


# --- the plan -------------------------------------------------------------------------------------------


ONBOARDING = ("welcome_email", "onboarding_meetings")  # the activities January's phase pays once


def _csv(kind: FileKind, *changes: dict[str, str]) -> bytes:
    return csv_bytes(kind, [{**VALID_ROWS[kind], **change} for change in changes])


def _fhir_bundle() -> bytes:
    immunization = {
        "resourceType": "Immunization",
        "id": "imm-1",
        "status": "completed",
        "patient": {"reference": "Patient/M2"},
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "141"}]},
        "occurrenceDateTime": "2026-01-20",
    }
    observation = {
        "resourceType": "Observation",
        "id": "obs-1",
        "status": "final",
        "subject": {"reference": "Patient/M1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "effectiveDateTime": "2026-02-03",
        "valueQuantity": {"value": 6.9, "unit": "%"},
    }
    entries = [{"resource": {"resourceType": "Patient", "id": "M2"}}, {"resource": immunization}]
    return json.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [*entries, {"resource": observation}]}
    ).encode()


def _landing_files() -> dict[str, bytes]:
    """The tiny plan (clinics, eligibility, attestations, claims) and a file of every other kind."""
    claim = {"member_id": "M2", "billing_clinic_id": "K1", "received_date": "2026-03-25"}
    fill = {"claim_id": "RX1", "member_id": "M1", "dispensing_date": "2026-02-05"}
    files = {key: body.encode() for key, body in FILES.items()}
    pair = {"member_id": "M5", "billing_clinic_id": "K3", "received_date": "2026-02-20"}
    return files | {
        # Two claims of one member in one file share a packed evidence item: voiding one rewrites it.
        "landing/medical_claims/pair-2026-02.csv": _csv(
            FileKind.MEDICAL_CLAIMS,
            pair | {"claim_id": "CL700", "claim_start_date": "2026-02-03", "claim_end_date": "2026-02-03"},
            pair | {"claim_id": "CL701", "claim_start_date": "2026-02-04", "claim_end_date": "2026-02-04"},
        ),
        # A replacement of CL200 and a void of CL300, from a later file than the originals.
        "landing/medical_claims/versions-2026-03.csv": _csv(
            FileKind.MEDICAL_CLAIMS,
            claim | {"claim_id": "CL210", "claim_frequency_code": "7", "original_claim_id": "CL200"},
            claim
            | {
                "claim_id": "CL390",
                "claim_frequency_code": "8",
                "original_claim_id": "CL300",
                "member_id": "M3",
            },
            claim
            | {
                "claim_id": "CL791",
                "claim_frequency_code": "8",
                "original_claim_id": "CL701",
                "member_id": "M1",
            },
        ),
        "landing/pharmacy_claims/fills-2026-02.csv": _csv(FileKind.PHARMACY_CLAIMS, fill),
        "landing/pharmacy_claims/reversals-2026-03.csv": _csv(
            FileKind.PHARMACY_CLAIMS, fill | {"claim_status": "reversed"}
        ),
        "landing/immunizations/registry-2026-01.csv": _csv(FileKind.IMMUNIZATIONS, {"member_id": "M1"}),
        # The second row is rejected: a rejects report is written.
        "landing/labs/results-2026-02.csv": _csv(
            FileKind.LABS, {"member_id": "M1"}, {"member_id": "M4", "result_date": "not-a-date"}
        ),
        "landing/ta_engagement/ta-2026-02.csv": _csv(FileKind.TA_ENGAGEMENT, {"practice_id": "K1"}),
        # K1's onboarding, completed within January's participation phase: its one-time payment.
        "landing/ta_engagement/onboarding-2026-01.csv": _csv(
            FileKind.TA_ENGAGEMENT,
            *(
                {"practice_id": "K1", "activity": activity, "activity_date": "2026-01-10"}
                for activity in ONBOARDING
            ),
        ),
        "landing/fhir/bundle-2026-02.json": _fhir_bundle(),
        # A whole-file problem: the file is copied to quarantine/.
        "landing/eligibility/missing-column.csv": b"member_id,gender\nM9,F\n",
        # The clinics file delivered again under another name: recognised as already ingested.
        "landing/clinics/clinics-again.csv": FILES["landing/clinics/clinics-2026-03.csv"].encode(),
    }


def _program_version() -> bytes:
    """The shipped version from 2 January, phased in: January is participation (K1's onboarding too), then
    reporting (unpaid: the runtime's clock makes every file late); performance, the SVUs every later month
    of the flow pays, from February."""
    shipped = json.loads((DATA_DIR / "care_gap" / "care_gap_2026.json").read_text(encoding="utf-8"))
    phases = [
        {
            "phase": "participation",
            "effective_from": "2026-01-02",
            "effective_through": "2026-01-15",
            "per_clinic_month": "100.00",
            "onboarding_complete": "500.00",
            "onboarding_activities": list(ONBOARDING),
        },
        {
            "phase": "reporting",
            "effective_from": "2026-01-16",
            "effective_through": "2026-01-31",
            "per_clinic_month": "200.00",
            "submission": {"file_kinds": ["eligibility"], "due_day": 10, "max_reject_share": "0.05"},
        },
        {"phase": "performance", "effective_from": "2026-02-01", "effective_through": "2026-12-31"},
    ]
    version = {"version": "care_gap-2026.2", "effective_from": "2026-01-02", "phases": phases}
    return json.dumps(shipped | version).encode()


# --- recording ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """What the flow did, and what is needed to judge it against a (possibly edited) template."""

    template: dict[str, Any]
    calls: tuple[ApiCall, ...]
    functions: dict[str, str]  # logical id -> handler
    resolve: Callable[[Any], Any]
    reports_bucket: str
    bucket_keys: frozenset[str]  # KMS keys of S3 buckets: their use is recorded with the S3 calls

    def policies(self, template: dict[str, Any] | None = None) -> dict[str, FunctionPolicies]:
        return {f: function_policies(template or self.template, f, self.resolve) for f in self.functions}

    def function(self, handler: str) -> str:
        return next(f for f, h in self.functions.items() if h == handler)


class _Recorder:
    """Records each AWS call made as a function (`RUNNING_AS`), with the permission it needs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[ApiCall] = []
        self.names: dict[str, str] = {}  # physical function name -> logical id
        self.scope: Scope | None = None
        self._install(monkeypatch)

    def _logical(self, name_or_arn: str) -> str:
        name = name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn.split(":")[0]
        return self.names[name]

    def _install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        recorder = self
        call = LambdaRouter.call
        make_api_call = BaseClient._make_api_call  # type: ignore[attr-defined]
        submit = ThreadPoolExecutor.submit

        def routed(router: LambdaRouter, name_or_arn: str, event: Any) -> Any:
            reset_process_caches()  # a cold start: this function builds its own clients and services
            return call(router, name_or_arn, event)

        def record_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            running = RUNNING_AS.get()  # the runtime's: a handler, or its event source mapping
            if running is None:
                return make_api_call(client, operation, params)
            function = recorder._logical(running)
            error = None
            try:
                return make_api_call(client, operation, params)
            except ClientError as exc:
                error = str(exc.response.get("Error", {}).get("Code"))
                raise
            finally:
                recorder._record(function, client.meta.service_model.service_name, operation, params, error)

        def in_context(pool: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            return submit(pool, contextvars.copy_context().run, fn, *args, **kwargs)

        monkeypatch.setattr(LambdaRouter, "call", routed)
        monkeypatch.setattr(BaseClient, "_make_api_call", record_call)
        monkeypatch.setattr(ThreadPoolExecutor, "submit", in_context)

    def _record(
        self, function: str, service: str, operation: str, params: dict[str, Any], error: str | None
    ) -> None:
        assert self.scope is not None
        try:
            needed = permissions_for(service, operation, params, self.scope, error=error)
        except (KeyError, TypeError, ValueError):
            needed = None  # a shape the mapping does not know: reported as unmapped, never passed
        self.calls.append(ApiCall(function, service, operation, needed))

    def started(self, local: LocalRuntime) -> Callable[[Any], Any]:
        """Learn the stack's names and keys once the runtime has created it; returns its resolver."""
        assert local.stack.resolve is not None
        resolve = local.stack.resolve
        stack = local.stack
        self.names = {name: spec.logical_id for name, spec in stack.functions.items()}
        resources = local.template["Resources"]
        bucket_keys, queue_keys = {}, {}
        for logical_id, kind in stack.created.items():
            props = resources[logical_id].get("Properties", {})
            if kind == "AWS::S3::Bucket":
                rules = resolve(props.get("BucketEncryption", {})).get(
                    "ServerSideEncryptionConfiguration", []
                )
                keys = [r["ServerSideEncryptionByDefault"].get("KMSMasterKeyID") for r in rules]
                if keys and keys[0]:
                    bucket_keys[stack.physical_ids[logical_id]] = str(keys[0])
            elif kind == "AWS::SQS::Queue" and props.get("KmsMasterKeyId"):
                arn = resolve({"Fn::GetAtt": [logical_id, "Arn"]})
                queue_keys[str(arn)] = str(resolve(props["KmsMasterKeyId"]))
        self.scope = Scope(stack.region, stack.account_id, Encryption(bucket_keys, queue_keys))
        return resolve


# --- the flow -------------------------------------------------------------------------------------------


def _month(month: str, mode: str = "final") -> dict[str, Any]:
    return {"run_kind": "monthly", "program_year": int(month[:4]), "month": month, "mode": mode}


def _phase_payments(local: LocalRuntime, run_id: str) -> list[tuple[str, str]]:
    """The (clinic, reason) of every phase payment entry the run recorded."""
    items = local.client("dynamodb").scan(TableName=local.outputs["LedgerTableName"])["Items"]
    return sorted(
        (i["clinic_id"]["S"], i["basis"]["M"]["reason"]["S"])
        for i in items
        if i.get("run_id", {}).get("S") == run_id and i["basis"]["M"]["basis"]["S"] == "phase_payment"
    )


FAN_OUT_LIMIT = 30_000
"""The ingest function's limit in this flow (INGEST_MAX_FILE_BYTES): the plan's files are under it, the
large claims files over it."""


def _fan_out_files(local: LocalRuntime) -> None:
    """Large files through the fan-out machine: one applied in shards (its voids retract the evidence of
    an earlier file: one packed item rewritten, one deleted), one quarantined by its split (a column named
    twice); a split refused (a kind it cannot cut) ends FAILED, and FailFile records a file it knows, as
    the machine's FileFailed state does for a shard that keeps failing."""
    s3, outputs, sfn = local.client("s3"), local.outputs, local.client("stepfunctions")
    landing = outputs["LandingBucketName"]
    machine = os.environ[FAN_OUT_STATE_MACHINE_ENV]
    earlier = _csv(
        FileKind.MEDICAL_CLAIMS,
        {"claim_id": "FOX1", "member_id": "MF1"},
        {"claim_id": "FOX2", "member_id": "MF2"},
        {"claim_id": "FOX3", "member_id": "MF2"},
    )
    s3.put_object(Bucket=landing, Key="landing/medical_claims/fox.csv", Body=earlier)
    assert local.pump_ingest_queue().handler_errors == 0
    voids = _csv(
        FileKind.MEDICAL_CLAIMS,
        {"claim_id": "FOX1V", "claim_frequency_code": "8", "original_claim_id": "FOX1", "member_id": "MF1"},
        {"claim_id": "FOX2V", "claim_frequency_code": "8", "original_claim_id": "FOX2", "member_id": "MF2"},
    ).split(b"\n", 1)[1]
    large = generated_file(600) + voids
    header, rest = large.split(b"\n", 1)
    twice = header + b",Member_ID\n" + rest.replace(b"\n", b",x\n")
    assert len(large) > FAN_OUT_LIMIT
    s3.put_object(Bucket=landing, Key="landing/medical_claims/large.csv", Body=large)
    s3.put_object(Bucket=landing, Key="landing/medical_claims/large-twice.csv", Body=twice)
    assert local.pump_ingest_queue().handler_errors == 0
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    ended = [wait_for_execution(sfn, e["executionArn"], limit_s=300) for e in executions]
    assert [e.status for e in ended] == ["SUCCEEDED", "SUCCEEDED"], [e.failure_line() for e in ended]
    refused = local.start_and_wait(machine, {"bucket": landing, "key": "landing/clinics/large.csv"})
    assert refused.status == "FAILED"
    quarantined = hashlib.sha256(twice).hexdigest()
    fail = {
        "bucket": landing,
        "key": "landing/medical_claims/large-twice.csv",
        "error": "UnexpectedStepError",
    }
    local.invoke(_function_named(local, "functions.ingest.fan_out.fail"), fail | {"file_id": quarantined})


def _function_named(local: LocalRuntime, handler: str) -> str:
    (name,) = [spec.name for spec in local.stack.functions.values() if spec.handler == handler]
    return name


def _run_the_plan(local: LocalRuntime) -> None:
    s3, outputs = local.client("s3"), local.outputs
    landing = outputs["LandingBucketName"]
    s3.put_object(
        Bucket=outputs["CuratedBucketName"], Key="programs/care_gap-2026.2.json", Body=_program_version()
    )
    files = _landing_files()
    for key, body in files.items():
        s3.put_object(Bucket=landing, Key=key, Body=body)
    assert local.pump_ingest_queue().handler_errors == 0
    # Every path was taken: each file accepted, the broken one quarantined, the clinics copy a duplicate.
    registry = local.client("dynamodb").scan(TableName=outputs["RegistryTableName"])["Items"]
    statuses = {i["source_key"]["S"]: i["status"]["S"] for i in registry if i["sk"]["S"] == "FILE"}
    assert statuses == {
        key: "QUARANTINED" if key.endswith("missing-column.csv") else "ACCEPTED"
        for key in files
        if key != "landing/clinics/clinics-again.csv"
    }
    # A void of one of M5's two claims, once both are applied: the packed item is rewritten with the other.
    void_one = _csv(
        FileKind.MEDICAL_CLAIMS,
        {"claim_id": "CL791", "claim_frequency_code": "8", "original_claim_id": "CL701", "member_id": "M5"},
    )
    s3.put_object(Bucket=landing, Key="landing/medical_claims/void-cl701.csv", Body=void_one)
    assert local.pump_ingest_queue().handler_errors == 0
    # A file removed before the function reads it: retried until the queue dead-letters it.
    s3.put_object(Bucket=landing, Key="landing/labs/gone.csv", Body=b"x")
    s3.delete_object(Bucket=landing, Key="landing/labs/gone.csv")
    assert local.pump_ingest_queue(max_rounds=20).retried > 0
    _fan_out_files(local)

    # Operators and approvers act through the operator function, as they do through its API on AWS.
    operator, approver = runtime_operator(local, "operator"), runtime_operator(local, "approver")
    sfn = local.client("stepfunctions")

    def run(started: dict[str, Any]) -> ExecutionResult:
        return wait_for_execution(sfn, started["execution_arn"], limit_s=120)

    # January is phased: AggregateRun asks the ledger which of the month's phase payments exist and reads
    # the engagement rows for onboarding; the recalculation finds and reads what the first run recorded.
    january = run(operator.start(_month("2026-01")))
    assert january.status == "SUCCEEDED", january.cause
    paid = _phase_payments(local, "monthly-2026-01-final")
    january_again = run(operator.recalculate("monthly-2026-01-final"))
    assert january_again.status == "SUCCEEDED", january_again.cause
    assert ("K1", "onboarding_complete") in paid and _phase_payments(local, "monthly-2026-01-final") == paid
    approver.approve("monthly-2026-01-final")
    approver.mark_paid("monthly-2026-01-final", "ACH-2026-02-15")
    march = run(operator.start(_month("2026-03")))
    assert march.status == "SUCCEEDED", march.cause
    approver.approve("monthly-2026-03-final")
    approver.mark_paid("monthly-2026-03-final", "ACH-2026-04-15")
    # April previewed (a preview asks which of its entries exist), then a void of the claim March paid M2's
    # screening on, so April reverses it and carries K1's negative month forward.
    assert run(operator.start(_month("2026-04", mode="preview"))).status == "SUCCEEDED"
    void = _csv(
        FileKind.MEDICAL_CLAIMS,
        {
            "claim_id": "CL210V",
            "claim_frequency_code": "8",
            "original_claim_id": "CL210",
            "member_id": "M2",
            "billing_clinic_id": "K1",
            "received_date": "2026-04-10",
        },
    )
    s3.put_object(Bucket=landing, Key="landing/medical_claims/void-2026-04.csv", Body=void)
    assert local.pump_ingest_queue().handler_errors == 0

    original_earn, before = RunService.earn, set(threading.enumerate())

    def broken(service: RunService, item: Any) -> Any:
        if item.shard.shard_id == "00001":
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "Query")
        return original_earn(service, item)

    with mock.patch.object(RunService, "earn", broken):
        failed = run(operator.start(_month("2026-04")))
    settle_threads(before)  # a failed Map does not wait for its other items
    resumed = run(operator.start(_month("2026-04")))
    recalculated = run(operator.recalculate("monthly-2026-04-final"))
    preview = run(operator.start(_month("2026-05", mode="preview")))
    annual = run(operator.start({"run_kind": "annual", "program_year": 2026, "mode": "final"}))
    # The quarter's PMPM run reads the practices' engagement (K2 is on an APC track).
    quarterly = run(
        operator.start({"run_kind": "quarterly", "program_year": 2026, "quarter": "2026-Q1", "mode": "final"})
    )
    refused = run(operator.start(_month("2026-03")))  # paid: a new start is refused, and FailRun records it
    assert operator.runs() and operator.show("monthly-2026-04-final")["last_failure"]
    assert (failed.status, refused.status) == ("FAILED", "FAILED")
    ended = (resumed, recalculated, preview, annual, quarterly)
    assert [e.status for e in ended] == ["SUCCEEDED"] * 5, [e.cause for e in ended]


# Session scope: it holds data only, and xdist may interleave this module's tests with others', which
# would tear a module-scoped fixture down and run the flow again.
@pytest.fixture(scope="session")
def recorded(app_template: dict[str, Any]) -> Recorded:
    """The plan run once on the local runtime, every handler AWS call recorded; the runtime and the
    patches are gone before the checks run (they judge data only)."""
    no_wait = SimpleNamespace(sleep=lambda seconds: None)
    with pytest.MonkeyPatch.context() as monkeypatch:
        recorder = _Recorder(monkeypatch)
        monkeypatch.setattr(retrier_decl, "time", no_wait)  # retry intervals would only slow the run
        # The runtime stands after the demo year's finalization date, so the annual run is final too.
        with (
            LocalRuntime(app_template, clock=shifted_clock(datetime(2027, 7, 1, tzinfo=UTC))) as local,
            # Several shards: the Map runs in threads; large files: the ingest fan-out runs.
            mock.patch.dict(os.environ, {"SHARD_SIZE": "2", "INGEST_MAX_FILE_BYTES": str(FAN_OUT_LIMIT)}),
        ):
            resolve = recorder.started(local)
            _run_the_plan(local)
            functions = {spec.logical_id: spec.handler for spec in local.stack.functions.values()}
            reports_bucket = local.outputs["ReportsBucketName"]
    assert recorder.scope is not None
    bucket_keys = frozenset(recorder.scope.encryption.bucket_keys.values())
    return Recorded(app_template, tuple(recorder.calls), functions, resolve, reports_bucket, bucket_keys)


# --- the checks -----------------------------------------------------------------------------------------


def test_the_flow_exercises_every_function_and_the_rare_paths(recorded: Recorded) -> None:
    # GIVEN the recorded calls of the plan's flow
    by_function = {f: {c.operation for c in recorded.calls if c.function == f} for f in recorded.functions}
    ingest = recorded.function("functions.ingest.ingest_file.handler")
    # WHEN we look at who called what
    # THEN every function of the template made AWS calls, and ingest took its quarantine, dead-letter
    # (a read of a missing key) and event-source-mapping paths
    assert all(by_function.values()), [f for f, ops in by_function.items() if not ops]
    assert {"CopyObject", "ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibility"} <= (
        by_function[ingest]
    )
    reads_of_a_missing_key = [
        c for c in recorded.calls if any(p.action == "s3:ListBucket" for p in c.permissions or ())
    ]
    assert any(c.operation == "GetObject" for c in reads_of_a_missing_key)


def test_every_handler_call_is_allowed_by_its_function_policy(recorded: Recorded) -> None:
    # GIVEN every function's policies, resolved to the names the local runtime created
    policies = recorded.policies()
    # WHEN each recorded call's permissions are evaluated against its function's policies
    found = violations(recorded.calls, policies)
    checked = {(c.function, p) for c in recorded.calls for p in c.permissions or ()}
    print(f"{len(recorded.calls)} handler AWS calls; {len(checked)} (function, permission) pairs checked")
    # THEN nothing a handler did would be denied on AWS
    listing = "\n".join(map(str, found))
    assert found == [], (
        f"{len(found)} permission(s) used that the function's policy does not grant:\n{listing}"
    )


def test_removing_a_grant_the_flow_needs_is_reported_as_that_violation(recorded: Recorded) -> None:
    # GIVEN the template without CloseRun's read of the reports bucket's runs/ prefix (the drafts)
    close_run = recorded.function(_CLOSE_RUN_HANDLER)
    payments = f"arn:aws:s3:::{recorded.reports_bucket}/runs/"
    edited, removed = _without_object_read(recorded, close_run, payments + "*")
    needed = {
        (p.action, p.resource)
        for c in recorded.calls
        if c.function == close_run and c.permissions
        for p in c.permissions
        if p.action == "s3:GetObject" and p.resource.startswith(payments)
    }
    # WHEN the recorded calls are evaluated against the edited template
    before = set(violations(recorded.calls, recorded.policies()))
    after = set(violations(recorded.calls, recorded.policies(edited)))
    # THEN exactly CloseRun's reads of the drafts it reconciles are reported
    assert removed == 1 and needed, "CloseRun should read its draft payment file under runs/"
    assert {(v.function, v.action, v.resource) for v in after - before} == {
        (close_run, a, r) for a, r in needed
    }
    assert before <= after


def _without_object_read(recorded: Recorded, function: str, arn: str) -> tuple[dict[str, Any], int]:
    """A copy of the template whose function policies no longer grant s3:GetObject on `arn`."""
    edited = copy.deepcopy(recorded.template)
    role = recorded.policies()[function].role
    removed = 0
    for resource in edited["Resources"].values():
        roles = resource.get("Properties", {}).get("Roles", [])
        if resource["Type"] != "AWS::IAM::ManagedPolicy" or {"Ref": role} not in roles:
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            if "s3:GetObject" not in Statement.parse(recorded.resolve(statement), "").actions:
                continue
            targets = statement["Resource"]
            targets = targets if isinstance(targets, list) else [targets]
            kept = [t for t in targets if recorded.resolve(t) != arn]
            removed += len(targets) - len(kept)
            statement["Resource"] = kept
    return edited, removed


def test_the_evaluator_follows_iam_semantics() -> None:
    # GIVEN a policy with an object wildcard, a single-character wildcard, a conditional allow and a deny
    statements = (
        Statement("Allow", ("s3:GetObject",), (), ("arn:aws:s3:::b/runs/*",), (), False, "p"),
        Statement("Allow", ("S3:PutObject",), (), ("arn:aws:s3:::b/runs/?.json",), (), False, "p"),
        Statement("Allow", ("s3:DeleteObject",), (), ("arn:aws:s3:::b/*",), (), True, "p"),
        Statement("Deny", ("s3:*",), (), ("arn:aws:s3:::b/runs/secret/*",), (), False, "p"),
    )
    policy = FunctionPolicies("Fn", "Role", statements)
    scope = Scope("us-east-1", "123456789012")
    # WHEN calls are mapped to permissions and evaluated
    copy_needs = permissions_for(
        "s3", "CopyObject", {"Bucket": "b", "Key": "runs/x.json", "CopySource": "b/landing/f.csv"}, scope
    )
    # THEN `*` spans slashes, `?` is one character, actions ignore case, a deny wins, a condition never
    # allows, and a copy needs a read of its source as well as a write of its target
    assert policy.allows(Permission("s3:GetObject", "arn:aws:s3:::b/runs/r1/shards.json"))
    assert policy.allows(Permission("s3:PutObject", "arn:aws:s3:::b/runs/1.json"))
    assert not policy.allows(Permission("s3:PutObject", "arn:aws:s3:::b/runs/12.json"))
    assert not policy.allows(Permission("s3:GetObject", "arn:aws:s3:::b/runs/secret/k"))
    assert not policy.allows(Permission("s3:DeleteObject", "arn:aws:s3:::b/runs/1.json"))
    assert copy_needs == (
        Permission("s3:GetObject", "arn:aws:s3:::b/landing/f.csv"),
        Permission("s3:PutObject", "arn:aws:s3:::b/runs/x.json"),
    )
    assert violations([ApiCall("Fn", "s3", "CopyObject", copy_needs)], {"Fn": policy})[0].resource.endswith(
        "landing/f.csv"
    )


# Grants no handler call can show, each with its reason; every other grant must be used by the flow.
_KMS_BEHIND_TABLES = "DynamoDB uses the table key on the caller's behalf: no handler call names it"
_LIST_FOR_MISSING = (
    "S3 answers a missing key with 403 without s3:ListBucket: every not-found branch needs it, found or not"
)
_RUNTIME_LOGS = "the Lambda runtime, not the handler, writes the function's log stream"
_DESCRIBE = "a DescribeKey the SDK makes only when it resolves a key alias, never by a handler call"
_EVENT_SOURCE = "Lambda's SQS event source mapping reads the queue's attributes; the local pump does not"


def _exemption(bucket_keys: frozenset[str]) -> Callable[[str, str], bool]:
    def exempt(action: str, resource: str) -> bool:
        action = action.lower()
        if action.startswith("xray:"):
            return True  # the shared X-Ray policy: the SDK's tracer, off in the local runtime
        if action in ("logs:createlogstream", "logs:putlogevents"):
            return True  # _RUNTIME_LOGS
        if action == "s3:listbucket":
            return True  # _LIST_FOR_MISSING
        if action == "kms:describekey":
            return True  # _DESCRIBE
        if action == "sqs:getqueueattributes":
            return True  # _EVENT_SOURCE
        # A bucket's key is used by the S3 calls the flow records; any other key is behind a table,
        # a queue's service side or a state machine.
        return action.startswith("kms:") and resource not in bucket_keys  # _KMS_BEHIND_TABLES

    return exempt


def test_every_grant_of_every_function_is_used_by_the_flow(recorded: Recorded) -> None:
    # GIVEN every function's policies and every call the flow recorded
    policies = recorded.policies()
    # WHEN each (action, resource) an Allow grants is looked for among its function's calls
    unused = unused_grants(recorded.calls, policies, exempt=_exemption(recorded.bucket_keys))
    # THEN none is unused: a grant nothing needs is a grant an attacker would get for free
    listing = "\n".join(map(str, unused))
    assert unused == [], f"{len(unused)} grant(s) no call of the flow needed:\n{listing}"


def test_the_ledger_is_append_only_for_every_role(recorded: Recorded) -> None:
    # GIVEN every function's policies and the Ledger table's ARN
    policies = recorded.policies()
    ledger = recorded.resolve({"Fn::GetAtt": ["LedgerTable", "Arn"]})
    entry = ("ENTRY#x",)
    # WHEN each function is asked for each way of writing an entry
    allowed = {
        f: {
            a
            for a in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")
            if p.allows(Permission(f"dynamodb:{a}", ledger, entry))
        }
        for f, p in policies.items()
    }
    # THEN the two steps that append may only PutItem, and no role may update, delete or batch-write
    writers = {recorded.functions[f]: actions for f, actions in allowed.items() if actions}
    assert writers == {
        "functions.runs.earn_shard.handler": {"PutItem"},
        "functions.runs.aggregate_run.handler": {"PutItem"},
    }


def test_only_the_lifecycle_steps_write_run_records_and_the_ingest_role_writes_only_file_records(
    recorded: Recorded,
) -> None:
    # GIVEN every function's policies and the Registry table's ARN
    policies = recorded.policies()
    registry = recorded.resolve({"Fn::GetAtt": ["RegistryTable", "Arn"]})

    def writes(function: str, key: str) -> set[str]:
        return {
            a
            for a in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")
            if policies[function].allows(Permission(f"dynamodb:{a}", registry, (key,)))
        }

    # WHEN each function is asked to write a run record and a file record
    runs = {recorded.functions[f]: writes(f, "RUN#monthly-2026-03-final") for f in policies}
    files = {recorded.functions[f]: writes(f, "FILE#abc") for f in policies}
    # THEN only OpenRun, CloseRun and FailRun may write run records, and only the ingest functions (the
    # ingest function and the fan-out's split, finish and fail) write file records
    assert {h: a for h, a in runs.items() if a} == {
        "functions.runs.open_run.handler": {"PutItem", "UpdateItem"},
        "functions.runs.close_run.handler": {"UpdateItem"},
        "functions.runs.fail_run.handler": {"UpdateItem"},
    }
    assert {h for h, a in files.items() if a} == {
        "functions.ingest.ingest_file.handler",
        "functions.ingest.fan_out.split",
        "functions.ingest.fan_out.finish",
        "functions.ingest.fan_out.fail",
    }


def test_the_evaluator_reads_leading_keys_conditions_and_finds_unused_grants() -> None:
    # GIVEN a grant of writes to items whose key starts RUN#, and an unused read
    statements = (
        Statement.parse(
            {
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem"],
                "Resource": "arn:aws:dynamodb:r:1:table/T",
                "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["RUN#*"]}},
            },
            "p",
        ),
        Statement("Allow", ("dynamodb:GetItem",), (), ("arn:aws:dynamodb:r:1:table/T",), (), False, "p"),
    )
    policy = FunctionPolicies("Fn", "Role", statements)
    put = permissions_for(
        "dynamodb", "PutItem", {"TableName": "T", "Item": {"pk": {"S": "RUN#a"}}}, Scope("r", "1")
    )
    other = Permission("dynamodb:PutItem", "arn:aws:dynamodb:r:1:table/T", ("FILE#a",))
    # WHEN the calls are evaluated and the grants are checked for use
    assert put is not None
    unused = unused_grants([ApiCall("Fn", "dynamodb", "PutItem", put)], {"Fn": policy})
    # THEN the RUN# write is allowed, a FILE# write is not, and the GetItem nobody made is reported
    assert policy.allows(put[0]) and not policy.allows(other)
    assert [(u.action, u.resource) for u in unused] == [("dynamodb:GetItem", "arn:aws:dynamodb:r:1:table/T")]
