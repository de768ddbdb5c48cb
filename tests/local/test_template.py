from __future__ import annotations

import json
import os

import pytest

from cli.local.intrinsics import TemplateResolutionError
from cli.local.runtime import LocalRuntime
from cli.local.template import SKIPPED_TYPES
from tests.local.conftest import SynthesizedFixture
from tests.local.fixture_stack import INGEST_BATCH_SIZE, MAX_RECEIVE_COUNT

pytestmark = pytest.mark.xdist_group("local")


def _logical_id(synthesized: SynthesizedFixture, kind: str, prefix: str) -> str:
    (logical_id,) = [
        k for k, r in synthesized.template["Resources"].items() if r["Type"] == kind and k.startswith(prefix)
    ]
    return logical_id


def test_every_resource_is_created_or_skipped_by_type(
    runtime: LocalRuntime, synthesized: SynthesizedFixture
) -> None:
    # GIVEN the synthesized fixture template
    resources = synthesized.template["Resources"]

    # WHEN the runtime has created the stack
    stack = runtime.stack

    # THEN each resource was either created or skipped as a type moto cannot hold (or a provider)
    assert set(stack.created) | set(stack.skipped) == set(resources)
    assert {
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::StepFunctions::StateMachine",
    } <= set(stack.created.values())
    for logical_id, kind in stack.skipped.items():
        assert kind in SKIPPED_TYPES or logical_id.startswith("BucketNotificationsHandler")


def test_queue_redrive_points_at_the_created_dlq(runtime: LocalRuntime) -> None:
    # GIVEN the created ingest queue and its dead-letter queue
    sqs = runtime.client("sqs")

    # WHEN their attributes are read back from moto
    queue = sqs.get_queue_attributes(QueueUrl=runtime.outputs["IngestQueueUrl"], AttributeNames=["All"])
    dlq = sqs.get_queue_attributes(QueueUrl=runtime.outputs["IngestDlqUrl"], AttributeNames=["QueueArn"])

    # THEN the redrive policy names the DLQ's real ARN and the template's receive count
    redrive = json.loads(queue["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["Attributes"]["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == MAX_RECEIVE_COUNT
    assert queue["Attributes"]["VisibilityTimeout"] == "60"


def test_table_keys_and_index_come_from_the_template(
    runtime: LocalRuntime, synthesized: SynthesizedFixture
) -> None:
    # GIVEN the table as the template declares it
    declared = synthesized.template["Resources"][_logical_id(synthesized, "AWS::DynamoDB::Table", "Records")]

    # WHEN the created table is described
    table = runtime.client("dynamodb").describe_table(TableName=runtime.outputs["RecordsTableName"])["Table"]

    # THEN key schema and GSI match the declaration
    assert table["KeySchema"] == declared["Properties"]["KeySchema"]
    (index,) = table["GlobalSecondaryIndexes"]
    (declared_index,) = declared["Properties"]["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["KeySchema"]) == (
        declared_index["IndexName"],
        declared_index["KeySchema"],
    )


def test_bucket_versioning_encryption_and_notifications_are_applied(runtime: LocalRuntime) -> None:
    # GIVEN the landing bucket
    s3, bucket = runtime.client("s3"), runtime.outputs["LandingBucketName"]

    # WHEN its configuration is read back
    versioning = s3.get_bucket_versioning(Bucket=bucket)
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    notifications = s3.get_bucket_notification_configuration(Bucket=bucket)

    # THEN versioning, the KMS key and the queue notification from the template are in place
    assert versioning["Status"] == "Enabled"
    assert encryption["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == runtime.outputs["DataKeyArn"]
    (queue_config,) = notifications["QueueConfigurations"]
    assert queue_config["QueueArn"].endswith(runtime.outputs["IngestQueueUrl"].rsplit("/", 1)[1])


def test_functions_get_the_resolved_environment_and_event_source(runtime: LocalRuntime) -> None:
    # GIVEN the created stack
    stack = runtime.stack

    # WHEN the routed functions and the process environment are inspected
    environments = {spec.environment["TABLE_NAME"] for spec in stack.functions.values()}
    (mapping,) = stack.event_sources

    # THEN the Ref became the physical table name everywhere, and the mapping is recorded as declared
    assert environments == {runtime.outputs["RecordsTableName"]}
    assert os.environ["TABLE_NAME"] == runtime.outputs["RecordsTableName"]
    assert mapping.queue_url == runtime.outputs["IngestQueueUrl"]
    assert (mapping.batch_size, mapping.report_batch_item_failures) == (INGEST_BATCH_SIZE, True)
    assert stack.functions[mapping.function_name].handler == "tests.local.fixture_handlers.ingest"


def test_state_machine_definition_has_function_arns_substituted(runtime: LocalRuntime) -> None:
    # GIVEN the state machine built from an ASL file asset with substitutions
    sfn = runtime.client("stepfunctions")

    # WHEN its stored definition is read back
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=runtime.outputs["FlowStateMachineArn"])["definition"]
    )

    # THEN the Lambda tasks name real function ARNs
    earn = definition["States"]["EarnShards"]["ItemProcessor"]["States"]["EarnShard"]
    arns = {spec.arn for spec in runtime.stack.functions.values()}
    assert earn["Parameters"]["FunctionName"] in arns


def test_missing_definition_asset_is_an_error_and_leaves_no_trace(synthesized: SynthesizedFixture) -> None:
    # GIVEN a runtime that cannot see the cloud assembly's file assets
    local = LocalRuntime(synthesized.template, asset_dirs=[])
    before = dict(os.environ)

    # WHEN it starts
    with pytest.raises(TemplateResolutionError, match="definition asset"):
        local.start()

    # THEN the environment is as it was
    assert dict(os.environ) == before


def test_unsupported_resource_type_is_named() -> None:
    # GIVEN a template with a type the local runtime does not know
    template = {
        "Resources": {"Network": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}}
    }

    # WHEN / THEN starting it fails with the logical id and the type
    with pytest.raises(TemplateResolutionError, match=r"Network: resource type AWS::EC2::VPC"):
        LocalRuntime(template).start()
