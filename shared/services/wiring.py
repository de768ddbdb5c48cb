"""Builds services from settings with the DynamoDB/S3 implementations (used by handlers and the CLI)."""

from __future__ import annotations

import hashlib

from shared.dal.claim_versions import DynamoClaimVersionRepository
from shared.dal.clients import dynamodb_client, s3_client, stepfunctions_client
from shared.dal.errors import AlreadyRecordedError
from shared.dal.executions import StepFunctionsExecutions
from shared.dal.files import DynamoFileLog, DynamoFileRegistry
from shared.dal.gap_state import DynamoGapStateRepository
from shared.dal.ledger import DynamoLedgerRepository
from shared.dal.objects import ObjectStore, S3ObjectStore
from shared.dal.runs import DynamoRunRegistry
from shared.intake.source import MAX_FILE_BYTES
from shared.models.fanout import FanOutRequest
from shared.models.settings import IngestSettings, OperatorSettings, RunSettings
from shared.observability import logger
from shared.programs.care_gap import ProgramCatalog
from shared.programs.catalog import load_programs
from shared.programs.stored import StoredPrograms
from shared.services.ingest import FanOutStarter, IngestService
from shared.services.lifecycle import RunLifecycle
from shared.services.runs import RunService


def stored_programs(store: ObjectStore, curated_bucket: str) -> StoredPrograms:
    """The packaged program versions plus those dropped under the curated bucket's `programs/<program>/`,
    validated at load and re-checked while the container lives (`shared/programs/stored.py`)."""
    return StoredPrograms(store, curated_bucket, base=load_programs())


def program_catalog(store: ObjectStore, curated_bucket: str) -> ProgramCatalog:
    """The Care Gap catalog of `stored_programs`."""
    return stored_programs(store, curated_bucket).care_gap


def build_ingest_service(settings: IngestSettings) -> IngestService:
    """An IngestService on the deployment's buckets and tables."""
    db = dynamodb_client()
    store = S3ObjectStore(s3_client())
    return IngestService(
        store=store,
        files=DynamoFileRegistry(db, settings.registry_table),
        gaps=DynamoGapStateRepository(db, settings.gaps_table),
        catalog=program_catalog(store, settings.curated_bucket),
        curated_bucket=settings.curated_bucket,
        reports_bucket=settings.reports_bucket,
        versions=DynamoClaimVersionRepository(
            db, settings.gaps_table, readers=settings.claim_version_readers
        ),
        log=DynamoFileLog(db, settings.registry_table),
        member_buckets=settings.member_buckets,
        max_file_bytes=settings.max_file_bytes or MAX_FILE_BYTES,
        fan_out=_fan_out_starter(settings.fan_out_state_machine_arn),
        workers=settings.ingest_workers,
    )


def _fan_out_starter(machine_arn: str | None) -> FanOutStarter | None:
    """Starts the fan-out state machine on a landed object. The execution is named by the bucket, key and
    delivery (the SQS message): the same message delivered again is the same execution, a new object at
    the key (a new notification) a new one."""
    if machine_arn is None:
        return None
    executions = StepFunctionsExecutions(stepfunctions_client())

    def start(bucket: str, key: str, delivery: str) -> None:
        name = hashlib.sha256(f"{bucket}\n{key}\n{delivery}".encode()).hexdigest()[:64]
        try:
            executions.start(machine_arn, name, FanOutRequest(bucket=bucket, key=key).model_dump())
        except AlreadyRecordedError:
            logger.info("fan-out already started")

    return start


def build_run_service(settings: RunSettings) -> RunService:
    """A RunService on the deployment's buckets and tables."""
    db = dynamodb_client()
    store = S3ObjectStore(s3_client())
    programs = stored_programs(store, settings.curated_bucket)
    return RunService(
        store=store,
        gaps=DynamoGapStateRepository(db, settings.gaps_table),
        # Each member's paid entries are also copied beside the member's evidence, read in one query.
        ledger=DynamoLedgerRepository(db, settings.ledger_table, history_table=settings.gaps_table),
        runs=DynamoRunRegistry(db, settings.registry_table, settings.approvals_table),
        files=DynamoFileRegistry(db, settings.registry_table),
        catalog=programs.care_gap,
        programs=programs,
        curated_bucket=settings.curated_bucket,
        reports_bucket=settings.reports_bucket,
        shard_size=settings.shard_size,
        payer=settings.plan_id,
        pages=True,
        log=DynamoFileLog(db, settings.registry_table),
        member_buckets=settings.member_buckets,
    )


def build_lifecycle(settings: OperatorSettings) -> RunLifecycle:
    """The operator API's RunLifecycle on the deployment's tables, buckets and state machines."""
    db = dynamodb_client()
    store = S3ObjectStore(s3_client())
    return RunLifecycle(
        runs=DynamoRunRegistry(db, settings.registry_table, settings.approvals_table),
        store=store,
        gaps=DynamoGapStateRepository(db, settings.gaps_table),
        programs=stored_programs(store, settings.curated_bucket),
        executions=StepFunctionsExecutions(stepfunctions_client()),
        machines=settings.state_machines,
        reports_bucket=settings.reports_bucket,
        payments_bucket=settings.payments_bucket,
    )
