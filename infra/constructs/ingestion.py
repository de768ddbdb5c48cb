"""Landing bucket → SQS ingest queue (+DLQ) → the ingest function, with partial batch failures."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Names, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.common import FunctionSpec, ServiceFunction, StageConfig
from infra.constructs.storage import Storage
from shared.models.tables import GAPS_TABLE, INGEST_MAX_RECEIVES, REGISTRY_TABLE, Prefix

# One file per invocation can be a whole month of claims for a large plan: give it Lambda's full 15 minutes,
# which bound the file (MAX_FILE_BYTES, about 4.8M claim lines: its DynamoDB requests take the time), and
# 10 GB for its six vCPUs (the intake streams: a 16M-line file peaks under 1 GB, docs/ingest.md).
INGEST_SPEC = FunctionSpec(
    construct_id="IngestFile",
    handler="functions.ingest.ingest_file.handler",
    description="Parse, validate and curate one landed file",
    timeout=Duration.minutes(15),
    memory_mb=10240,
    reserved_concurrency=10,
    ephemeral_storage_mb=4096,
)
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
NOTIFICATIONS_HANDLER_REASON = (
    "CDK's own bucket-notifications custom resource: it runs only during deployments to set the landing "
    "bucket's notification configuration, never sees plan data, and CDK owns its role and policy."
)
VISIBILITY_TIMEOUT_FACTOR = 6  # AWS's guidance for SQS event sources: 6x the function timeout
MAX_RECEIVE_COUNT = INGEST_MAX_RECEIVES
# Each message is one S3 object; one file per invocation gives each file the full timeout.
BATCH_SIZE = 1


class Ingestion(Construct):
    """The file intake path: notification, queue, dead-letter queue and ingest function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: Storage,
        config: StageConfig,
        code: lambda_.Code,
        environment: dict[str, str],
        shared_policies: list[iam.IManagedPolicy],
    ) -> None:
        super().__init__(scope, construct_id)
        self.dlq = self._build_dlq(storage, config)
        self.queue = self._build_queue(storage, config)
        storage.landing_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(self.queue),
            s3.NotificationKeyFilter(prefix=Prefix.LANDING.value),
        )
        self._acknowledge_notifications_handler(storage.landing_bucket)
        self.ingest = ServiceFunction(
            self,
            INGEST_SPEC,
            code=code,
            environment=environment,
            config=config,
            logs_key=storage.messaging_key,
            shared_policies=shared_policies,
        )
        self._grant_ingest(storage)
        source = sources.SqsEventSource(
            self.queue,
            batch_size=BATCH_SIZE,
            report_batch_item_failures=True,
            max_concurrency=INGEST_SPEC.reserved_concurrency,
        )
        self.ingest.function.add_event_source(source)
        mapping = self.ingest.function.node.find_child(
            f"SqsEventSource:{Names.node_unique_id(self.queue.node)}"
        )
        Validations.of(mapping).acknowledge(
            Acknowledgment(
                id="Serverless-LambdaEventSourceMappingDestination",
                reason="SQS mappings take no on-failure destination; queue redrive is the DLQ path.",
            )
        )

    def _acknowledge_notifications_handler(self, landing: s3.Bucket) -> None:
        # CDK creates one handler per stack (fixed id) plus a policy under the bucket for it.
        handler = Stack.of(self).node.find_child(NOTIFICATIONS_HANDLER_ID)
        Validations.of(handler).acknowledge(
            Acknowledgment(
                id=(
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]"
                ),
                reason=NOTIFICATIONS_HANDLER_REASON,
            )
        )
        Validations.of(landing.node.find_child("Notifications")).acknowledge(
            Acknowledgment(id="HIPAA.Security-IAMNoInlinePolicy", reason=NOTIFICATIONS_HANDLER_REASON)
        )

    def _build_dlq(self, storage: Storage, config: StageConfig) -> sqs.Queue:
        dlq = sqs.Queue(
            self,
            "IngestDlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=storage.messaging_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=config.removal_policy,
        )
        dlq.node.default_child.override_logical_id("IngestDlq")  # type: ignore[union-attr]
        Validations.of(dlq).acknowledge(
            Acknowledgment(
                id="Serverless-SQSRedrivePolicy",
                reason="This is the dead-letter queue; operators redrive it to the ingest queue after a fix.",
            )
        )
        return dlq

    def _build_queue(self, storage: Storage, config: StageConfig) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "IngestQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=storage.messaging_key,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(INGEST_SPEC.timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVE_COUNT, queue=self.dlq),
            removal_policy=config.removal_policy,
        )
        queue.node.default_child.override_logical_id("IngestQueue")  # type: ignore[union-attr]
        return queue

    def _grant_ingest(self, storage: Storage) -> None:
        fn = self.ingest
        fn.grant(
            [
                iam.PolicyStatement(
                    actions=[
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                        # Lambda's SQS event source mapping reads the queue's attributes with this role.
                        "sqs:GetQueueAttributes",
                    ],
                    resources=[self.queue.queue_arn],
                ),
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[storage.messaging_key.key_arn]),
            ]
        )
        landing, curated, reports = storage.landing_bucket, storage.curated_bucket, storage.reports_bucket
        fn.read_objects(landing, [Prefix.LANDING], storage.data_key)
        # Whole-file problems are copied to quarantine/; the plan's drop stays in landing/ as it came.
        fn.write_objects(landing, [Prefix.QUARANTINE], storage.data_key)
        fn.read_objects(curated, [Prefix.PROGRAMS], storage.data_key)
        fn.write_objects(curated, [Prefix.CURATED, Prefix.EVIDENCE], storage.data_key)
        fn.write_objects(reports, [Prefix.MANIFESTS, Prefix.REJECTS], storage.data_key)
        # The file records only (`FILE#…`): run records are the run lifecycle's, never the ingest's.
        fn.use_table(
            storage.table(REGISTRY_TABLE),
            storage.table_key,
            item=("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
            write_keys=("FILE#*",),
        )
        # Clinics (their history is read back on the index and carried on), rosters, packed evidence and
        # claim versions; a retraction rewrites or deletes an item.
        fn.use_table(
            storage.table(GAPS_TABLE),
            storage.table_key,
            item=("dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"),
            index=("dynamodb:Query",),
        )
