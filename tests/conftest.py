"""Shared fixtures. AWS fixtures are opt-in: tests that want moto ask for `aws`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from shared.models.tables import ALL_TABLES, RUN_KINDS, state_machine_env

REGION = "us-east-1"
NAMES = {
    "LANDING_BUCKET": "test-landing",
    "CURATED_BUCKET": "test-curated",
    "REPORTS_BUCKET": "test-reports",
    "GAPS_TABLE": "test-gap-state",
    "LEDGER_TABLE": "test-ledger",
    "REGISTRY_TABLE": "test-registry",
    "APPROVALS_TABLE": "test-approvals",
    "PAYMENTS_BUCKET": "test-payments",
}


@dataclass(frozen=True)
class LambdaContext:
    """Enough of the Lambda context for powertools' `inject_lambda_context`."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass(frozen=True)
class Aws:
    s3: Any
    dynamodb: Any
    names: dict[str, str]


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake credentials and the functions' environment (SHARD_SIZE small so plans have several shards)."""
    env = NAMES | {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "STAGE": "test",
        "SHARD_SIZE": "2",
        "POWERTOOLS_SERVICE_NAME": "p4p-test",
        "POWERTOOLS_METRICS_NAMESPACE": "P4PTest",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "LOG_LEVEL": "WARNING",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _clear_cached_clients() -> None:
    from functions.ingest.ingest_file import ingest_service
    from functions.operator.operate_runs import lifecycle
    from functions.runs.common import run_service
    from shared.dal.clients import dynamodb_client, s3_client, stepfunctions_client

    for cached in (dynamodb_client, s3_client, stepfunctions_client, ingest_service, run_service, lifecycle):
        cached.cache_clear()


def create_tables(dynamodb: Any, names: Mapping[str, str]) -> None:
    """Create every table of shared/models/tables.py (its key layout and GSI), named `names[spec.env_var]`."""
    for spec in ALL_TABLES:
        keys = (spec.partition_key, spec.sort_key, spec.gsi_partition_key, spec.gsi_sort_key)
        dynamodb.create_table(
            TableName=names[spec.env_var],
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            KeySchema=[
                {"AttributeName": spec.partition_key, "KeyType": "HASH"},
                {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": spec.gsi_name,
                    "KeySchema": [
                        {"AttributeName": spec.gsi_partition_key, "KeyType": "HASH"},
                        {"AttributeName": spec.gsi_sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )


@pytest.fixture
def aws(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """moto with the tables (key layout of shared/models/tables.py), the buckets, and one state machine
    per run kind that only records its executions (the operator API starts them)."""
    with mock_aws():
        _clear_cached_clients()
        sfn = boto3.client("stepfunctions", region_name=REGION)
        for spec in RUN_KINDS:
            arn = sfn.create_state_machine(
                name=f"test-{spec.machine_suffix}",
                definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
                roleArn="arn:aws:iam::123456789012:role/test-machine",
            )["stateMachineArn"]
            monkeypatch.setenv(state_machine_env(spec.kind), arn)
        s3 = boto3.client("s3", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for env in ("LANDING_BUCKET", "CURATED_BUCKET", "REPORTS_BUCKET", "PAYMENTS_BUCKET"):
            s3.create_bucket(Bucket=NAMES[env])
        create_tables(dynamodb, NAMES)
        yield Aws(s3=s3, dynamodb=dynamodb, names=dict(NAMES))
        _clear_cached_clients()
