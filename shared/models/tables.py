"""Names shared by the CDK app, the data-access layer and the local runtime.

The infrastructure may import this module (and only this one) from `shared`: it holds the key schema of
every DynamoDB table, the S3 key prefixes and the environment variable names, so the three cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class TableSpec:
    """Key schema of one DynamoDB table: string partition and sort keys plus one string GSI."""

    logical_name: str
    env_var: str
    partition_key: str = "pk"
    sort_key: str = "sk"
    gsi_name: str = "gsi1"
    gsi_partition_key: str = "gsi1pk"
    gsi_sort_key: str = "gsi1sk"


GAPS_TABLE = TableSpec(logical_name="GapState", env_var="GAPS_TABLE")
LEDGER_TABLE = TableSpec(logical_name="Ledger", env_var="LEDGER_TABLE")
REGISTRY_TABLE = TableSpec(logical_name="Registry", env_var="REGISTRY_TABLE")
# Approvals and payments of runs, apart from the run records: only the operator API's role may write here.
APPROVALS_TABLE = TableSpec(logical_name="Approvals", env_var="APPROVALS_TABLE")
ALL_TABLES = (GAPS_TABLE, LEDGER_TABLE, REGISTRY_TABLE, APPROVALS_TABLE)


@dataclass(frozen=True)
class RunKindSpec:
    """One kind of payment run as the infrastructure and the CLI see it: one state machine each, from the
    one ASL template (`infra/state_machines/payment_run.asl.json`, `${RunKind}` = `kind`)."""

    kind: str
    machine_suffix: str
    output_key: str
    description: str


RUN_KINDS = (
    RunKindSpec("monthly", "monthly-svu", "MonthlyStateMachineArn", "Monthly SVU run (Care Gap P4P)"),
    RunKindSpec(
        "annual", "annual-incentive", "AnnualStateMachineArn", "Annual incentive run (Benchmark P4P and more)"
    ),
    RunKindSpec(
        "quarterly", "quarterly-pmpm", "QuarterlyStateMachineArn", "Quarterly PMPM run (APC Element 2)"
    ),
)


def run_kind_spec(kind: str) -> RunKindSpec:
    """The spec of a run kind by name; KeyError naming the kinds there are."""
    for spec in RUN_KINDS:
        if spec.kind == kind:
            return spec
    raise KeyError(f"unknown run kind {kind!r}; the kinds are {', '.join(s.kind for s in RUN_KINDS)}")


def state_machine_env(kind: str) -> str:
    """The environment variable that carries a kind's state machine ARN (the operator API starts them)."""
    return f"{kind.upper()}_STATE_MACHINE_ARN"


class BucketEnv(StrEnum):
    """Environment variables that carry bucket names."""

    LANDING = "LANDING_BUCKET"
    CURATED = "CURATED_BUCKET"
    REPORTS = "REPORTS_BUCKET"
    PAYMENTS = "PAYMENTS_BUCKET"


class Prefix(StrEnum):
    """S3 key prefixes. Landing keys are `landing/<kind>/<anything>`; the kind comes from the prefix."""

    LANDING = "landing/"
    QUARANTINE = "quarantine/"
    CURATED = "curated/"
    TA_ENGAGEMENT = "curated/ta_engagement/"
    """The accepted rows of `ta_engagement` files (the quarterly run's gate reads them)."""
    MEDICAL_CLAIMS_ROWS = "curated/medical_claims/"
    """The accepted rows of medical claims files (attribution reads their visits)."""
    ELIGIBILITY_ROWS = "curated/eligibility/"
    """The accepted rows of eligibility files (attribution reads products and selected PCPs)."""
    ATTRIBUTION = "curated/attribution/"
    """The monthly member-month attribution tables (`month=<YYYY-MM>/attribution.parquet`)."""
    EVIDENCE = "evidence/"
    RUNS = "runs/"
    REJECTS = "rejects/"
    MANIFESTS = "manifests/"
    STATEMENTS = "statements/"
    PAYMENTS = "payments/"
    PREVIEWS = "previews/"
    PAGES = "pages/"
    PROGRAMS = "programs/"
    STAGING = "staging/"
    """A fanned-out file's shards and their results (`staging/<file_id>/…`), kept until they expire."""


FAN_OUT_STATE_MACHINE_ENV = "FAN_OUT_STATE_MACHINE_ARN"
"""The ingest function's variable naming the fan-out state machine (docs/ingest.md, "Fan-out")."""
STAGING_DAYS = 3
"""Days a fanned-out file's staged shards (`staging/` in the curated bucket) are kept."""

INGEST_MAX_RECEIVES = 5
"""Deliveries of one landed file before its message goes to the dead-letter queue (the ingest queue's
redrive policy); the last one ends the file FAILED if it fails too."""

STAGE_ENV = "STAGE"
PLAN_ID_ENV = "PLAN_ID"
SHARD_SIZE_ENV = "SHARD_SIZE"
MEMBER_BUCKETS_ENV = "MEMBER_BUCKETS"
DEFAULT_SHARD_SIZE = 5000

MEMBER_BUCKETS = 128
"""The default count of member buckets (`MEMBER_BUCKETS_ENV`, the CDK context `member_buckets`). At 12M
members a bucket is about 94,000 members (docs/apc.md "Limits and scale"); changing the count re-files
nothing: files under the old count are read whole and filtered by the hash (shared/logic/member_buckets)."""
MAX_MEMBER_BUCKETS = 999
"""The most buckets a deployment may have: a bucket's number is written in three digits."""


class BucketCountError(ValueError):
    """A member-bucket count outside 1 to MAX_MEMBER_BUCKETS."""


def checked_count(count: int) -> int:
    """`count` when it is a usable bucket count; BucketCountError naming the allowed range otherwise."""
    if not 1 <= count <= MAX_MEMBER_BUCKETS:
        raise BucketCountError(f"the member-bucket count must be 1 to {MAX_MEMBER_BUCKETS}, not {count}")
    return count
