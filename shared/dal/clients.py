"""boto3 clients, created once per process (Lambda containers reuse them across invocations)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient


@lru_cache(maxsize=1)
def dynamodb_client() -> DynamoDBClient:
    """The process's DynamoDB client."""
    return boto3.client("dynamodb")


@lru_cache(maxsize=1)
def s3_client() -> S3Client:
    """The process's S3 client."""
    return boto3.client("s3")


@lru_cache(maxsize=1)
def stepfunctions_client() -> SFNClient:
    """The process's Step Functions client."""
    return boto3.client("stepfunctions")
