"""What every construct shares: stage settings, the Lambda runtime, and least-privilege statement builders.

Roles here are handed to CDK as immutable (`without_policy_updates`) so that no L2 `grant_*` call can widen
them behind our back: each function's permissions are exactly the statements of its own customer-managed
policy, which the infrastructure tests can read in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Size, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from shared.models.tables import MEMBER_BUCKETS, BucketCountError, checked_count

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


# How long the ledger's backups, statements' old versions, payment files and the audit logs are kept, per
# stage (CDK context `retention_days`). Seven years in prod; a plan under a longer rule (Medicare Advantage
# contracts keep records ten years) deploys with `-c retention_days=3653`.
DEFAULT_RETENTION_DAYS = {"dev": 30, "prod": 2557}
# CDK context `plan_id`: the deploying plan, the payer of every ledger entry a file names no payer for.
DEFAULT_PLAN_ID = "plan"
# CDK context `member_buckets`: how many member buckets curated claims, rosters and attribution tables are
# filed in, about one per 100,000 members (shared/logic/member_buckets.py); MEMBER_BUCKETS (128) by default.
# CDK context `member_id_pattern`: the plan's member-id shape, masked wherever it turns up in a log. The
# default matches this repository's generated members (`SYN` and eight digits, see cli/generate/members.py).
DEFAULT_MEMBER_ID_PATTERN = r"SYN\d{8}"
# CloudWatch Logs accepts these characters in a custom data identifier's regex, at most 200 of them
# (CWL-custom-data-identifiers.html): no parentheses, quotes or colons.
_CUSTOM_REGEX_CHARS = re.compile(r"[A-Za-z0-9_#=@/;,\- ^$?\[\]{}|\\*+.]{1,200}")
# The retentions CloudWatch Logs accepts, in days.
_LOG_RETENTIONS = (
    (1, logs.RetentionDays.ONE_DAY),
    (3, logs.RetentionDays.THREE_DAYS),
    (5, logs.RetentionDays.FIVE_DAYS),
    (7, logs.RetentionDays.ONE_WEEK),
    (14, logs.RetentionDays.TWO_WEEKS),
    (30, logs.RetentionDays.ONE_MONTH),
    (60, logs.RetentionDays.TWO_MONTHS),
    (90, logs.RetentionDays.THREE_MONTHS),
    (120, logs.RetentionDays.FOUR_MONTHS),
    (150, logs.RetentionDays.FIVE_MONTHS),
    (180, logs.RetentionDays.SIX_MONTHS),
    (365, logs.RetentionDays.ONE_YEAR),
    (400, logs.RetentionDays.THIRTEEN_MONTHS),
    (545, logs.RetentionDays.EIGHTEEN_MONTHS),
    (731, logs.RetentionDays.TWO_YEARS),
    (1096, logs.RetentionDays.THREE_YEARS),
    (1827, logs.RetentionDays.FIVE_YEARS),
    (2192, logs.RetentionDays.SIX_YEARS),
    (2557, logs.RetentionDays.SEVEN_YEARS),
    (2922, logs.RetentionDays.EIGHT_YEARS),
    (3288, logs.RetentionDays.NINE_YEARS),
    (3653, logs.RetentionDays.TEN_YEARS),
)


def check_custom_identifier_regex(name: str, regex: str) -> str:
    """`regex` if CloudWatch Logs takes it as a custom data identifier; else a ValueError naming `name`."""
    if not _CUSTOM_REGEX_CHARS.fullmatch(regex):
        raise ValueError(
            f"{name} {regex!r}: CloudWatch Logs takes at most 200 characters of A-Z a-z 0-9 _#=@/;,- "
            "and space, and the regex characters ^$?[]{}|\\*+. (no parentheses, quotes or colons)"
        )
    try:
        re.compile(regex)
    except re.error as error:
        raise ValueError(f"{name} {regex!r} is not a regular expression: {error}") from error
    return regex


@dataclass(frozen=True)
class StageConfig:
    """Settings that differ between a throwaway dev stack and production."""

    stage: str
    project: str
    retention_days: int
    member_id_pattern: str = DEFAULT_MEMBER_ID_PATTERN
    plan_id: str = DEFAULT_PLAN_ID
    member_buckets: int = MEMBER_BUCKETS

    def __post_init__(self) -> None:
        if self.retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, got {self.retention_days}")
        check_custom_identifier_regex("member_id_pattern", self.member_id_pattern)
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.plan_id):
            raise ValueError(f"plan_id must be 1-64 letters, digits, '_', '.' or '-', got {self.plan_id!r}")
        try:
            checked_count(self.member_buckets)
        except BucketCountError as error:
            raise ValueError(f"member_buckets: {error}") from None

    @classmethod
    def from_context(cls, stage: str, project: str, context: Callable[[str], Any]) -> StageConfig:
        """The stage's settings from CDK context (`context` is `node.try_get_context`).

        `retention_days` is either one number (`-c retention_days=3653`) or a mapping by stage (cdk.json);
        without either, the stage's default applies.
        """
        retention = context("retention_days")
        if isinstance(retention, Mapping):
            retention = retention.get(stage)
        pattern = context("member_id_pattern")
        plan = context("plan_id")
        buckets = context("member_buckets")
        return cls(
            stage=stage,
            project=project,
            retention_days=int(retention) if retention is not None else DEFAULT_RETENTION_DAYS[stage],
            member_id_pattern=str(pattern) if pattern else DEFAULT_MEMBER_ID_PATTERN,
            plan_id=str(plan) if plan else DEFAULT_PLAN_ID,
            member_buckets=int(buckets) if buckets is not None else MEMBER_BUCKETS,
        )

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.is_prod else RemovalPolicy.DESTROY

    @property
    def retention(self) -> Duration:
        """The stage's retention for records (backups, object versions, locks, log objects)."""
        return Duration.days(self.retention_days)

    @property
    def log_retention(self) -> logs.RetentionDays:
        """The shortest CloudWatch Logs retention that keeps log events at least `retention_days`."""
        for days, retention in _LOG_RETENTIONS:
            if days >= self.retention_days:
                return retention
        return logs.RetentionDays.INFINITE


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
        # Single PUTs only (payloads are far below 5 GB): no multipart upload to abort.
        iam.PolicyStatement(actions=["s3:PutObject"], resources=object_arns(bucket, prefixes)),
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], resources=[key.key_arn]
        ),
    ]


READS = frozenset(
    {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"}
)


def table_statements(
    table: dynamodb.ITable,
    key: kms.IKey,
    *,
    item: Sequence[str] = (),
    index: Sequence[str] = (),
    gsi: str = "gsi1",
    write_keys: Sequence[str] | None = None,
) -> list[iam.PolicyStatement]:
    """Exactly the DynamoDB actions a function makes: `item` on the table, `index` on its GSI. Writes
    (anything but a read or a condition check) can be held to items whose partition key matches one of
    `write_keys` (`dynamodb:LeadingKeys`), so one role cannot write another's records in a shared table."""
    reads = [a for a in item if a in READS]
    writes = [a for a in item if a not in READS]
    statements = []
    if reads:
        statements.append(iam.PolicyStatement(actions=reads, resources=[table.table_arn]))
    if writes:
        conditions = (
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(write_keys)}} if write_keys else None
        )
        statements.append(
            iam.PolicyStatement(actions=writes, resources=[table.table_arn], conditions=conditions)
        )
    if index:
        statements.append(
            iam.PolicyStatement(actions=list(index), resources=[f"{table.table_arn}/index/{gsi}"])
        )
    # DynamoDB uses the table's key on the caller's behalf.
    kms_actions = ["kms:Decrypt", "kms:DescribeKey"] + (
        ["kms:Encrypt", "kms:GenerateDataKey"] if writes else []
    )
    statements.append(iam.PolicyStatement(actions=kms_actions, resources=[key.key_arn]))
    return statements


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


# The managed identifiers that fit a health plan's member data, as CloudWatch Logs names them. Handlers log
# ids and counts, never member data; these mask what slips through (an exception echoing a row, a library's
# debug line) and report it to the findings log group.
#   NAME, ADDRESS, ZIPCODE_US: who and where a member is (rosters, FHIR Patient, the HPI geography).
#   SSN_US, DRIVERSLICENSE_US, PASSPORTNUMBER_US: identity numbers plans keep for matching members.
#   PHONENUMBER_US, EMAILADDRESS: contact details in rosters, attestations and outreach files.
#   MEDICAREBENEFICIARYNUMBER_US, HEALTHINSURANCECLAIMNUMBER_US: the MBI and the older HICN that dual-eligible
#     members' claims and eligibility rows carry.
# Left out on purpose: NATIONALPROVIDERID_US and DRUGENFORCEMENTAGENCYNUMBER_US (public provider ids that run
# logs and statements name), HEALTHCAREPROCEDURECODE_US and NATIONALDRUGCODE_US (the programs' code sets:
# alone they identify nobody, and masking them would blank every measure's log line), IPADDRESS (operators'
# addresses in API access logs are the security review's evidence, not member data), and the financial,
# credential and non-US identifiers (no such data flows through this engine).
# No managed identifier finds a date of birth, and masking every date would hide run periods: the custom
# BirthDate identifier masks a date only next to a birth-date key (birth_date, birthDate, DOB).
PHI_IDENTIFIERS = (
    logs.DataIdentifier.NAME,
    logs.DataIdentifier.ADDRESS,
    logs.DataIdentifier.ZIPCODE_US,
    logs.DataIdentifier.SSN_US,
    logs.DataIdentifier.DRIVERSLICENSE_US,
    logs.DataIdentifier.PASSPORTNUMBER_US,
    logs.DataIdentifier.PHONENUMBER_US,
    logs.DataIdentifier.EMAILADDRESS,
    logs.DataIdentifier.MEDICAREBENEFICIARYNUMBER_US,
    logs.DataIdentifier.HEALTHINSURANCECLAIMNUMBER_US,
)
MEMBER_ID_IDENTIFIER = "MemberId"
BIRTH_DATE_IDENTIFIER = "BirthDate"
BIRTH_DATE_REGEX = r"[Bb]irth[_ -]?[Dd]ate\W{1,4}\d[\d/-]{7,9}|[Dd][Oo][Bb]\W{1,4}\d[\d/-]{7,9}"
PHI_FINDINGS_ID = "PhiFindings"


def custom_identifiers(config: StageConfig) -> list[logs.CustomDataIdentifier]:
    """The plan's member ids (context `member_id_pattern`) and keyed dates of birth."""
    return [
        logs.CustomDataIdentifier(MEMBER_ID_IDENTIFIER, config.member_id_pattern),
        logs.CustomDataIdentifier(
            BIRTH_DATE_IDENTIFIER, check_custom_identifier_regex(BIRTH_DATE_IDENTIFIER, BIRTH_DATE_REGEX)
        ),
    ]


def data_protection_policy(
    config: StageConfig, *, findings: logs.ILogGroup | None
) -> logs.DataProtectionPolicy:
    """Mask member data in a log group; report each finding (offsets only, never the data) to `findings`."""
    return logs.DataProtectionPolicy(
        name=f"{config.project}-{config.stage}-phi",
        description="Mask member identifiers and contact data that reach the logs",
        identifiers=[*PHI_IDENTIFIERS, *custom_identifiers(config)],
        log_group_audit_destination=findings,
    )


class _FindingsLogGroup(logs.LogGroup):
    def __init__(self, scope: Construct, *, config: StageConfig, key: kms.IKey) -> None:
        # Masks too (a finding holds offsets, not data), but audits nowhere: auditing into itself is a cycle.
        super().__init__(
            scope,
            PHI_FINDINGS_ID,
            retention=config.log_retention,
            encryption_key=key,
            removal_policy=config.removal_policy,
            data_protection_policy=data_protection_policy(config, findings=None),
        )
        self.key = key
        self.node.default_child.override_logical_id(PHI_FINDINGS_ID)  # type: ignore[union-attr]


def phi_findings_log_group(scope: Construct, *, config: StageConfig, key: kms.IKey) -> logs.LogGroup:
    """The stack's one log group of data-protection findings, created by the first log group that needs it."""
    stack = Stack.of(scope)
    found = stack.node.try_find_child(PHI_FINDINGS_ID)
    if found is None:
        return _FindingsLogGroup(stack, config=config, key=key)
    if not isinstance(found, _FindingsLogGroup) or found.key is not key:
        raise ValueError(f"{PHI_FINDINGS_ID} exists with another key: every log group uses the messaging key")
    return found


def protected_log_group(
    scope: Construct, construct_id: str, *, config: StageConfig, key: kms.IKey
) -> logs.LogGroup:
    """A log group encrypted with `key`, kept for the stage's retention, that masks member data.

    Every log group of the stack is built here (functions, state machines, API access logs), so each one
    carries the same data-protection policy and reports to the same findings log group.
    """
    findings = phi_findings_log_group(scope, config=config, key=key)
    return logs.LogGroup(
        scope,
        construct_id,
        retention=config.log_retention,
        encryption_key=key,
        removal_policy=config.removal_policy,
        data_protection_policy=data_protection_policy(config, findings=findings),
    )


class ServiceFunction(Construct):
    """A function with its own role, its own customer-managed policy and its own protected log group."""

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
        self.log_group = protected_log_group(self, "Logs", config=config, key=logs_key)
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

    def use_table(
        self,
        table: dynamodb.ITable,
        key: kms.IKey,
        *,
        item: Sequence[str] = (),
        index: Sequence[str] = (),
        write_keys: Sequence[str] | None = None,
    ) -> None:
        """Let the function make exactly these calls on the table (`item`) and its GSI (`index`)."""
        self.grant(table_statements(table, key, item=item, index=index, write_keys=write_keys))
