"""Payment runs and the payloads the state machines pass between steps (ids, counts and keys only)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.models.ledger import LedgerEntry


class RunKind(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"
    QUARTERLY = "quarterly"


QUARTER_PATTERN = r"^\d{4}-Q[1-4]$"
"""A quarter as runs name it: `2026-Q1`."""


class RunMode(StrEnum):
    FINAL = "final"
    PREVIEW = "preview"


def final_run_id(kind: RunKind, period: str) -> str:
    """The one final run of a kind and period, as the registry names it: `<kind>-<period>-final`."""
    return f"{kind.value}-{period}-{RunMode.FINAL.value}"


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
    """Every payload that crosses a boundary refuses keys it does not know (`"dry_run": true` is an error,
    not a silently ignored wish)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


IDENTITY_PATTERN = r"^[\x21-\x7e]{1,256}$"
"""An operator's identity as the stack recorded it (an IAM ARN, or `local:<name>` on the local runtime)."""


class RunRequest(_Payload):
    """Execution input of a run state machine, as the operator API writes it.

    `requested_by` is the identity of whoever asked for the execution, recorded by the operator API (never
    taken from a client); `recalculate` asks a CALCULATED, unapproved final run to settle again.
    """

    run_kind: RunKind
    program_year: int = Field(ge=2000, le=2100)
    month: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    quarter: str | None = Field(default=None, pattern=QUARTER_PATTERN)
    mode: RunMode = RunMode.FINAL
    requested_by: str = Field(pattern=IDENTITY_PATTERN)
    recalculate: bool = False


class OpenRunInput(_Payload):
    """OpenRun's payload: the machine's own kind, its execution's name and the untouched execution input."""

    machine: RunKind
    execution_name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,80}$")
    request: dict[str, Any]


class RunFailure(BaseModel):
    """The last failure of a run, as its record keeps it: the domain error's name and message, the step."""

    model_config = ConfigDict(frozen=True)

    error: str
    message: str
    step: str
    at: datetime


class Approval(BaseModel):
    """Approval and payment of a final run, kept apart from the run record (only the operator API writes
    it). `payment_sha256` is the digest of the payment file written once at approval."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    approved_by: str
    approved_at: datetime
    approved_version: int
    payment_file_key: str
    payment_sha256: str
    total_cents: int
    paid_by: str | None = None
    paid_at: datetime | None = None
    payment_reference: str | None = None


class Run(BaseModel):
    """A run as the registry holds it; `version` guards every transition.

    `status` is the pipeline's (OPEN, CALCULATED, FAILED); approval and payment live in `approval`, which
    only the operator API writes, and `effective_status` combines the two.
    """

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
    operators: tuple[str, ...] = Field(
        default=(), description="every identity that started, resumed or recalculated an execution of it"
    )
    last_failure: RunFailure | None = None
    draft_sha256: str | None = None
    approval: Approval | None = None

    @property
    def effective_status(self) -> RunStatus:
        """PAID or APPROVED once the operator API recorded it, else the pipeline's status."""
        if self.approval is not None:
            return RunStatus.PAID if self.approval.paid_at is not None else RunStatus.APPROVED
        return self.status


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
    clinic_members: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="the shard's members of each clinic's registry, for the clinic pages (none: no pages)",
    )
    pages_as_of: date | None = Field(default=None, description="the day the run's pages stand on")


class Plan(_Payload):
    """PlanShards' output, carried as `$.plan`: the shard manifest, and the manifest of the member-bucket
    parts the run builds before its shards (`parts_key`; none when `part_count` is 0)."""

    bucket: str
    manifest_key: str
    shard_count: int = Field(ge=0)
    parts_key: str | None = None
    part_count: int = Field(default=0, ge=0)


class BucketPart(_Payload):
    """One item of a run's parts manifest (`runs/<run_id>/parts.json`): the members of buckets
    `first_bucket` to `last_bucket` (`shared.logic.member_buckets`), whose work one BuildPart does."""

    first_bucket: int = Field(ge=0)
    last_bucket: int = Field(ge=0)

    @property
    def buckets(self) -> range:
        """The part's buckets."""
        return range(self.first_bucket, self.last_bucket + 1)


class BuildPartInput(_Payload):
    run: RunRef
    part: BucketPart


class PartResult(_Payload):
    """BuildPart's output per Map item (counts only): the part's buckets and its members in the last month
    it built."""

    first_bucket: int = Field(ge=0)
    last_bucket: int = Field(ge=0)
    members: int = Field(ge=0)


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
    """Denominator and numerator of one measure at one clinic (annual runs), for a line of business when
    the program rates per line (Benchmark P4P)."""

    clinic_id: str
    action: str
    denominator: int = Field(ge=0)
    numerator: int = Field(ge=0)
    line_of_business: str = ""


class PanelCount(_Payload):
    """Members who count for a clinic's line of business over a measurement year (Benchmark's 9 of 12)."""

    clinic_id: str
    line_of_business: str
    members: int = Field(ge=0)


class ApcCount(_Payload):
    """A shard's members in an APC quality rate's (or part's) denominator at a practice; how many met it."""

    clinic_id: str
    rate: str
    part: str = ""
    denominator: int = Field(ge=0)
    numerator: int = Field(ge=0)


class ApcContribution(_Payload):
    """A shard's sum of an APC utilization or cost rate at a practice: member months, age/sex factor over
    them, events, standardized cost in cents, lines with no price."""

    clinic_id: str
    rate: str
    member_months: int = Field(ge=0)
    factor_months: Decimal = Field(ge=0)
    events: int = Field(ge=0)
    cost_cents: int = Field(ge=0)
    unpriced_lines: int = Field(ge=0)


class ApcPanel(_Payload):
    """A shard's member months attributed to an APC practice in the measurement year."""

    clinic_id: str
    member_months: int = Field(ge=0)


class ShardOutput(_Payload):
    """Body of `runs/<run_id>/results/<shard_id>.json`: the entries this run recorded for the shard."""

    run_id: str
    shard_id: str
    entries: tuple[LedgerEntry, ...] = ()
    skipped_paid_earlier: int = 0
    measure_counts: tuple[MeasureCount, ...] = ()
    panel_counts: tuple[PanelCount, ...] = ()
    apc_counts: tuple[ApcCount, ...] = ()
    apc_contributions: tuple[ApcContribution, ...] = ()
    apc_panels: tuple[ApcPanel, ...] = ()

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
    draft_key: str = Field(description="the draft (final run) or preview payment file, never a payment file")
    total_cents: int


class CloseInput(_Payload):
    run: RunRef
    totals: RunTotals
    statements: StatementsResult


class ClosedRun(_Payload):
    run_id: str | None
    status: RunStatus


class FailInput(_Payload):
    """MarkFailed's input; `run` is absent when OpenRun itself failed. `error` is the Catch's
    `{"Error", "Cause"}`; `step` names the state that failed."""

    run: RunRef | None = None
    error: dict[str, Any] | None = None
    step: str = Field(default="OpenRun", pattern=r"^[A-Za-z]{1,40}$")


class FailedRun(_Payload):
    """MarkFailed's output: the run as it now stands and the reason the execution reports (its `error`
    and `cause`, through the Fail state's ErrorPath and CausePath)."""

    run_id: str | None
    status: RunStatus
    error: str
    cause: str
