"""Typed environment settings, composed from small mixins; `os.environ` is read here and nowhere else."""

from __future__ import annotations

import os
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.models.tables import (
    DEFAULT_SHARD_SIZE,
    FAN_OUT_STATE_MACHINE_ENV,
    MAX_MEMBER_BUCKETS,
    MEMBER_BUCKETS,
    RUN_KINDS,
    state_machine_env,
)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class Observability(_Settings):
    stage: str = Field(default="dev", alias="STAGE")
    service_name: str = Field(default="p4p", alias="POWERTOOLS_SERVICE_NAME")
    # The ingest's per-file metrics (`functions/ingest/ingest_file.py`) go to this namespace.
    metrics_namespace: str = Field(default="P4P", alias="POWERTOOLS_METRICS_NAMESPACE")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")


class Buckets(_Settings):
    landing_bucket: str = Field(alias="LANDING_BUCKET")
    curated_bucket: str = Field(alias="CURATED_BUCKET")
    reports_bucket: str = Field(alias="REPORTS_BUCKET")


class Tables(_Settings):
    gaps_table: str = Field(alias="GAPS_TABLE")
    ledger_table: str = Field(alias="LEDGER_TABLE")
    registry_table: str = Field(alias="REGISTRY_TABLE")
    approvals_table: str = Field(alias="APPROVALS_TABLE")


class Payments(_Settings):
    payments_bucket: str = Field(alias="PAYMENTS_BUCKET")


class StateMachines(_Settings):
    """The run kinds' state machines, which the operator API starts: `<KIND>_STATE_MACHINE_ARN` each."""

    state_machines: dict[str, str]

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "state_machines" in data:
            return data
        found = {
            s.kind: data[state_machine_env(s.kind)] for s in RUN_KINDS if state_machine_env(s.kind) in data
        }
        return data | {"state_machines": found}

    def arn_of(self, kind: str) -> str:
        """The state machine ARN of a run kind; KeyError naming the kind when it has none here."""
        try:
            return self.state_machines[kind]
        except KeyError:
            raise KeyError(f"no state machine is configured for run kind {kind!r}") from None


class Plan(_Settings):
    """The deploying plan: the payer of every entry a file does not say otherwise of."""

    plan_id: str = Field(default="plan", alias="PLAN_ID", pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class Sharding(_Settings):
    shard_size: int = Field(default=DEFAULT_SHARD_SIZE, alias="SHARD_SIZE", gt=0)


class MemberBucketing(_Settings):
    """How many member buckets curated claims, rosters and attribution tables are filed in (the CDK context
    `member_buckets`; `shared/logic/member_buckets.py`)."""

    member_buckets: int = Field(default=MEMBER_BUCKETS, alias="MEMBER_BUCKETS", ge=1, le=MAX_MEMBER_BUCKETS)


class IngestSettings(Observability, Buckets, Tables, MemberBucketing):
    """What the ingest functions need."""

    fan_out_state_machine_arn: str | None = Field(default=None, alias=FAN_OUT_STATE_MACHINE_ENV)
    """The fan-out state machine (only the IngestFile function has it): a file past `max_file_bytes` is
    handed to it; without it such a file is TOO_LARGE."""
    max_file_bytes: int | None = Field(default=None, alias="INGEST_MAX_FILE_BYTES", ge=1)
    """The largest file (uncompressed) one function ingests; default `shared.intake.source.MAX_FILE_BYTES`
    (docs/ingest.md). A test of the fan-out on the local runtime lowers it."""

    ingest_workers: int = Field(default_factory=available_cores, alias="INGEST_WORKERS", ge=1, le=16)
    """Member groups of a file applied at once (`shared.intake.pipeline`); default the cores this process
    may use (a 10 GB function has 6). Each holds a group of up to `ROWS_PER_GROUP` rows (about 300 MB for
    claim lines), so memory grows with it (docs/ingest.md)."""

    claim_version_readers: int = Field(default=16, alias="CLAIM_VERSION_READERS", ge=1, le=64)
    """Members' claim versions read at once (one query each). On DynamoDB the queries wait on the network,
    so 16 overlap; the local runtime answers in this process, where threads only contend for the GIL, and
    sets 1."""


class RunSettings(Observability, Buckets, Tables, Sharding, Plan, MemberBucketing):
    """What every payment-run step needs."""


class OperatorSettings(Observability, Buckets, Tables, Payments, StateMachines):
    """What the operator API needs: the runs, their reports, the payments bucket and the state machines."""


SettingsT = TypeVar("SettingsT", bound=_Settings)


def load_settings(model: type[SettingsT]) -> SettingsT:
    """Build a settings model from the process environment."""
    return model.model_validate(dict(os.environ))
