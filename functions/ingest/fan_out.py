"""The fan-out state machine's steps (docs/ingest.md, "Fan-out"): SplitFile, IngestShard, FinishFile and
FailFile, each `{bucket?, key?, file_id?, shard?}` in and ids, statuses and counts out (never a value of
the file). A domain error or an invalid payload fails the step by name; anything else by type only."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.runs.common import step
from shared.models.fanout import FailRequest, FanOutRequest, FinishRequest, ShardRequest
from shared.models.settings import IngestSettings, load_settings
from shared.observability import logger
from shared.services.ingest import IngestService
from shared.services.wiring import build_ingest_service


@lru_cache(maxsize=1)
def ingest_service() -> IngestService:
    """Settings are read once per container, on first use."""
    return build_ingest_service(load_settings(IngestSettings))


@logger.inject_lambda_context
@step("SplitFile")
def split(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """`{bucket, key}` → `{file_id, status, bucket, items_key}`: the shards listed at `items_key`."""
    request = FanOutRequest.model_validate(event)
    return ingest_service().split(request.bucket, request.key).model_dump(mode="json")


@logger.inject_lambda_context
@step("IngestShard")
def shard(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """`{file_id, shard}` → the shard's accounting."""
    request = ShardRequest.model_validate(event)
    return ingest_service().ingest_shard(request.file_id, request.shard).model_dump(mode="json")


@logger.inject_lambda_context
@step("FinishFile")
def finish(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """`{bucket, key, file_id}` → the file's outcome (ACCEPTED, with its counts)."""
    request = FinishRequest.model_validate(event)
    return ingest_service().finish_split(request.bucket, request.key, request.file_id).model_dump(mode="json")


@logger.inject_lambda_context
@step("FailFile")
def fail(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """`{bucket, key, error, file_id?}` → the file ends FAILED with the error's name."""
    request = FailRequest.model_validate(event)
    ingest_service().fail_split(request.key, request.error, request.file_id)
    return {"key": request.key, "status": "FAILED"}
