"""A fanned-out file's state between its steps (docs/ingest.md, "Fan-out"): what the state machine passes
(bucket, keys, the file's hash, shard numbers; never a value of the file) and what each step leaves in
the curated bucket under `staging/<file_id>/` for the next."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from shared.models.files import FileKind

_STRICT = ConfigDict(frozen=True, extra="forbid")


class FanOutRequest(BaseModel):
    """The state machine's input: the landed object to ingest in shards."""

    model_config = _STRICT

    bucket: str
    key: str


class ShardRequest(BaseModel):
    """One shard to ingest (an item of the shards map)."""

    model_config = _STRICT

    file_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    shard: int = Field(ge=0)


class FinishRequest(BaseModel):
    """The file whose shards are all ingested: add them up into its one manifest."""

    model_config = _STRICT

    bucket: str
    key: str
    file_id: str = Field(pattern=r"^[0-9a-f]{64}$")


class FailRequest(BaseModel):
    """A step failed for good: the file ends FAILED with the error's name (`file_id` when it is known)."""

    model_config = _STRICT

    bucket: str
    key: str
    error: str
    file_id: str | None = None


class SplitOutcome(BaseModel):
    """What the first pass tells the state machine: the file's hash, its status and its shard numbers."""

    model_config = _STRICT

    file_id: str
    status: str
    """SPLIT (the shards follow), or DUPLICATE / QUARANTINED (the file is done)."""
    bucket: str
    items_key: str = ""
    """The JSON array of the shards' requests (the shards map's ItemReader reads it); empty when done."""
    shards: tuple[ShardRequest, ...] = Field(default=(), exclude=True)
    """The same requests, for callers in this process (not passed in the state)."""


class ShardRef(BaseModel):
    model_config = _STRICT

    shard: int
    key: str
    rows: int


class SplitPlan(BaseModel):
    """`staging/<file_id>/plan.json`: the cut file, for its shards and its finish."""

    model_config = _STRICT

    file_id: str
    kind: FileKind
    source_key: str
    rows_read: int
    padded: bool
    skipped_resources: int
    as_of: date
    """The day the file's rules compare with (one day for every shard, as for a file read at once)."""
    shards: tuple[ShardRef, ...]


class ShardResult(BaseModel):
    """`staging/<file_id>/shard-NNNN.json`: one shard's accounting and outputs, once it is applied."""

    model_config = _STRICT

    shard: int
    rows_read: int
    accepted: int
    rejected: int
    duplicate: int
    superseded: int
    evidence: int
    evidence_withheld: int
    evidence_retracted: int
    curated_keys: tuple[str, ...]
    rejects_key: str | None
    coverage: tuple[date, date] | None = None
    """Eligibility: the shard's earliest start and latest end (`shared.logic.roster.coverage_bounds`)."""
