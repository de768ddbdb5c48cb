"""The run functions and the two run state machines (monthly SVU, annual incentive)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Acknowledgment, ArnFormat, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.common import FunctionSpec, ServiceFunction, StageConfig, logical_id_of
from infra.constructs.storage import Storage
from shared.models.tables import GAPS_TABLE, LEDGER_TABLE, REGISTRY_TABLE, Prefix, TableSpec

STATE_MACHINES_DIR = Path(__file__).resolve().parents[1] / "state_machines"
MAP_MAX_CONCURRENCY = 50  # the `MaxConcurrency` of the EarnShards map in both definitions


def _run_spec(
    name: str, description: str, *, minutes: int, memory_mb: int, concurrency: int = 5
) -> FunctionSpec:
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return FunctionSpec(
        construct_id=name,
        handler=f"functions.runs.{snake}.handler",
        description=description,
        timeout=Duration.minutes(minutes),
        memory_mb=memory_mb,
        reserved_concurrency=concurrency,
    )


# Earn shard: a shard is a few thousand members' gaps and claims; minutes, not the full 15, so a stuck shard
# surfaces quickly and is retried. Its concurrency matches the Map's so the map never throttles itself.
RUN_SPECS = (
    _run_spec("OpenRun", "Open or resume a payment run", minutes=1, memory_mb=512),
    _run_spec("PlanShards", "Split the run's members into shards", minutes=10, memory_mb=2048),
    _run_spec("EarnShard", "Earn one shard", minutes=5, memory_mb=2048, concurrency=MAP_MAX_CONCURRENCY),
    _run_spec("AggregateRun", "Sum the shard results", minutes=10, memory_mb=2048),
    _run_spec("RenderStatements", "Clinic statements and payment file", minutes=10, memory_mb=2048),
    _run_spec("CloseRun", "Close the run", minutes=1, memory_mb=512),
    _run_spec("FailRun", "Record a failed run", minutes=1, memory_mb=512),
)


@dataclass(frozen=True)
class MachineSpec:
    construct_id: str
    definition_file: str
    name_suffix: str
    output_key: str


MACHINES = (
    MachineSpec("MonthlyStateMachine", "monthly_svu.asl.json", "monthly-svu", "MonthlyStateMachineArn"),
    MachineSpec(
        "AnnualStateMachine", "annual_incentive.asl.json", "annual-incentive", "AnnualStateMachineArn"
    ),
)


def _grants(storage: Storage) -> dict[str, Callable[[ServiceFunction], None]]:
    """Least privilege per run step: which prefixes and tables each one reads or writes."""
    curated, reports = storage.curated_bucket, storage.reports_bucket
    data_key, table_key = storage.data_key, storage.table_key
    gaps, ledger, registry = GAPS_TABLE, LEDGER_TABLE, REGISTRY_TABLE

    def reads(fn: ServiceFunction, *specs: TableSpec) -> None:
        for spec in specs:
            fn.read_table(storage.table(spec), table_key, spec.gsi_name)

    def writes(fn: ServiceFunction, *specs: TableSpec) -> None:
        for spec in specs:
            fn.write_table(storage.table(spec), table_key)

    def open_run(fn: ServiceFunction) -> None:
        reads(fn, registry)
        writes(fn, registry)
        fn.read_objects(curated, [Prefix.PROGRAMS], data_key)

    def plan_shards(fn: ServiceFunction) -> None:
        reads(fn, registry, gaps)
        fn.read_objects(curated, [Prefix.CURATED, Prefix.PROGRAMS], data_key)
        fn.write_objects(curated, [Prefix.RUNS], data_key)

    def earn_shard(fn: ServiceFunction) -> None:
        reads(fn, registry, gaps, ledger)
        writes(fn, gaps, ledger)
        fn.read_objects(curated, [Prefix.RUNS, Prefix.CURATED, Prefix.EVIDENCE, Prefix.PROGRAMS], data_key)
        fn.write_objects(curated, [Prefix.RUNS], data_key)

    # Every run function builds the run service, which loads the program versions under programs/.
    def aggregate_run(fn: ServiceFunction) -> None:
        # Writes the ledger too: a clinic's negative month is carried forward as balance entries.
        reads(fn, registry, ledger)
        writes(fn, registry, ledger)
        fn.read_objects(curated, [Prefix.RUNS, Prefix.PROGRAMS], data_key)
        fn.write_objects(curated, [Prefix.RUNS], data_key)
        fn.write_objects(reports, [Prefix.RUNS], data_key)  # runs/<run_id>/summary.json

    def render_statements(fn: ServiceFunction) -> None:
        reads(fn, registry, ledger, gaps)
        fn.read_objects(curated, [Prefix.RUNS, Prefix.CURATED, Prefix.PROGRAMS], data_key)
        fn.write_objects(reports, [Prefix.STATEMENTS, Prefix.PAYMENTS, Prefix.RUNS], data_key)

    def close_run(fn: ServiceFunction) -> None:
        # Reconciles the run's ledger entries (by run, on the index) with the payment file it rendered.
        reads(fn, registry, ledger)
        writes(fn, registry)
        fn.read_objects(curated, [Prefix.RUNS, Prefix.PROGRAMS], data_key)
        fn.read_objects(reports, [Prefix.PAYMENTS], data_key)
        fn.write_objects(reports, [Prefix.RUNS], data_key)

    def fail_run(fn: ServiceFunction) -> None:
        reads(fn, registry)
        writes(fn, registry)
        fn.read_objects(curated, [Prefix.PROGRAMS], data_key)
        fn.write_objects(reports, [Prefix.RUNS], data_key)

    return {
        "OpenRun": open_run,
        "PlanShards": plan_shards,
        "EarnShard": earn_shard,
        "AggregateRun": aggregate_run,
        "RenderStatements": render_statements,
        "CloseRun": close_run,
        "FailRun": fail_run,
    }


class PaymentRuns(Construct):
    """Seven run functions, each with its own role, and the state machines that drive them."""

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
        log_delivery_policy: iam.IManagedPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        self._config = config
        grants = _grants(storage)
        self.functions: dict[str, ServiceFunction] = {}
        for spec in RUN_SPECS:
            fn = ServiceFunction(
                self,
                spec,
                code=code,
                environment=environment,
                config=config,
                logs_key=storage.messaging_key,
                shared_policies=shared_policies,
            )
            grants[spec.construct_id](fn)
            self.functions[spec.construct_id] = fn
        self.state_machines: dict[str, sfn.StateMachine] = {
            spec.construct_id: self._build_state_machine(spec, [*shared_policies, log_delivery_policy])
            for spec in MACHINES
        }

    def _build_state_machine(
        self, spec: MachineSpec, shared_policies: list[iam.IManagedPolicy]
    ) -> sfn.StateMachine:
        scope = Construct(self, spec.construct_id.removesuffix("StateMachine"))
        # A fixed name lets the role name its own executions (Distributed Map children) without a cycle.
        name = f"{self._config.project}-{self._config.stage}-{spec.name_suffix}"
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            managed_policies=shared_policies,
        )
        policy = iam.ManagedPolicy(scope, "Policy", roles=[role], statements=self._machine_statements(name))
        self._acknowledge_machine_policy(policy, name)
        log_group = logs.LogGroup(
            scope,
            "Logs",
            retention=self._config.log_retention,
            encryption_key=self._storage.messaging_key,
            removal_policy=self._config.removal_policy,
        )
        machine = sfn.StateMachine(
            scope,
            "StateMachine",
            state_machine_name=name,
            # The file's text rather than `from_file`, which would stage it as an S3 asset: an inline
            # DefinitionString keeps the template self-contained for cfn-lint and the local runtime.
            definition_body=sfn.DefinitionBody.from_string(
                (STATE_MACHINES_DIR / spec.definition_file).read_text(encoding="utf-8")
            ),
            definition_substitutions={
                f"{fn_id}FunctionArn": fn.function.function_arn for fn_id, fn in self.functions.items()
            },
            role=role.without_policy_updates(),
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
            state_machine_type=sfn.StateMachineType.STANDARD,
        )
        # Step Functions checks log delivery and invoke permissions when it creates the machine.
        machine.node.add_dependency(policy)
        machine.node.default_child.override_logical_id(spec.construct_id)  # type: ignore[union-attr]
        return machine

    def _machine_statements(self, name: str) -> list[iam.PolicyStatement]:
        stack = Stack.of(self)
        machine_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        executions_arn = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{name}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        curated = self._storage.curated_bucket
        return [
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[fn.function.function_arn for fn in self.functions.values()],
            ),
            # Distributed Map: the machine starts and watches its own child executions.
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[machine_arn]),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"], resources=[executions_arn]
            ),
            # The ItemReader reads the shard manifest from the curated bucket.
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[curated.arn_for_objects(f"{Prefix.RUNS}*")]
            ),
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self._storage.data_key.key_arn]),
        ]

    def _acknowledge_machine_policy(self, policy: iam.ManagedPolicy, name: str) -> None:
        curated_id = logical_id_of(self._storage.curated_bucket)
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{curated_id}.Arn>/{Prefix.RUNS}*]",
                reason="The Distributed Map's ItemReader reads shard manifests, kept under runs/<run_id>/.",
            ),
            Acknowledgment(
                id=(
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>"
                    f":execution:{name}/*]"
                ),
                reason="Distributed Map child executions are named by Step Functions; scoped to this machine",
            ),
        )
