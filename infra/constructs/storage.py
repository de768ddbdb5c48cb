"""Keys, buckets and tables: everything that holds data, encrypted with customer-managed keys."""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Duration, Stack, Validations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.common import StageConfig
from shared.models.tables import ALL_TABLES, STAGING_DAYS, Prefix, TableSpec

REPLICATION_REASON = (
    "Cross-region replication needs a destination bucket in a second region, which each plan chooses at "
    "deploy time; versioning and KMS protect the data in-region."
)


class Storage(Construct):
    """Three KMS keys (S3 data, DynamoDB, messaging/logs), five buckets, three tables and their backups."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.data_key = self._build_key("DataKey", "S3 data buckets (landing, curated, reports)")
        self.table_key = self._build_key("TableKey", "DynamoDB tables and their backups")
        self.messaging_key = self._build_key("MessagingKey", "SQS queues, SNS topic and log groups")
        self._allow_logs_service(self.messaging_key)
        self._allow_alarm_and_s3_notifications(self.messaging_key)
        self.access_logs_bucket = self._build_access_logs_bucket()
        self.landing_bucket = self._build_bucket("LandingBucket", "landing/")
        self.curated_bucket = self._build_bucket("CuratedBucket", "curated/")
        # A fanned-out file's shards are working copies of a landed file: gone a few days after it is done.
        self.curated_bucket.add_lifecycle_rule(
            id="StagedShards", prefix=Prefix.STAGING.value, expiration=Duration.days(STAGING_DAYS)
        )
        # Statements are rewritten when a run is recalculated: the versions they replace are kept as long as
        # the ledger's history, so any statement a clinic was ever shown can be produced again.
        self.reports_bucket = self._build_bucket(
            "ReportsBucket", "reports/", noncurrent_days=config.retention_days
        )
        self.payments_bucket = self._build_payments_bucket()
        self.tables: dict[str, dynamodb.Table] = {
            spec.logical_name: self._build_table(spec) for spec in ALL_TABLES
        }
        self._build_backup_plan()

    def table(self, spec: TableSpec) -> dynamodb.Table:
        """The table built for `spec`."""
        return self.tables[spec.logical_name]

    def _build_key(self, construct_id: str, purpose: str) -> kms.Key:
        key = kms.Key(
            self,
            construct_id,
            description=f"P4P {self._config.stage}: {purpose}",
            enable_key_rotation=True,
            removal_policy=self._config.removal_policy,
            pending_window=Duration.days(30 if self._config.is_prod else 7),
        )
        _pin_logical_id(key, construct_id)
        return key

    def _allow_logs_service(self, key: kms.Key) -> None:
        stack = Stack.of(self)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )

    def _allow_alarm_and_s3_notifications(self, key: kms.Key) -> None:
        # S3 event notifications and CloudWatch alarm actions encrypt into our queue/topic with this key.
        for service in ("s3.amazonaws.com", "cloudwatch.amazonaws.com"):
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
                )
            )

    def _build_access_logs_bucket(self) -> s3.Bucket:
        # S3 server access logging cannot deliver to a KMS-encrypted bucket, so this one uses SSE-S3.
        bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=self._config.removal_policy,
            # Access logs are audit logs: kept for the stage's retention. An expired log object becomes a
            # noncurrent version (the bucket is versioned); it goes a day later rather than never.
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=self._config.retention,
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
        )
        _pin_logical_id(bucket, "AccessLogsBucket")
        Validations.of(bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1", reason="This is the access-log bucket; logging it into itself loops."
            ),
            Acknowledgment(
                id="HIPAA.Security-S3BucketLoggingEnabled", reason="This is the access-log bucket."
            ),
            Acknowledgment(
                id="HIPAA.Security-S3DefaultEncryptionKMS",
                reason="S3 server access log delivery only supports SSE-S3 on the target bucket.",
            ),
            Acknowledgment(id="HIPAA.Security-S3BucketReplicationEnabled", reason=REPLICATION_REASON),
        )
        return bucket

    def _build_bucket(
        self,
        construct_id: str,
        log_prefix: str,
        *,
        noncurrent_days: int | None = None,
        object_lock: s3.ObjectLockRetention | None = None,
    ) -> s3.Bucket:
        # Landing and curated data is re-derivable from the plan's files: a year of old versions is enough.
        if noncurrent_days is None:
            noncurrent_days = 365 if self._config.is_prod else 30
        bucket = s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.data_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=log_prefix,
            removal_policy=self._config.removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                    noncurrent_version_expiration=Duration.days(noncurrent_days),
                )
            ],
            object_lock_enabled=True if object_lock else None,
            object_lock_default_retention=object_lock,
        )
        _pin_logical_id(bucket, construct_id)
        Validations.of(bucket).acknowledge(
            Acknowledgment(id="HIPAA.Security-S3BucketReplicationEnabled", reason=REPLICATION_REASON)
        )
        return bucket

    def _build_payments_bucket(self) -> s3.Bucket:
        """Finance's payment files: written once, and in prod locked for the stage's retention.

        COMPLIANCE, not GOVERNANCE: a payment file is the record of money sent, so no one (root included)
        may shorten its lock or delete it; a wrong file is corrected by a new file, never by rewriting one.
        Dev has no Object Lock, so a dev stack and its bucket can be torn down.
        """
        lock = s3.ObjectLockRetention.compliance(self._config.retention) if self._config.is_prod else None
        bucket = self._build_bucket(
            "PaymentsBucket", "payments/", noncurrent_days=self._config.retention_days, object_lock=lock
        )
        # A write must carry If-None-Match, so an existing key is never overwritten, by any principal.
        # ObjectCreationOperation is false for CreateMultipartUpload and UploadPart(Copy), which take no
        # conditional header; CompleteMultipartUpload is checked like PutObject (S3's "Enforce conditional
        # writes" guide). CopyObject into the bucket is refused too: a payment file is never a copy.
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyWritesWithoutIfNoneMatch",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects("*")],
                conditions={
                    "Null": {"s3:if-none-match": "true"},
                    "Bool": {"s3:ObjectCreationOperation": "true"},
                },
            )
        )
        return bucket

    def _build_table(self, spec: TableSpec) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            f"{spec.logical_name}Table",
            partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.table_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=self._config.is_prod,
            removal_policy=self._config.removal_policy,
        )
        table.add_global_secondary_index(
            index_name=spec.gsi_name,
            partition_key=dynamodb.Attribute(name=spec.gsi_partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=spec.gsi_sort_key, type=dynamodb.AttributeType.STRING),
        )
        _pin_logical_id(table, f"{spec.logical_name}Table")
        return table

    def _build_backup_plan(self) -> None:
        # Daily backups keep the last weeks restorable next to PITR. In prod a backup on the first of each
        # month is kept for the stage's retention (seven years unless the plan says otherwise), so the
        # Ledger's history outlives a lost or rewritten table by as long as the payment files it explains.
        daily = Duration.days(35 if self._config.is_prod else 7)
        vault = backup.BackupVault(
            self, "BackupVault", encryption_key=self.table_key, removal_policy=self._config.removal_policy
        )
        plan = backup.BackupPlan(self, "BackupPlan", backup_vault=vault)
        plan.add_rule(
            backup.BackupPlanRule(
                rule_name="Daily",
                schedule_expression=events.Schedule.cron(hour="3", minute="0"),
                delete_after=daily,
            )
        )
        if self._config.is_prod:
            plan.add_rule(
                backup.BackupPlanRule(
                    rule_name="Monthly",
                    schedule_expression=events.Schedule.cron(day="1", hour="5", minute="0"),
                    delete_after=self._config.retention,
                )
            )
        selection = plan.add_selection(
            "Tables",
            resources=[backup.BackupResource.from_dynamo_db_table(table) for table in self.tables.values()],
        )
        Validations.of(selection).acknowledge(
            Acknowledgment(
                id=(
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSBackupServiceRolePolicyForBackup]"
                ),
                reason="AWS Backup's own service-role policy, kept current by AWS; used for our tables only.",
            )
        )


def _pin_logical_id(construct: Construct, logical_id: str) -> None:
    """Stable logical ids: the local runtime and the nag acknowledgments find resources by them."""
    construct.node.default_child.override_logical_id(logical_id)  # type: ignore[union-attr]
