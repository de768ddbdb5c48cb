from __future__ import annotations

import inspect
import json
import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore import context as botocore_context
from botocore.exceptions import ClientError, ParamValidationError
from botocore.useragent import register_feature_id
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from cli.local import executions
from cli.local.direct_dynamodb import in_process_dynamodb
from cli.local.lambdas import LambdaRouter
from cli.local.moto_speedups import _query_arguments, partition_queries
from cli.local.runtime import LocalRuntime
from cli.local.stack import FunctionSpec
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


def _queries(ddb: Any) -> list[dict[str, Any]]:
    """Every page of a set of base-table and index queries (key conditions, order, limits, filters)."""
    asked = [
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "M#1"}}},
        {
            "KeyConditionExpression": "pk = :p AND sk < :s",
            "ExpressionAttributeValues": {":p": {"S": "M#1"}, ":s": {"S": "GAP#"}},
        },
        {
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":p": {"S": "M#2"}, ":s": {"S": "EV#"}},
            "ScanIndexForward": False,
            "Limit": 7,
        },
        {
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :c",
            "ExpressionAttributeValues": {":c": {"S": "CLINIC#A"}},
        },
        {
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :c AND begins_with(gsi1sk, :m)",
            "ExpressionAttributeValues": {":c": {"S": "CLINIC#B"}, ":m": {"S": "MEMBER#"}},
            "ProjectionExpression": "pk",
            "Limit": 5,
        },
        {  # backward, a page at a time: each page sorts the same items again
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :c",
            "ExpressionAttributeValues": {":c": {"S": "CLINIC#A"}},
            "ScanIndexForward": False,
            "Limit": 4,
        },
    ]
    pages = []
    for request in asked:
        start: dict[str, Any] = {}
        while True:
            page = ddb.query(TableName="t", **request, **start)
            pages.append({k: page.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
            if "LastEvaluatedKey" not in page:
                break
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    return pages


def test_moto_speedups_give_the_same_query_answers() -> None:
    # GIVEN a table with an index, members whose evidence items are large enough to page, and gap items
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        keys = [("pk", "S"), ("sk", "S"), ("gsi1pk", "S"), ("gsi1sk", "S")]
        ddb.create_table(
            TableName="t",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in keys],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi1",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for member in range(1, 40):
            pk = {"S": f"M#{member}"}
            clinic = {"S": "CLINIC#A" if member % 2 else "CLINIC#B"}
            ddb.put_item(
                TableName="t",
                Item={
                    "pk": pk,
                    "sk": {"S": "PROFILE"},
                    "gsi1pk": clinic,
                    "gsi1sk": {"S": f"MEMBER#{member:03d}"},
                },
            )
            for n in range(12 if member < 3 else 2):
                ddb.put_item(
                    TableName="t", Item={"pk": pk, "sk": {"S": f"EV#{n:02d}"}, "blob": {"S": "x" * 150_000}}
                )
            for n in range(5):
                ddb.put_item(TableName="t", Item={"pk": pk, "sk": {"S": f"GAP#{n}"}, "n": {"N": str(n)}})

        # WHEN the same queries run on moto as it is and with the local runtime's speed-ups, before and
        # after writes that move members between the index's partitions
        def move_members() -> None:
            key = {"pk": {"S": "M#1"}, "sk": {"S": "PROFILE"}}
            ddb.update_item(
                TableName="t",
                Key=key,
                UpdateExpression="SET gsi1pk = :b",
                ExpressionAttributeValues={":b": {"S": "CLINIC#B"}},
            )
            ddb.delete_item(TableName="t", Key={"pk": {"S": "M#2"}, "sk": {"S": "PROFILE"}})
            new = {"pk": {"S": "M#99"}, "sk": {"S": "PROFILE"}, "gsi1pk": {"S": "CLINIC#A"}}
            ddb.put_item(TableName="t", Item=new | {"gsi1sk": {"S": "MEMBER#099"}})

        def conditional_writes() -> list[dict[str, Any]]:
            # the same conditions twice over (a parsed condition is kept), met and not met
            outcomes: list[dict[str, Any]] = []
            for member, status in (("M#3", "a"), ("M#98", "a"), ("M#3", "a"), ("M#97", "b"), ("M#3", "b")):
                item = {"pk": {"S": member}, "sk": {"S": "PROFILE"}, "status": {"S": status}}
                for condition in ("attribute_not_exists(pk)", "attribute_not_exists(pk) OR #s = :s"):
                    extra = {"ExpressionAttributeNames": {"#s": "status"}} if "#s" in condition else {}
                    values = {"ExpressionAttributeValues": {":s": {"S": "a"}}} if ":s" in condition else {}
                    try:
                        ddb.put_item(
                            TableName="t", Item=item, ConditionExpression=condition, **extra, **values
                        )
                        outcomes.append({"written": [member, status, condition]})
                    except ddb.exceptions.ConditionalCheckFailedException:
                        outcomes.append({"refused": [member, status, condition]})
            return outcomes

        def both_rounds() -> list[dict[str, Any]]:
            first = _queries(ddb)
            move_members()
            return first + _queries(ddb) + conditional_writes()

        moved = [
            ddb.get_item(TableName="t", Key={"pk": {"S": m}, "sk": {"S": "PROFILE"}})["Item"]
            for m in ("M#1", "M#2")
        ]
        moved_three = ddb.get_item(TableName="t", Key={"pk": {"S": "M#3"}, "sk": {"S": "PROFILE"}})["Item"]
        plain = both_rounds()
        for item in moved:  # back to the table as it was
            ddb.put_item(TableName="t", Item=item)
        ddb.delete_item(TableName="t", Key={"pk": {"S": "M#99"}, "sk": {"S": "PROFILE"}})
        for written in ("M#97", "M#98"):
            ddb.delete_item(TableName="t", Key={"pk": {"S": written}, "sk": {"S": "PROFILE"}})
        ddb.put_item(TableName="t", Item=moved_three)
        with partition_queries():
            faster = both_rounds()

    # THEN every page is the same, continuation keys included
    assert faster == plain
    assert sum(1 for page in plain if page.get("LastEvaluatedKey")) >= 3
    assert {next(iter(o)) for o in plain if "written" in o or "refused" in o} == {"written", "refused"}


def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_volatile(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    if isinstance(value, datetime):
        return "<time>"
    return value


def _dynamodb_script() -> list[Any]:
    """A run of DynamoDB calls, answers and errors alike, on a fresh table of the current mock."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    answers: list[Any] = []

    def call(operation: str, **request: Any) -> None:
        try:
            answers.append(_strip_volatile(getattr(ddb, operation)(**request)))
        except ClientError as error:
            answers.append(_strip_volatile(error.response) | {"raised": type(error).__name__})
        except ParamValidationError as error:
            answers.append({"raised": type(error).__name__, "report": str(error)})

    key_schema = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    definitions = [{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")]
    call(
        "create_table",
        TableName="t",
        KeySchema=key_schema,
        AttributeDefinitions=definitions,
        BillingMode="PAY_PER_REQUEST",
    )
    call("describe_table", TableName="t")
    item = {
        "pk": {"S": "M#1"},
        "sk": {"S": "PROFILE"},
        "n": {"N": "1.50"},
        "b": {"B": b"\x00\xff"},
        "bs": {"BS": [b"\x01", b"\x02"]},
        "m": {"M": {"x": {"S": "y"}, "l": {"L": [{"N": "1"}, {"NULL": True}, {"BOOL": False}]}}},
        "flag": {"BOOL": False},
    }
    call("put_item", TableName="t", Item=item)
    call(
        "put_item",
        TableName="t",
        Item=item,
        ConditionExpression="attribute_not_exists(pk)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    call("get_item", TableName="t", Key={"pk": {"S": "M#1"}, "sk": {"S": "PROFILE"}}, ConsistentRead=True)
    call(
        "update_item",
        TableName="t",
        Key={"pk": {"S": "M#1"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET n = n + :one, tags = :tags",
        ExpressionAttributeValues={":one": {"N": "1"}, ":tags": {"SS": ["a", "b"]}},
        ReturnValues="ALL_NEW",
    )
    rows = [{"PutRequest": {"Item": {"pk": {"S": "M#2"}, "sk": {"S": f"E#{n:02d}"}}}} for n in range(25)]
    call("batch_write_item", RequestItems={"t": rows})
    call(
        "query",
        TableName="t",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "M#2"}},
        Limit=10,
    )
    call(
        "batch_get_item",
        RequestItems={"t": {"Keys": [{"pk": {"S": "M#2"}, "sk": {"S": f"E#{n:02d}"}} for n in (1, 3, 99)]}},
    )
    call(
        "transact_write_items",
        TransactItems=[
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "M#3"}, "sk": {"S": "X"}}}},
            {
                "ConditionCheck": {
                    "TableName": "t",
                    "Key": {"pk": {"S": "M#1"}, "sk": {"S": "PROFILE"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ],
    )
    call("delete_item", TableName="t", Key={"pk": {"S": "M#2"}, "sk": {"S": "E#00"}}, ReturnValues="ALL_OLD")
    call("scan", TableName="t", Limit=5)
    nested = {"pk": {"S": "M#4"}, "sk": {"S": "N"}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}}
    call("put_item", TableName="t", Item=nested | {"deep": {"M": {"a": {"L": [{"M": {"b": {"N": "3"}}}]}}}})
    call("get_item", TableName="t", Key={"pk": {"S": "M#4"}, "sk": {"S": "N"}})
    for member in ("M#1", "M#4"):  # binary values, sets and nested maps, read by a query
        call(
            "query",
            TableName="t",
            KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :z",
            ExpressionAttributeValues={":p": {"S": member}, ":a": {"S": "A"}, ":z": {"S": "Z"}},
        )
    for wrong in ({"S": 5}, {"M": {"x": None}}, {"L": [{"BOOL": "yes"}]}, {"SS": [1]}, {"XX": "?"}):
        call("put_item", TableName="t", Item={"pk": {"S": "M#5"}, "sk": {"S": "W"}, "w": wrong})
    call("get_item", TableName="missing", Key={"pk": {"S": "M#1"}, "sk": {"S": "PROFILE"}})
    call(
        "query",
        TableName="t",
        KeyConditionExpression="nope = :p",
        ExpressionAttributeValues={":p": {"S": "x"}},
    )
    return answers


def test_in_process_dynamodb_answers_as_the_long_way_does() -> None:
    # GIVEN the same DynamoDB calls made through moto's HTTP stub
    with mock_aws():
        long_way = _dynamodb_script()

    # WHEN they are made again with DynamoDB requests handed to moto's handler in process, alone and with
    # the query speed-ups, as the local runtime makes them
    with mock_aws(), in_process_dynamodb():
        in_process = _dynamodb_script()
    with mock_aws(), partition_queries(), in_process_dynamodb():
        local_runtime = _dynamodb_script()

    # THEN every answer, item, error code, message and cancellation reason is the same
    assert in_process == long_way
    assert local_runtime == long_way
    assert sum(a.get("raised") == "ParamValidationError" for a in long_way if isinstance(a, dict)) == 5
    assert {a.get("raised") for a in long_way if isinstance(a, dict)} >= {
        "ConditionalCheckFailedException",
        "ResourceNotFoundException",
        "TransactionCanceledException",
    }


_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (
        "Query",
        {
            "TableName": "t",
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "M#1"}},
        },
    ),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "é ✓"}, "n": {"N": "-1.5e3"}, "ok": {"BOOL": True}}}),
    ("PutItem", {"TableName": "t", "Item": {"m": {"M": {"l": {"L": [{"NULL": True}, {"SS": ["a", "b"]}]}}}}}),
    ("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": {"pk": {"S": "x"}}}}]}}),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "x"}, "b": {"B": b"\x00\xff"}}}),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "x"}, "b": {"B": "text, base64'd by botocore"}}}),
    ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "x"}, "bs": {"BS": ["a", b"b"]}}}),
    ("ListBackups", {"TimeRangeLowerBound": datetime(2026, 1, 1), "TimeRangeUpperBound": 1767225600}),
]


def test_in_process_dynamodb_writes_requests_as_botocore_does() -> None:
    # GIVEN DynamoDB requests of every kind of value: plain ones, binary values as bytes and as text, and
    # an operation with timestamps
    client = boto3.client("dynamodb", region_name="us-east-1")
    serializer = client._serializer  # botocore's validating JSON serializer
    models = client.meta.service_model
    long_way = [serializer.serialize_to_request(p, models.operation_model(op)) for op, p in _REQUESTS]

    # WHEN the local runtime writes them
    walked = []
    original = type(serializer._serializer)._serialize

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        walked.append(1)
        return original(self, *args, **kwargs)

    with in_process_dynamodb(), pytest.MonkeyPatch.context() as patch:
        for op, params in _REQUESTS:  # each operation's frame is written (by shape) once, then kept
            serializer.serialize_to_request(params, models.operation_model(op))
        patch.setattr(type(serializer._serializer), "_serialize", counting)
        local = []
        for op, params in _REQUESTS:
            walked.clear()
            local.append((serializer.serialize_to_request(params, models.operation_model(op)), bool(walked)))

    # THEN each request is the same, byte for byte; the plain ones were not walked by shape, the binary and
    # timestamped ones were
    assert [request for request, _ in local] == long_way
    assert [was_walked for _, was_walked in local] == [False] * 4 + [True] * 4


class _SlowExecution:
    """A Step Functions client whose execution enters one more step on each history read, then ends."""

    def __init__(self, steps: list[str], end: str | None = "SUCCEEDED") -> None:
        self.steps, self.end, self.reads = steps, end, 0

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        done = self.end is not None and self.reads > len(self.steps)
        status = self.end if done else "RUNNING"
        return {"status": status, "stateMachineArn": "arn:machine", "output": "{}" if done else None}

    def describe_state_machine(self, stateMachineArn: str) -> dict[str, Any]:
        return {"definition": json.dumps({"TimeoutSeconds": 3600, "StartAt": "A", "States": {}})}

    def get_execution_history(self, **request: Any) -> dict[str, Any]:
        self.reads += 1
        entered = self.steps[: self.reads]
        return {
            "events": [{"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": n}} for n in entered]
        }


def test_a_wait_lasts_while_the_execution_moves_and_reports_each_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an execution that enters a step every two seconds (history read every two seconds), no clock waits
    monkeypatch.setattr(executions.time, "sleep", lambda seconds: clock.append(clock[-1] + seconds))
    monkeypatch.setattr(executions.time, "monotonic", lambda: clock[-1])
    clock = [0.0]
    seen: list[str | None] = []
    sfn = _SlowExecution(["OpenRun", "PlanShards", "EarnShards", "CloseRun"])

    # WHEN it is waited for well past the old fixed 120 s wait
    result = executions.wait_for_execution(sfn, "arn:execution", on_progress=lambda p: seen.append(p.step))

    # THEN each step was reported once, in order, and the wait ended with the execution
    assert result.status == "SUCCEEDED"
    assert seen == ["OpenRun", "PlanShards", "EarnShards", "CloseRun"]


def test_a_wait_past_its_limit_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an execution that never ends and a wait limit of ten minutes
    clock = [0.0]
    monkeypatch.setattr(executions.time, "sleep", lambda seconds: clock.append(clock[-1] + seconds))
    monkeypatch.setattr(executions.time, "monotonic", lambda: clock[-1])
    sfn = _SlowExecution(["OpenRun", "EarnShards"], end=None)

    # WHEN it is waited for
    with pytest.raises(executions.ExecutionTimeoutError) as timed_out:
        executions.wait_for_execution(sfn, "arn:execution", limit_s=600, on_progress=lambda p: None)

    # THEN the error is one line naming the limit and the step the execution was last seen in
    assert str(timed_out.value) == "still RUNNING after the 10 min limit, last at EarnShards (arn:execution)"
    assert clock[-1] >= 600


def test_a_failed_execution_reads_as_one_line_with_its_failing_step(runtime: LocalRuntime) -> None:
    # GIVEN an input that makes the first task raise
    arn = runtime.outputs["FlowStateMachineArn"]

    # WHEN the execution runs to its end
    result = runtime.start_and_wait(arn, {"period": "2026-03", "shards": 1, "explode": True})

    # THEN its failure line is the execution's error and cause, then the step whose error it caught
    line = result.failure_line()
    assert "\n" not in line and line.startswith("FAILED: RunFailed: a step failed; see MarkFailed (at ")
    assert "PlannedFailureError" in line


def test_progress_counts_the_map_items_of_a_running_execution(runtime: LocalRuntime) -> None:
    # GIVEN the machine that maps over four shards
    arn = runtime.outputs["FlowStateMachineArn"]
    seen: list[executions.ExecutionProgress] = []

    # WHEN it runs with its progress heard
    result = runtime.start_and_wait(arn, {"period": "2026-03", "shards": 4}, on_progress=seen.append)

    # THEN progress named steps, and any Map count heard was of the four shards
    assert result.status == "SUCCEEDED"
    assert seen and all(p.step for p in seen[1:])
    assert all(p.items_total in (0, 4) and p.items_done <= p.items_total for p in seen)


def test_moto_speedups_measure_items_as_moto_does() -> None:
    # GIVEN attribute values of every kind, nested maps and lists among them
    values = [
        {
            "M": {
                "a": {"S": "x"},
                "b": {"L": [{"N": "1.5"}, {"M": {"c": {"SS": ["p", "q"]}}}]},
                "n": {"NULL": True},
            }
        },
        {"L": [{"BOOL": False}, {"BS": [b"\x00"]}, {"NS": ["1", "22"]}]},
        {"S": "h\u00e9llo"},
        {"B": b"\x01\x02"},
    ]

    # WHEN moto measures them as it is and with the local runtime's speed-ups
    plain = [DynamoType(v).size() for v in values]
    with partition_queries():
        faster = [DynamoType(v).size() for v in values]

    # THEN the sizes (which decide the 400 KB item limit and the 1 MB query page) are the same
    assert faster == plain and all(plain)


def test_a_local_execution_wakes_its_wait_as_it_ends(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the local runtime, and a wait whose pauses would each last a minute
    monkeypatch.setattr(executions, "_POLL_S", (60.0, 60.0))
    ended = executions._ended[0]
    started = time.monotonic()

    # WHEN an execution runs to its end and is waited for
    arn = runtime.outputs["FlowStateMachineArn"]
    result = runtime.start_and_wait(arn, {"period": "2026-03", "shards": 2})

    # THEN moto's end of it woke the wait: it returned long before a pause was out
    assert result.status == "SUCCEEDED", result.cause
    assert executions._ended[0] > ended
    assert time.monotonic() - started < 30


def test_without_the_local_runtime_a_wait_sleeps_its_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no local runtime (a deployed stack's executions signal nothing here) and a fake clock
    clock = [0.0]
    monkeypatch.setattr(executions.time, "sleep", lambda seconds: clock.append(clock[-1] + seconds))

    # WHEN an end is counted and a pause is taken
    executions.execution_ended()
    executions._pause(executions._ended[0] - 1, 0.5)

    # THEN it slept the pause (nothing woke it)
    assert clock == [0.0, 0.5]


_SEEN_CONTEXTS: list[Any] = []


def _report_context(event: Any, context: Any) -> dict[str, Any]:
    """A handler that records the botocore client context it starts with."""
    _SEEN_CONTEXTS.append(botocore_context.get_context())
    return {}


def test_a_routed_handler_starts_without_its_callers_client_context() -> None:
    # GIVEN a function routed in process, called from inside a boto3 call's client context (as Step
    # Functions' Invoke calls it), which has a feature registered
    spec = FunctionSpec("Fn", "fn", "arn:aws:lambda:us-east-1:123456789012:function:fn", "", {}, 30, 128)
    router = LambdaRouter({"fn": replace(spec, handler=f"{__name__}._report_context")})
    _SEEN_CONTEXTS.clear()
    with botocore_context.start_as_current_context():
        register_feature_id("WAITER")
        caller = botocore_context.get_context()
        assert caller is not None
        features = set(caller.features)

        # WHEN the handler runs
        router.call("fn", {})

        # THEN it had no client context of its own to inherit, as in Lambda, and the caller's is back
        assert _SEEN_CONTEXTS == [None]
        assert botocore_context.get_context() is caller and caller.features == features != set()


def test_a_querys_arguments_are_read_by_name_as_its_signature_binds_them() -> None:
    # GIVEN Table.query called as moto's backend calls it (ten leading arguments, the rest by keyword),
    # and called otherwise (by keyword only, or with fewer leading arguments)
    table = object.__new__(Table)
    leading = tuple(f"value-{n}" for n in range(10))
    calls = [
        (leading, {"hash_key_conditions": [("gsi1pk", "x")], "range_key_conditions": None, "Extra": 1}),
        (
            (),
            dict(zip(("hash_key", "range_comparison", "range_objs", "limit"), leading, strict=False))
            | {"exclusive_start_key": None, "scan_index_forward": True, "projection_expressions": None},
        ),
        (leading[:6], {"projection_expressions": None, "index_name": "gsi1"}),
    ]
    for args, kwargs in calls:
        # WHEN its arguments are read by name
        read = _query_arguments(table, args, kwargs)
        # THEN they are the ones the signature binds, extra keywords kept by their own names
        bound = inspect.signature(Table.query).bind(table, *args, **kwargs).arguments
        expected = {k: v for k, v in bound.items() if k not in ("self", "filter_kwargs")}
        assert read == expected | bound.get("filter_kwargs", {}), (args, kwargs)


def test_a_direct_answers_date_header_is_the_current_second() -> None:
    # GIVEN the date header moto writes on a DynamoDB answer, written the short way
    from email.utils import parsedate_to_datetime

    from cli.local.direct_dynamodb import _http_date_now

    # WHEN it is written twice in a row
    first, second = _http_date_now(), _http_date_now()
    # THEN it names the current second as an HTTP date, both times
    assert abs((parsedate_to_datetime(first) - datetime.now(UTC)).total_seconds()) < 2
    assert abs((parsedate_to_datetime(second) - parsedate_to_datetime(first)).total_seconds()) <= 1
