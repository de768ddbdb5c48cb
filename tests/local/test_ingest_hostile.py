"""The hostile-file corpus through the real ingest on the local runtime (the synthesized stack on moto:
landing bucket → queue → IngestFile → Registry, reports, curated, gap state): no delivery fails, every
manifest balances and every file meets its fate, the file log lists each by key (`p4p files`), and no
hostile value reaches a log line, a report, the registry, a queue or a key. Then a file whose
application keeps failing ends FAILED after its last delivery, and `p4p files retry` applies it once."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest

from cli.files import _notification
from cli.local.runtime import LocalRuntime
from shared.dal.files import DynamoFileLog
from shared.dal.gap_state import DynamoGapStateRepository
from shared.dal.objects import S3ObjectStore
from shared.intake import read_file
from shared.logic.evidence import immunization_evidence
from shared.models.files import FileKind
from shared.models.tables import INGEST_MAX_RECEIVES
from shared.observability import logger
from shared.services.file_report import FileReport
from shared.services.wiring import program_catalog
from tests.unit.intake.factories import csv_bytes, rows
from tests.unit.intake.hostile import AS_OF, CANARY_TEXT, corpus

pytestmark = [pytest.mark.xdist_group("local-app"), pytest.mark.slow]

TODAY = datetime.fromisoformat(f"{AS_OF}T12:00:00+00:00").astimezone(UTC)


def _all_keys(s3: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _report(local: LocalRuntime) -> FileReport:
    outputs = local.outputs
    return FileReport(
        log=DynamoFileLog(local.client("dynamodb"), outputs["RegistryTableName"]),
        store=S3ObjectStore(local.client("s3")),
        reports_bucket=outputs["ReportsBucketName"],
    )


class _StoreDownError(Exception):
    """The gap state refuses evidence writes."""


def test_the_hostile_corpus_through_the_real_ingest(app_template: dict[str, Any]) -> None:
    # GIVEN the real stack on moto, read on the corpus's day, with the handlers' logs captured at DEBUG
    cases = corpus()
    logger.setLevel("DEBUG")
    stream = io.StringIO()
    original = logger.registered_handler.setStream(stream)
    try:
        with LocalRuntime(app_template, clock=lambda: TODAY) as local:
            s3, sqs = local.client("s3"), local.client("sqs")
            landing, reports = local.outputs["LandingBucketName"], local.outputs["ReportsBucketName"]
            # WHEN every hostile file is dropped in the landing bucket and the queue is pumped
            for case in cases:
                s3.put_object(Bucket=landing, Key=case.key, Body=case.data)
            pumped = local.pump_ingest_queue(max_rounds=200)
            drops = {d.key: d for d in _report(local).files()}
            manifests = {
                k: json.loads(s3.get_object(Bucket=reports, Key=k)["Body"].read())
                for k in _all_keys(s3, reports)
                if k.startswith("manifests/")
            }
            reported = [
                s3.get_object(Bucket=reports, Key=k)["Body"].read().decode("utf-8", "replace")
                for k in _all_keys(s3, reports)
            ]
            registry = local.client("dynamodb").scan(TableName=local.outputs["RegistryTableName"])["Items"]
            dlq = sqs.receive_message(QueueUrl=local.outputs["IngestDlqUrl"], MaxNumberOfMessages=10)
            keys = [
                k
                for b in ("LandingBucketName", "CuratedBucketName", "ReportsBucketName")
                for k in _all_keys(s3, local.outputs[b])
            ]
    finally:
        logger.setLevel("INFO")
        logger.registered_handler.setStream(original)
    # THEN no delivery failed, nothing was dead-lettered
    assert (pumped.retried, pumped.handler_errors) == (0, 0) and not dlq.get("Messages")
    # AND each file met its fate, its manifest balances, and the file log lists it by key
    by_source = {m["source_key"]: m for m in manifests.values()}
    for case in cases:
        drop, manifest = drops[case.key], by_source[case.key]
        if case.reason is not None:
            assert (drop.status, drop.reason, manifest["quarantine_reason"]) == (
                "QUARANTINED",
                case.reason,
                case.reason,
            )
        else:
            assert (drop.status, drop.accepted, manifest["accepted"]) == (
                "ACCEPTED",
                case.accepted,
                case.accepted,
            )
            counts = [manifest[n] for n in ("rows_read", "accepted", "rejected", "duplicate", "superseded")]
            assert counts[0] == sum(counts[1:]), case.name
    # AND no hostile value left the data stores: logs, reports, registry, dead letters, keys
    emitted = {
        "logs": stream.getvalue(),
        "reports": "\n".join(reported),
        "registry": json.dumps(registry),
        "keys": "\n".join(keys),
    }
    assert [name for name, text in emitted.items() if CANARY_TEXT in text] == []
    assert '"message":"file accepted"' in emitted["logs"], "the handler logs were captured (and scanned)"


def test_a_file_that_keeps_failing_ends_failed_and_a_retry_applies_it_once(
    app_template: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN the real stack, and an immunizations file whose evidence the gap state keeps refusing
    caplog.set_level(logging.WARNING)
    key = "landing/immunizations/doses.csv"
    data = csv_bytes(FileKind.IMMUNIZATIONS, rows(FileKind.IMMUNIZATIONS, 3))
    with LocalRuntime(app_template, clock=lambda: TODAY) as local:
        s3 = local.client("s3")
        gaps = DynamoGapStateRepository(local.client("dynamodb"), local.outputs["GapsTableName"])
        with mock.patch.object(DynamoGapStateRepository, "put_evidence", side_effect=_StoreDownError):
            s3.put_object(Bucket=local.outputs["LandingBucketName"], Key=key, Body=data)
            # WHEN SQS delivers it as often as the queue allows
            failing = local.pump_ingest_queue(max_rounds=20)
        failed = _report(local).show(key)
        dead = local.client("sqs").receive_message(
            QueueUrl=local.outputs["IngestDlqUrl"], MaxNumberOfMessages=10
        )
        # AND, the store back, the operator retries it (`p4p files retry`: it is retryable, and its
        # notification goes to the ingest queue), and the message happens to be sent twice
        _report(local).retryable(key)
        retry = _notification(local.outputs["LandingBucketName"], key)
        for _ in range(2):
            local.client("sqs").send_message(QueueUrl=local.outputs["IngestQueueUrl"], MessageBody=retry)
        retried = local.pump_ingest_queue(max_rounds=20)
        applied = _report(local).show(key)
        members = {f"M0001-{i}" for i in range(3)}
        evidence = {m: len(gaps.evidence_of(m)) for m in members}
        catalog = program_catalog(S3ObjectStore(s3), local.outputs["CuratedBucketName"])
        actions = [a for program in catalog.versions for a in program.actions]
        accepted = read_file(data, kind=FileKind.IMMUNIZATIONS, source_key=key, as_of=TODAY.date()).accepted
        yielded = immunization_evidence(accepted, actions, file_id="f")
        expected = {m: len({e.evidence_id for e in yielded if e.member_id == m}) for m in members}
    # THEN it was delivered INGEST_MAX_RECEIVES times, dead-lettered, and reads FAILED with its reason
    assert failing.handler_errors == INGEST_MAX_RECEIVES and len(dead.get("Messages", [])) == 1
    assert (failed.drop.status, failed.drop.reason, failed.drop.attempts) == (
        "FAILED",
        "_StoreDownError",
        INGEST_MAX_RECEIVES,
    )
    assert failed.manifest is not None and (failed.manifest["status"], failed.manifest["failure_reason"]) == (
        "FAILED",
        "_StoreDownError",
    )
    # AND the retry applied it once: ACCEPTED, nothing failed, and each member holds exactly the evidence the
    # file's rows yield under the stack's programs (what a delivery that never failed writes)
    assert retried.retried == 0 and applied.drop.status == "ACCEPTED"
    assert applied.manifest is not None and applied.manifest["status"] == "ACCEPTED"
    assert evidence == expected and min(evidence.values()) > 0
