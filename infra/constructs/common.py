"""What every construct shares: stage settings, the Lambda runtime, and least-privilege statement builders.

Roles here are handed to CDK as immutable (`without_policy_updates`) so that no L2 `grant_*` call can widen
them behind our back: each function's permissions are exactly the statements of its own customer-managed
policy, which the infrastructure tests can read in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Size, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

# The packaging installs wheels for this interpreter; the packaging test imports them with this machine's.
RUNTIME = lambda_.Runtime.PYTHON_3_11
ARCHITECTURE = lambda_.Architecture.X86_64

RUNTIME_REASON = (
    "Python 3.11 on purpose: the asset's wheels are built for, and tested on, the 3.11 interpreter; "
    "the runtime moves with the toolchain, not ahead of it."
)
SYNC_INVOKE_REASON = (
    "Never invoked asynchronously: SQS (queue redrive to its DLQ) and Step Functions (Retry/Catch) invoke "
    "synchronously, so a function-level DLQ would never receive a message."
)
NO_VPC_REASON = (
    "The functions reach only IAM-authorised, TLS-only AWS APIs (S3, DynamoDB, SQS, KMS); "
    "there is nothing in a VPC to reach, and no inbound path. A VPC would add NAT/endpoints, not isolation."
)
WILDCARD_OBJECTS_REASON = (
    "S3 object-level actions need a key wildcard; it is scoped to the one bucket prefix this role owns."
)


@dataclass(frozen=True)
class StageConfig:
    """Settings that differ between a throwaway dev stack and production."""

    stage: str
    project: str

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.is_prod else RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> logs.RetentionDays:
        return logs.RetentionDays.ONE_YEAR if self.is_prod else logs.RetentionDays.ONE_MONTH


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function of the contract table in docs/architecture.md."""

    construct_id: str
    handler: str
    description: str
    timeout: Duration
    memory_mb: int
    reserved_concurrency: int
    ephemeral_storage_mb: int = 512


def object_arns(bucket: s3.IBucket, prefixes: Sequence[str]) -> list[str]:
    return [bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes]


def s3_read(bucket: s3.IBucket, prefixes: Sequence[str], key: kms.IKey) -> list[iam.PolicyStatement]:
    """Read objects under `prefixes` and list the bucket."""
    return [
        iam.PolicyStatement(actions=["s3:GetObject"], resources=object_arns(bucket, prefixes)),
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
        iam.PolicyStatement(actions=["kms:Decrypt", "kms:DescribeKey"], resources=[key.key_arn]),
    ]


def s3_write(bucket: s3.IBucket, prefixes: Sequence[str], key: kms.IKey) -> list[iam.PolicyStatement]:
    """Write objects under `prefixes`; SSE-KMS uploads need data keys."""
    return [
        iam.PolicyStatement(
            actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=object_arns(bucket, prefixes)
        ),
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], resources=[key.key_arn]
        ),
    ]


def table_read(table: dynamodb.ITable, key: kms.IKey, gsi: str) -> list[iam.PolicyStatement]:
    """Point reads and queries on the table and its one GSI."""
    return [
        iam.PolicyStatement(
            actions=["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:DescribeTable"],
            resources=[table.table_arn, f"{table.table_arn}/index/{gsi}"],
        ),
        iam.PolicyStatement(actions=["kms:Decrypt", "kms:DescribeKey"], resources=[key.key_arn]),
    ]


def table_write(table: dynamodb.ITable, key: kms.IKey) -> list[iam.PolicyStatement]:
    """Conditional puts, updates and deletes (single items and transactions) on the base table."""
    return [
        iam.PolicyStatement(
            actions=[
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
            ],
            resources=[table.table_arn],
        ),
        iam.PolicyStatement(
            actions=["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
            resources=[key.key_arn],
        ),
    ]


def logical_id_of(construct: IConstruct) -> str:
    """The resolved logical id of a construct's CloudFormation resource (as cdk-nag names it in findings)."""
    resource = construct.node.default_child
    return str(Stack.of(construct).resolve(resource.logical_id))  # type: ignore[union-attr]


def acknowledge_object_wildcards(
    policy: iam.ManagedPolicy, buckets_and_prefixes: Iterable[tuple[s3.IBucket, str]]
) -> None:
    """Acknowledge AwsSolutions-IAM5 for exactly the prefix wildcards granted, finding by finding."""
    for bucket, prefix in buckets_and_prefixes:
        logical_id = logical_id_of(bucket)
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{prefix}*]",
                reason=WILDCARD_OBJECTS_REASON,
            )
        )


class ServiceFunction(Construct):
    """A function with its own role, its own customer-managed policy and its own encrypted log group."""

    def __init__(
        self,
        scope: Construct,
        spec: FunctionSpec,
        *,
        code: lambda_.Code,
        environment: dict[str, str],
        config: StageConfig,
        logs_key: kms.IKey,
        shared_policies: Sequence[iam.IManagedPolicy],
    ) -> None:
        super().__init__(scope, spec.construct_id)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{spec.construct_id}: only what this step needs",
            managed_policies=list(shared_policies),
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=config.log_retention,
            encryption_key=logs_key,
            removal_policy=config.removal_policy,
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                )
            ],
        )
        self.function = self._build_function(spec, code, environment)
        Validations.of(self.function).acknowledge(
            Acknowledgment(id="AwsSolutions-L1", reason=RUNTIME_REASON),
            Acknowledgment(id="Serverless-LambdaLatestVersion", reason=RUNTIME_REASON),
            Acknowledgment(id="HIPAA.Security-LambdaDLQ", reason=SYNC_INVOKE_REASON),
            Acknowledgment(id="Serverless-LambdaDLQ", reason=SYNC_INVOKE_REASON),
            Acknowledgment(id="HIPAA.Security-LambdaInsideVPC", reason=NO_VPC_REASON),
        )
        # Lambda validates the role (e.g. an SQS event source's permissions) when it creates the function.
        self.function.node.add_dependency(self.policy)

    def _build_function(
        self, spec: FunctionSpec, code: lambda_.Code, environment: dict[str, str]
    ) -> lambda_.Function:
        return lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=code,
            description=spec.description,
            timeout=spec.timeout,
            memory_size=spec.memory_mb,
            ephemeral_storage_size=Size.mebibytes(spec.ephemeral_storage_mb),
            reserved_concurrent_executions=spec.reserved_concurrency,
            environment=environment,
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role.without_policy_updates(),
            log_group=self.log_group,
        )

    def grant(self, statements: Iterable[iam.PolicyStatement]) -> None:
        """Add statements to this function's own policy."""
        for statement in statements:
            self.policy.add_statements(statement)

    def read_objects(self, bucket: s3.IBucket, prefixes: Sequence[str], key: kms.IKey) -> None:
        """Let the function read objects under `prefixes`."""
        self.grant(s3_read(bucket, prefixes, key))
        acknowledge_object_wildcards(self.policy, [(bucket, prefix) for prefix in prefixes])

    def write_objects(self, bucket: s3.IBucket, prefixes: Sequence[str], key: kms.IKey) -> None:
        """Let the function write objects under `prefixes`."""
        self.grant(s3_write(bucket, prefixes, key))
        acknowledge_object_wildcards(self.policy, [(bucket, prefix) for prefix in prefixes])

    def read_table(self, table: dynamodb.ITable, key: kms.IKey, gsi: str) -> None:
        """Let the function read the table and its GSI."""
        self.grant(table_read(table, key, gsi))

    def write_table(self, table: dynamodb.ITable, key: kms.IKey) -> None:
        """Let the function write the table."""
        self.grant(table_write(table, key))
