"""Ingestion: landing/ notifications reach a KMS queue with a DLQ, drained by the ingest function."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.xdist_group("infra")

INGEST_HANDLER = "functions.ingest.ingest_file.handler"


def _function_by_handler(synth: Synthesized, handler: str) -> tuple[str, dict[str, Any]]:
    matches = [
        (k, v)
        for k, v in synth.of_type("AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == handler
    ]
    assert len(matches) == 1, handler
    return matches[0]


def test_ingest_queue_redrives_to_dlq_after_at_least_five_receives(dev: Synthesized) -> None:
    # GIVEN the ingest queue
    queue = dev.resources["IngestQueue"]["Properties"]

    # WHEN we read its redrive policy
    redrive = queue["RedrivePolicy"]

    # THEN poison messages end in the DLQ, but only after several attempts
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["IngestDlq", "Arn"]}
    assert redrive["maxReceiveCount"] >= 5


def test_ingest_queue_visibility_is_at_least_six_times_the_function_timeout(dev: Synthesized) -> None:
    # GIVEN the queue and the ingest function
    _, function = _function_by_handler(dev, INGEST_HANDLER)

    # WHEN we compare the visibility timeout with the function timeout
    visibility = dev.resources["IngestQueue"]["Properties"]["VisibilityTimeout"]

    # THEN a message is never redelivered while its invocation may still run
    assert visibility >= 6 * function["Properties"]["Timeout"]


@pytest.mark.parametrize("queue", ["IngestQueue", "IngestDlq"])
def test_queues_are_kms_encrypted_and_tls_only(dev: Synthesized, queue: str) -> None:
    # GIVEN a queue and the queue policies
    props = dev.resources[queue]["Properties"]
    statements = [
        s
        for p in dev.of_type("AWS::SQS::QueuePolicy").values()
        if {"Ref": queue} in p["Properties"]["Queues"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]

    # WHEN / THEN it uses a customer-managed key and denies plain-HTTP requests
    assert "Fn::GetAtt" in props["KmsMasterKeyId"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false" for s in statements
    )


def test_ingest_function_consumes_the_queue_with_partial_batch_failures(dev: Synthesized) -> None:
    # GIVEN the event source mappings
    function_id, _ = _function_by_handler(dev, INGEST_HANDLER)
    mappings = list(dev.of_type("AWS::Lambda::EventSourceMapping").values())

    # WHEN we find the one of the ingest function
    [mapping] = [m["Properties"] for m in mappings if m["Properties"]["FunctionName"] == {"Ref": function_id}]

    # THEN it reads the ingest queue and reports failed items individually
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_landing_bucket_notifies_the_queue_for_landing_prefix(dev: Synthesized) -> None:
    # GIVEN the bucket-notification custom resource the local runtime also reads
    [notification] = dev.of_type("Custom::S3BucketNotifications").values()

    # WHEN we read its queue configuration
    props = notification["Properties"]
    [config] = props["NotificationConfiguration"]["QueueConfigurations"]

    # THEN object creations under landing/ on the landing bucket go to the ingest queue
    assert props["BucketName"] == {"Ref": "LandingBucket"}
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert config["QueueArn"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert config["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "landing/"}]
