"""The run functions and one state machine per run kind, all from one ASL template.

The kinds are `shared.models.tables.RUN_KINDS`; each gets `payment_run.asl.json` with `${RunKind}` set
to its kind, so OpenRun refuses a request of another kind. Grants are least privilege per step and the
ledger is append-only by policy: run roles may only PutItem on it (the code adds the not-exists
condition), with an explicit deny of UpdateItem, DeleteItem and BatchWriteItem. Run records are written
only by the lifecycle steps (OpenRun, CloseRun, FailRun), and only items whose key starts `RUN#`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.common import (
    FunctionSpec,
    ServiceFunction,
    StageConfig,
)
from infra.constructs.distributed_map import distributed_map_machine
from infra.constructs.storage import Storage
from shared.models.tables import (
    APPROVALS_TABLE,
    GAPS_TABLE,
    LEDGER_TABLE,
    REGISTRY_TABLE,
    RUN_KINDS,
    Prefix,
    RunKindSpec,
)

STATE_MACHINES_DIR = Path(__file__).resolve().parents[1] / "state_machines"
DEFINITION_FILE = "payment_run.asl.json"
# EarnShard's reserved concurrency is the EarnShards map's `MaxConcurrency`, read from the definition, so the
# map never throttles itself and one edit changes both (tests/infra/test_payment_runs.py checks the template).
_STATES = json.loads((STATE_MACHINES_DIR / DEFINITION_FILE).read_text(encoding="utf-8"))["States"]
MAP_MAX_CONCURRENCY: int = _STATES["EarnShards"]["MaxConcurrency"]
PARTS_MAX_CONCURRENCY: int = _STATES["BuildParts"]["MaxConcurrency"]
"""BuildPart's reserved concurrency, likewise the BuildParts map's."""
RUN_RECORD_KEYS = ("RUN#*",)
LEDGER_FORBIDDEN = ("dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")


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
# Build part: a part is up to `PART_BYTES` of curated claims and rosters (about 100,000 members' 24 months),
# netted and attributed for a quarter's three months: measured 2.6 GB resident and 23 CPU seconds for such a
# part (docs/apc.md "Limits and scale"), so 6 GB leaves room for a bucket twice that size.
RUN_SPECS = (
    _run_spec("OpenRun", "Open, resume or reopen a payment run", minutes=1, memory_mb=512),
    _run_spec("PlanShards", "Split the run's members into shards", minutes=10, memory_mb=2048),
    _run_spec(
        "BuildPart",
        "Build one member-bucket part of a run's prepared work",
        minutes=15,
        memory_mb=6144,
        concurrency=PARTS_MAX_CONCURRENCY,
    ),
    _run_spec("EarnShard", "Earn one shard", minutes=5, memory_mb=2048, concurrency=MAP_MAX_CONCURRENCY),
    _run_spec("AggregateRun", "Sum the shard results", minutes=10, memory_mb=2048),
    _run_spec("RenderStatements", "Clinic statements and draft payment file", minutes=10, memory_mb=2048),
    _run_spec("CloseRun", "Close the run", minutes=1, memory_mb=512),
    _run_spec("FailRun", "Record a failed run", minutes=1, memory_mb=512),
)


def machine_id(spec: RunKindSpec) -> str:
    """The construct id (and logical id) of a kind's state machine, e.g. `MonthlyStateMachine`."""
    return f"{spec.kind.capitalize()}StateMachine"


GET, BATCH_GET, QUERY, CHECK = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
)
PUT, UPDATE, DELETE, BATCH_WRITE = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)


def ledger_deny(ledger: dynamodb.ITable) -> iam.PolicyStatement:
    """The ledger is append-only whatever else a role is granted: no update, delete or batch write."""
    return iam.PolicyStatement(
        effect=iam.Effect.DENY, actions=list(LEDGER_FORBIDDEN), resources=[ledger.table_arn]
    )


def _grants(storage: Storage) -> dict[str, Callable[[ServiceFunction], None]]:
    """Least privilege per run step: exactly the calls each makes, on which tables, prefixes and keys.
    `tests/local/test_iam_conformance.py` checks both ways: every call granted, every grant used."""
    curated, reports = storage.curated_bucket, storage.reports_bucket
    data_key, table_key = storage.data_key, storage.table_key
    gaps, ledger, registry, approvals = (
        storage.table(GAPS_TABLE),
        storage.table(LEDGER_TABLE),
        storage.table(REGISTRY_TABLE),
        storage.table(APPROVALS_TABLE),
    )

    def run_record(fn: ServiceFunction, *writes: str, index: tuple[str, ...] = ()) -> None:
        # Every step reads its run (and whether it is approved); only run records (`RUN#…`) may be written,
        # never the registry's file records, which are the ingest's.
        fn.use_table(registry, table_key, item=(GET, *writes), index=index, write_keys=RUN_RECORD_KEYS)
        fn.use_table(approvals, table_key, item=(GET,))

    def appends_ledger(fn: ServiceFunction, *reads: str, index: tuple[str, ...] = ()) -> None:
        fn.use_table(ledger, table_key, item=(*reads, PUT), index=index)
        fn.grant([ledger_deny(ledger)])

    def open_run(fn: ServiceFunction) -> None:
        # Runs and eligibility files are listed on the index; a recalculation reopens a run only if no
        # approval exists, checked in the same transaction.
        run_record(fn, PUT, UPDATE, index=(QUERY,))
        fn.use_table(approvals, table_key, item=(BATCH_GET, CHECK))
        fn.read_objects(curated, [Prefix.PROGRAMS], data_key)

    def plan_shards(fn: ServiceFunction) -> None:
        run_record(fn)
        fn.use_table(gaps, table_key, index=(QUERY,))  # clinics, then each clinic's members
        # A quarterly run reads the practices' technical-assistance engagement once, for its shards; it sizes
        # its attribution parts by listing the curated claims and rosters (ListBucket), reading none of them.
        fn.read_objects(curated, [Prefix.PROGRAMS, Prefix.TA_ENGAGEMENT], data_key)
        fn.write_objects(curated, [Prefix.RUNS], data_key)

    def build_part(fn: ServiceFunction) -> None:
        run_record(fn)
        fn.use_table(gaps, table_key, index=(QUERY,))  # the clinics' tracks and the providers
        # A quarterly run's part: its buckets' claims and rosters, into its buckets' attribution tables and
        # its share of the direct-services report (runs/<run>/direct-services/).
        rows = [Prefix.MEDICAL_CLAIMS_ROWS, Prefix.ELIGIBILITY_ROWS]
        fn.read_objects(curated, [Prefix.PROGRAMS, *rows], data_key)
        fn.write_objects(curated, [Prefix.ATTRIBUTION, Prefix.RUNS], data_key)

    def earn_shard(fn: ServiceFunction) -> None:
        # The registry rows' explanations say whether the year's runs are closed: the runs are listed on
        # the index, with their approvals.
        run_record(fn, index=(QUERY,))
        fn.use_table(approvals, table_key, item=(BATCH_GET,))
        # Members' profiles in batches, their evidence and payment history by query; gaps, history copies
        # and digests written back in batches.
        fn.use_table(gaps, table_key, item=(BATCH_GET, QUERY, BATCH_WRITE), index=(QUERY,))
        appends_ledger(fn, BATCH_GET)  # a preview asks which entries exist
        # A quarterly shard reads its members' attributed practices.
        fn.read_objects(curated, [Prefix.RUNS, Prefix.PROGRAMS, Prefix.ATTRIBUTION], data_key)
        fn.write_objects(curated, [Prefix.RUNS], data_key)

    def aggregate_run(fn: ServiceFunction) -> None:
        # Carries a clinic's negative month forward as balance entries; finds the previous run's on the index.
        run_record(fn, index=(QUERY,))
        fn.use_table(approvals, table_key, item=(BATCH_GET,))
        # A phased month's participation and reporting payments have deterministic ids: which exist is
        # asked in batches, each one found is read (a rerun pays nothing twice, onboarding once).
        appends_ledger(fn, GET, BATCH_GET, index=(QUERY,))
        fn.use_table(gaps, table_key, index=(QUERY,))  # the clinics an annual run pays
        # The year's monthly earnings and the prior year's rates; a final annual run keeps its rates; the
        # engagement rows that say when a clinic's onboarding was complete.
        fn.read_objects(curated, [Prefix.RUNS, Prefix.PROGRAMS, Prefix.TA_ENGAGEMENT], data_key)
        fn.write_objects(curated, [Prefix.RUNS], data_key)
        fn.write_objects(reports, [Prefix.RUNS, Prefix.PREVIEWS], data_key)  # summary.json

    def render_statements(fn: ServiceFunction) -> None:
        # The pages list the year's runs (with their approvals) and the file log's drops on the index.
        run_record(fn, index=(QUERY,))
        fn.use_table(approvals, table_key, item=(BATCH_GET,))
        # The clinics; no member: the pages' registry and projection come from the shards' page facts.
        fn.use_table(gaps, table_key, index=(QUERY,))
        fn.read_objects(curated, [Prefix.RUNS, Prefix.PROGRAMS], data_key)
        fn.read_objects(reports, [Prefix.RUNS], data_key)  # the year's closed runs' summaries
        # Statements for review, the draft payment file, reports and pages; never payments/.
        fn.write_objects(reports, [Prefix.STATEMENTS, Prefix.RUNS, Prefix.PREVIEWS, Prefix.PAGES], data_key)

    def close_run(fn: ServiceFunction) -> None:
        # Reconciles the run's ledger entries (by run, on the index) with the draft it rendered.
        run_record(fn, UPDATE)
        fn.use_table(ledger, table_key, index=(QUERY,))
        fn.read_objects(curated, [Prefix.RUNS, Prefix.PROGRAMS], data_key)
        fn.read_objects(reports, [Prefix.RUNS, Prefix.PREVIEWS], data_key)

    def fail_run(fn: ServiceFunction) -> None:
        run_record(fn, UPDATE)
        fn.read_objects(curated, [Prefix.PROGRAMS], data_key)

    return {
        "OpenRun": open_run,
        "PlanShards": plan_shards,
        "BuildPart": build_part,
        "EarnShard": earn_shard,
        "AggregateRun": aggregate_run,
        "RenderStatements": render_statements,
        "CloseRun": close_run,
        "FailRun": fail_run,
    }


class PaymentRuns(Construct):
    """Eight run functions, each with its own role, and one state machine per run kind."""

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
            spec.kind: self._build_state_machine(spec, [*shared_policies, log_delivery_policy])
            for spec in RUN_KINDS
        }

    def machine_name(self, spec: RunKindSpec) -> str:
        """`<project>-<stage>-<suffix>`: fixed, so the role can name its own child executions."""
        return f"{self._config.project}-{self._config.stage}-{spec.machine_suffix}"

    def _build_state_machine(
        self, spec: RunKindSpec, shared_policies: list[iam.IManagedPolicy]
    ) -> sfn.StateMachine:
        construct_id = machine_id(spec)
        substitutions = {
            f"{fn_id}FunctionArn": fn.function.function_arn for fn_id, fn in self.functions.items()
        } | {"RunKind": spec.kind}
        return distributed_map_machine(
            Construct(self, construct_id.removesuffix("StateMachine")),
            storage=self._storage,
            config=self._config,
            name=self.machine_name(spec),
            logical_id=construct_id,
            comment=spec.description,
            definition=(STATE_MACHINES_DIR / DEFINITION_FILE).read_text(encoding="utf-8"),
            substitutions=substitutions,
            function_arns=[fn.function.function_arn for fn in self.functions.values()],
            shared_policies=shared_policies,
            item_prefix=Prefix.RUNS,
            item_reason="The Distributed Map's ItemReader reads shard manifests, kept under runs/<run_id>/.",
        )
