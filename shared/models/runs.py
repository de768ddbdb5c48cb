"""Payment runs and the payloads the state machines pass between steps (ids, counts and keys only)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.models.ledger import LedgerEntry


class RunKind(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"


class RunMode(StrEnum):
    FINAL = "final"
    PREVIEW = "preview"


class RunStatus(StrEnum):
    OPEN = "OPEN"
    CALCULATED = "CALCULATED"
    APPROVED = "APPROVED"
    PAID = "PAID"
    FAILED = "FAILED"

    @property
    def closed(self) -> bool:
        """CALCULATED or later: the run's money is fixed and it must not be reopened or failed."""
        return self in (RunStatus.CALCULATED, RunStatus.APPROVED, RunStatus.PAID)


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class RunRequest(_Payload):
    """Execution input of a run state machine."""

    run_kind: RunKind
    program_year: int = Field(ge=2000, le=2100)
    month: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    mode: RunMode = RunMode.FINAL
    execution_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,80}$")

    @model_validator(mode="after")
    def _month_matches_kind(self) -> RunRequest:
        if self.run_kind is RunKind.MONTHLY:
            if self.month is None:
                raise ValueError("a monthly run needs month")
            if int(self.month[:4]) != self.program_year:
                raise ValueError("month is outside program_year")
        return self

    @property
    def period(self) -> str:
        return self.month if self.run_kind is RunKind.MONTHLY and self.month else str(self.program_year)


class Run(BaseModel):
    """A run as the registry holds it; `version` guards every transition."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    run_kind: RunKind
    period: str
    mode: RunMode
    program_year: int
    status: RunStatus = RunStatus.OPEN
    version: int = 1
    started_at: datetime
    updated_at: datetime
    entry_count: int = 0
    total_cents: int = 0
    failure: str | None = None


class RunRef(_Payload):
    """OpenRun's output, carried as `$.run`."""

    run_id: str
    run_kind: RunKind
    period: str
    mode: RunMode
    status: RunStatus
    resumed: bool = False


class ShardRef(_Payload):
    """One item of the shard manifest `runs/<run_id>/shards.json`."""

    shard_id: str
    members_key: str


class ShardMembers(_Payload):
    """Body of `runs/<run_id>/shards/<shard_id>.json`."""

    run_id: str
    shard_id: str
    member_ids: tuple[str, ...]


class Plan(_Payload):
    """PlanShards' output, carried as `$.plan`."""

    bucket: str
    manifest_key: str
    shard_count: int = Field(ge=0)


class EarnShardInput(_Payload):
    run: RunRef
    shard: ShardRef


class ShardResult(_Payload):
    """EarnShard's output per Map item."""

    shard_id: str
    result_key: str
    entry_count: int = Field(ge=0)
    total_cents: int


class MeasureCount(_Payload):
    """Denominator and numerator of one measure at one clinic (annual runs)."""

    clinic_id: str
    action: str
    denominator: int = Field(ge=0)
    numerator: int = Field(ge=0)


class ShardOutput(_Payload):
    """Body of `runs/<run_id>/results/<shard_id>.json`: the entries this run recorded for the shard."""

    run_id: str
    shard_id: str
    entries: tuple[LedgerEntry, ...] = ()
    skipped_paid_earlier: int = 0
    measure_counts: tuple[MeasureCount, ...] = ()

    @property
    def total_cents(self) -> int:
        return sum(e.amount_cents for e in self.entries)


class AggregateInput(_Payload):
    run: RunRef
    plan: Plan


class RunTotals(_Payload):
    """AggregateRun's output, carried as `$.totals`."""

    entry_count: int = Field(ge=0)
    total_cents: int
    clinic_count: int = Field(ge=0)


class RenderInput(_Payload):
    run: RunRef
    totals: RunTotals


class StatementsResult(_Payload):
    """RenderStatements' output, carried as `$.statements`."""

    statement_count: int = Field(ge=0)
    payment_file_key: str
    total_cents: int


class CloseInput(_Payload):
    run: RunRef
    totals: RunTotals
    statements: StatementsResult


class ClosedRun(_Payload):
    run_id: str | None
    status: RunStatus


class FailInput(_Payload):
    """MarkFailed's input; `run` is absent when OpenRun itself failed."""

    run: RunRef | None = None
    error: dict[str, Any] | None = None

    @property
    def error_type(self) -> str:
        """Only the error's type is kept: a Cause may quote data we must not store."""
        if not self.error:
            return "Unknown"
        return str(self.error.get("Error", "Unknown"))[:200]
