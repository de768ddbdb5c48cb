"""A small CDK stack with the shapes the real app uses, so the local runtime is tested without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

FLOW_ASL = Path(__file__).with_name("fixture_flow.asl.json")
HANDLERS = "tests.local.fixture_handlers"
MAX_RECEIVE_COUNT = 2
INGEST_BATCH_SIZE = 5
STACK_NAME = "LocalFixture"


def _function(stack: cdk.Stack, cid: str, handler: str, env: dict[str, str]) -> lambda_.Function:
    return lambda_.Function(
        stack,
        cid,
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler=f"{HANDLERS}.{handler}",
        # The local runtime never runs the code asset: it imports the handler module in-process.
        code=lambda_.Code.from_inline("raise RuntimeError('routed in-process by the local runtime')"),
        environment=env,
        timeout=cdk.Duration.seconds(30),
    )


def _build_stack(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, STACK_NAME)
    key = kms.Key(stack, "DataKey", enable_key_rotation=True, alias="alias/local-fixture")
    landing = s3.Bucket(
        stack,
        "Landing",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        versioned=True,
        enforce_ssl=True,
    )
    work = s3.Bucket(stack, "Work", encryption=s3.BucketEncryption.S3_MANAGED)
    dlq = sqs.Queue(stack, "IngestDlq", encryption=sqs.QueueEncryption.SQS_MANAGED)
    queue = sqs.Queue(
        stack,
        "IngestQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        visibility_timeout=cdk.Duration.seconds(60),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
    )
    landing.add_event_notification(
        s3.EventType.OBJECT_CREATED, s3n.SqsDestination(queue), s3.NotificationKeyFilter(prefix="landing/")
    )
    table = dynamodb.Table(
        stack,
        "Records",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
    )
    table.add_global_secondary_index(
        index_name="gsi1",
        partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
    )
    topic = sns.Topic(stack, "Alerts")
    env = {
        "TABLE_NAME": table.table_name,
        "LANDING_BUCKET": landing.bucket_name,
        "WORK_BUCKET": work.bucket_name,
        "ALERTS_TOPIC": topic.topic_arn,
        "STAGE": "test",
    }
    ingest = _function(stack, "IngestFile", "ingest", env)
    ingest.add_event_source(
        event_sources.SqsEventSource(queue, batch_size=INGEST_BATCH_SIZE, report_batch_item_failures=True)
    )
    steps = {
        "OpenRun": _function(stack, "OpenRun", "open_run", env),
        "PlanShards": _function(stack, "PlanShards", "plan_shards", env),
        "EarnShard": _function(stack, "EarnShard", "earn_shard", env),
        "FailRun": _function(stack, "FailRun", "fail_run", env),
    }
    flow = sfn.StateMachine(
        stack,
        "Flow",
        definition_body=sfn.DefinitionBody.from_file(str(FLOW_ASL)),
        definition_substitutions={f"{cid}FunctionArn": fn.function_arn for cid, fn in steps.items()},
        logs=sfn.LogOptions(destination=logs.LogGroup(stack, "FlowLogs"), level=sfn.LogLevel.ERROR),
    )
    # A chain-built machine: CDK emits its definition as Fn::Join around the function ARNs.
    ping = sfn.StateMachine(
        stack,
        "Ping",
        definition_body=sfn.DefinitionBody.from_chainable(
            tasks.LambdaInvoke(
                stack, "PingOpen", lambda_function=steps["OpenRun"], payload_response_only=True
            )
        ),
    )
    for cid, value in {
        "LandingBucketName": landing.bucket_name,
        "WorkBucketName": work.bucket_name,
        "IngestQueueUrl": queue.queue_url,
        "IngestDlqUrl": dlq.queue_url,
        "RecordsTableName": table.table_name,
        "FlowStateMachineArn": flow.state_machine_arn,
        "PingStateMachineArn": ping.state_machine_arn,
        "AlertsTopicArn": topic.topic_arn,
        "DataKeyArn": key.key_arn,
    }.items():
        cdk.CfnOutput(stack, cid, value=value)
    return stack


def synth_fixture_template(outdir: Path) -> dict[str, Any]:
    """Synthesize the fixture stack into `outdir` (which keeps its file assets) and return its template."""
    app = cdk.App(outdir=str(outdir))
    stack = _build_stack(app)
    template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    return template
