from __future__ import annotations

import json
import os

import pytest

from cli.local.runtime import LocalRuntime
from tests.local import fixture_handlers
from tests.local.conftest import SynthesizedFixture
from tests.local.fixture_stack import MAX_RECEIVE_COUNT

pytestmark = pytest.mark.xdist_group("local")


def _drop(runtime: LocalRuntime, key: str) -> None:
    runtime.client("s3").put_object(Bucket=runtime.outputs["LandingBucketName"], Key=key, Body=b"a,b\n1,2\n")


def _queue_depth(runtime: LocalRuntime, output: str) -> int:
    attributes = runtime.client("sqs").get_queue_attributes(
        QueueUrl=runtime.outputs[output],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_dropped_file_reaches_the_handler_through_the_queue(runtime: LocalRuntime) -> None:
    # GIVEN a file dropped under the notified prefix
    _drop(runtime, "landing/claims/2026-03.csv")

    # WHEN the queue is pumped
    stats = runtime.pump_ingest_queue()

    # THEN the handler saw an SQS record for it and wrote to the table named in its environment
    (accepted,) = fixture_handlers.calls("ingest.accepted")
    queue_arn = runtime.client("sqs").get_queue_attributes(
        QueueUrl=runtime.outputs["IngestQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert accepted == ("landing/claims/2026-03.csv", "aws:sqs", queue_arn)
    item = runtime.client("dynamodb").get_item(
        TableName=runtime.outputs["RecordsTableName"],
        Key={"pk": {"S": "FILE#landing/claims/2026-03.csv"}, "sk": {"S": "FILE"}},
    )
    assert "Item" in item
    assert stats.retried == 0
    assert _queue_depth(runtime, "IngestQueueUrl") == 0


def test_s3_test_event_is_delivered_and_deleted(runtime: LocalRuntime) -> None:
    # GIVEN the stack as created (S3 sends a test event when notifications are configured)

    # WHEN the queue is pumped with no file dropped
    stats = runtime.pump_ingest_queue()

    # THEN the handler received the test event once and the queue is empty
    assert len(fixture_handlers.calls("ingest.test_event")) == 1
    assert stats.deleted == stats.received == 1
    assert _queue_depth(runtime, "IngestQueueUrl") == 0


def test_reported_item_failures_are_redelivered_then_dead_lettered(runtime: LocalRuntime) -> None:
    # GIVEN one good file and one the handler reports as a batch item failure
    _drop(runtime, "landing/claims/good.csv")
    _drop(runtime, "landing/reject/bad.csv")

    # WHEN the queue is pumped until empty
    stats = runtime.pump_ingest_queue()

    # THEN the failure was delivered maxReceiveCount times and then moved to the DLQ; the good file once
    receive_counts = [count for _, count in fixture_handlers.calls("ingest.rejected")]
    assert receive_counts == [str(n) for n in range(1, MAX_RECEIVE_COUNT + 1)]
    assert [key for key, *_ in fixture_handlers.calls("ingest.accepted")] == ["landing/claims/good.csv"]
    assert stats.retried == MAX_RECEIVE_COUNT
    dead = runtime.client("sqs").receive_message(
        QueueUrl=runtime.outputs["IngestDlqUrl"], MaxNumberOfMessages=10
    )
    (message,) = dead["Messages"]
    assert "landing%2Freject%2Fbad.csv" in message["Body"] or "landing/reject/bad.csv" in message["Body"]
    assert _queue_depth(runtime, "IngestQueueUrl") == 0


def test_handler_exception_retries_the_whole_batch(runtime: LocalRuntime) -> None:
    # GIVEN a file whose handling raises
    runtime.pump_ingest_queue()
    _drop(runtime, "landing/crash/boom.csv")

    # WHEN the queue is pumped
    stats = runtime.pump_ingest_queue()

    # THEN every delivery counted as a handler error and the message ended in the DLQ
    assert stats.handler_errors == MAX_RECEIVE_COUNT
    assert stats.deleted == 0
    assert _queue_depth(runtime, "IngestDlqUrl") == 1


def test_state_machine_maps_over_the_s3_manifest_with_in_process_lambdas(runtime: LocalRuntime) -> None:
    # GIVEN an input asking for four shards
    arn = runtime.outputs["FlowStateMachineArn"]

    # WHEN the execution runs to its end
    result = runtime.start_and_wait(arn, {"period": "2026-03", "shards": 4})

    # THEN it succeeded and every manifest item was earned by the handler
    assert result.status == "SUCCEEDED", result.cause
    assert sorted(item["shard_id"] for item in result.output["earned"]) == ["s0", "s1", "s2", "s3"]
    assert sorted(fixture_handlers.calls("earn_shard")) == ["s0", "s1", "s2", "s3"]
    manifest = runtime.client("s3").get_object(
        Bucket=result.output["plan"]["bucket"], Key=result.output["plan"]["manifest_key"]
    )
    assert len(json.loads(manifest["Body"].read())) == 4


def test_handler_exception_is_caught_by_the_state_machine(runtime: LocalRuntime) -> None:
    # GIVEN an input that makes the first task raise
    arn = runtime.outputs["FlowStateMachineArn"]

    # WHEN the execution runs
    result = runtime.start_and_wait(arn, {"period": "2026-03", "shards": 1, "explode": True})

    # THEN Catch routed the error type to the fail task, and the machine failed as designed
    assert (result.status, result.error) == ("FAILED", "RunFailed")
    assert fixture_handlers.calls("fail_run") == ["PlannedFailureError"]
    assert fixture_handlers.calls("earn_shard") == []


def test_transient_handler_error_is_retried(runtime: LocalRuntime) -> None:
    # GIVEN an input whose first OpenRun attempt raises the retried error
    arn = runtime.outputs["FlowStateMachineArn"]

    # WHEN the execution runs
    result = runtime.start_and_wait(arn, {"period": "2026-04", "shards": 1, "flaky": "once"})

    # THEN the Retry re-ran the task and the execution succeeded
    assert result.status == "SUCCEEDED", result.cause
    assert len(fixture_handlers.calls("open_run")) == 2
    assert fixture_handlers.calls("fail_run") == []


def test_chain_built_definition_from_fn_join_runs(runtime: LocalRuntime) -> None:
    # GIVEN the machine whose definition CDK emitted as Fn::Join around a function ARN
    arn = runtime.outputs["PingStateMachineArn"]

    # WHEN it runs
    result = runtime.start_and_wait(arn, {"period": "2026-05"})

    # THEN the task reached the handler in-process
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"run_id": "run-2026-05"}


def test_stopping_restores_the_environment(synthesized: SynthesizedFixture) -> None:
    # GIVEN the environment before a runtime
    before = dict(os.environ)

    # WHEN a runtime starts and stops
    with LocalRuntime(synthesized.template, asset_dirs=[synthesized.assembly_dir]) as local:
        inside = dict(os.environ)
        table = local.outputs["RecordsTableName"]

    # THEN the functions' variables were visible only while it ran
    assert inside["TABLE_NAME"] == table
    assert dict(os.environ) == before
