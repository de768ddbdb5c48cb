"""The clinic and plan pages of a stack (the local runtime's in the demo), written to a folder.

The runs write the same pages to the reports bucket at RenderStatements (`pages/<run>/`); this writes them
outside any run, as of a day, from the stack's tables and buckets (read-only): `docs/pages.md`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from shared import clock
from shared.dal.files import DynamoFileLog, DynamoFileRegistry
from shared.dal.gap_state import DynamoGapStateRepository
from shared.dal.ledger import DynamoLedgerRepository
from shared.dal.objects import S3ObjectStore
from shared.dal.runs import DynamoRunRegistry
from shared.models.ledger import DEFAULT_PAYER
from shared.services.kinds import RunContext
from shared.services.pages import PageService
from shared.services.wiring import stored_programs


class Stack(Protocol):
    """What the pages read a stack through: the local runtime (`LocalRuntime`) has both."""

    @property
    def outputs(self) -> Mapping[str, str]: ...

    def client(self, name: str) -> Any: ...


def page_service(stack: Stack, *, payer: str = DEFAULT_PAYER) -> PageService:
    """A PageService on the stack's tables and buckets."""
    outputs = stack.outputs
    db, store = stack.client("dynamodb"), S3ObjectStore(stack.client("s3"))
    programs = stored_programs(store, outputs["CuratedBucketName"])
    context = RunContext(
        objects=store,
        curated=outputs["CuratedBucketName"],
        gaps=DynamoGapStateRepository(db, outputs["GapsTableName"]),
        ledger=DynamoLedgerRepository(db, outputs["LedgerTableName"], history_table=outputs["GapsTableName"]),
        runs=DynamoRunRegistry(db, outputs["RegistryTableName"], outputs["ApprovalsTableName"]),
        files=DynamoFileRegistry(db, outputs["RegistryTableName"]),
        catalog=programs.care_gap,
        programs=programs,
        now=clock.now,
        payer=payer,
    )
    log = DynamoFileLog(db, outputs["RegistryTableName"])
    return PageService(context=context, reports_bucket=outputs["ReportsBucketName"], log=log)


def write_stack_pages(stack: Stack, folder: Path, as_of: date) -> list[Path]:
    """Write every clinic's page (`folder/clinic/<clinic>.html`) and the plan's (`folder/plan.html`) as of
    `as_of`; returns the paths, the plan page last."""
    return page_service(stack).write_to(folder, as_of)
