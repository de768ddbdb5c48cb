"""The fan-out of a file too large for one ingest function (docs/ingest.md, "Fan-out"): SplitFile cuts it
into member-hash shards, a Distributed Map runs IngestShard on each, FinishFile adds them into the file's
one manifest, FailFile ends it FAILED when a step keeps failing. Each function has its own least-privilege
role; like the ingest function's, none may write run records."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Duration
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
from shared.models.tables import GAPS_TABLE, REGISTRY_TABLE, Prefix

DEFINITION = Path(__file__).resolve().parents[1] / "state_machines" / "ingest_fan_out.asl.json"
MACHINE_ID = "IngestFanOutStateMachine"
SHARDS_MAX_CONCURRENCY: int = json.loads(DEFINITION.read_text(encoding="utf-8"))["States"]["IngestShards"][
    "MaxConcurrency"
]
"""IngestShard's reserved concurrency, read from the shards map's MaxConcurrency so the map never throttles
itself. DynamoDB's default 40,000 write units a second per table bound it (docs/cost.md)."""
FILE_RECORD_KEYS = ("FILE#*",)


def _spec(
    name: str, handler: str, description: str, *, minutes: int, memory_mb: int, disk_mb: int, concurrency: int
) -> FunctionSpec:
    return FunctionSpec(
        construct_id=name,
        handler=f"functions.ingest.fan_out.{handler}",
        description=description,
        timeout=Duration.minutes(minutes),
        memory_mb=memory_mb,
        reserved_concurrency=concurrency,
        ephemeral_storage_mb=disk_mb,
    )


# SplitFile streams the whole file once and stages its shards on local disk (about 1.2 GB per 10M claim
# lines): Lambda's full 10 GB of it. A shard is about a million lines: an ingest function's work.
FAN_OUT_SPECS = (
    _spec(
        "SplitFile",
        "split",
        "Cut a large landed file into member-hash shards",
        minutes=15,
        memory_mb=10240,
        disk_mb=10240,
        concurrency=5,
    ),
    _spec(
        "IngestShard",
        "shard",
        "Ingest one shard of a large file",
        minutes=15,
        memory_mb=10240,
        disk_mb=4096,
        concurrency=SHARDS_MAX_CONCURRENCY,
    ),
    _spec(
        "FinishFile",
        "finish",
        "Add a large file's shards into its manifest",
        minutes=15,
        memory_mb=2048,
        disk_mb=4096,
        concurrency=5,
    ),
    _spec(
        "FailFile",
        "fail",
        "Record a large file that failed",
        minutes=1,
        memory_mb=512,
        disk_mb=512,
        concurrency=5,
    ),
)


class IngestFanOut(Construct):
    """Four functions and the fan-out state machine."""

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
        self.functions: dict[str, ServiceFunction] = {}
        for spec in FAN_OUT_SPECS:
            self.functions[spec.construct_id] = ServiceFunction(
                self,
                spec,
                code=code,
                environment=environment,
                config=config,
                logs_key=storage.messaging_key,
                shared_policies=shared_policies,
            )
        self._grant()
        self.machine_name = f"{config.project}-{config.stage}-ingest-fan-out"
        self.state_machine = self._build_state_machine([*shared_policies, log_delivery_policy])

    def _grant(self) -> None:
        storage = self._storage
        landing, curated, reports = storage.landing_bucket, storage.curated_bucket, storage.reports_bucket
        data_key, table_key = storage.data_key, storage.table_key
        registry, gaps = storage.table(REGISTRY_TABLE), storage.table(GAPS_TABLE)
        file_records = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        split, shard = self.functions["SplitFile"], self.functions["IngestShard"]
        finish, fail = self.functions["FinishFile"], self.functions["FailFile"]
        for fn in (split, shard, finish, fail):
            fn.read_objects(curated, [Prefix.PROGRAMS], data_key)  # the program catalog, at start
        # The split reads the landed file, quarantines a whole-file problem (a copy, its rejects and
        # manifest), claims the content in the registry and stages the shards.
        split.read_objects(landing, [Prefix.LANDING], data_key)
        split.write_objects(landing, [Prefix.QUARANTINE], data_key)
        split.write_objects(curated, [Prefix.STAGING], data_key)
        split.write_objects(reports, [Prefix.MANIFESTS, Prefix.REJECTS], data_key)
        split.use_table(registry, table_key, item=file_records, write_keys=FILE_RECORD_KEYS)
        # A shard: its staged rows and plan; its curated rows, evidence log, rejects and result; the gap
        # state as the ingest function applies it (packed evidence, claim versions, rosters; never clinics,
        # whose kind is not cut, so no read on the index).
        shard.read_objects(curated, [Prefix.STAGING], data_key)
        shard.write_objects(curated, [Prefix.CURATED, Prefix.EVIDENCE, Prefix.STAGING], data_key)
        shard.use_table(
            gaps,
            table_key,
            item=("dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"),
        )
        # The finish: the plan and the shards' results and rejects; the file's manifest and report, and
        # its records.
        finish.read_objects(curated, [Prefix.STAGING], data_key)
        finish.write_objects(reports, [Prefix.MANIFESTS, Prefix.REJECTS], data_key)
        finish.use_table(registry, table_key, item=file_records, write_keys=FILE_RECORD_KEYS)
        fail.write_objects(reports, [Prefix.MANIFESTS], data_key)
        fail.use_table(registry, table_key, item=file_records, write_keys=FILE_RECORD_KEYS)

    def _build_state_machine(self, shared_policies: list[iam.IManagedPolicy]) -> sfn.StateMachine:
        return distributed_map_machine(
            Construct(self, "FanOut"),
            storage=self._storage,
            config=self._config,
            name=self.machine_name,
            logical_id=MACHINE_ID,
            comment="Ingest a file too large for one function, in member-hash shards",
            definition=DEFINITION.read_text(encoding="utf-8"),
            substitutions={
                f"{name}FunctionArn": fn.function.function_arn for name, fn in self.functions.items()
            },
            function_arns=[fn.function.function_arn for fn in self.functions.values()],
            shared_policies=shared_policies,
            item_prefix=Prefix.STAGING,
            item_reason="The Distributed Map's ItemReader reads the shard list, under staging/<file_id>/.",
        )

    def let_start(self, fn: ServiceFunction) -> None:
        """Let `fn` (the ingest function) start the fan-out, and tell it which machine."""
        fn.grant(
            [
                iam.PolicyStatement(
                    actions=["states:StartExecution"], resources=[self.state_machine.state_machine_arn]
                )
            ]
        )
