"""PlanShards: `{run}` → shard manifest in S3 → `$.plan`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.runs.common import run_service, step
from shared.models.runs import RunRef
from shared.observability import logger


@logger.inject_lambda_context
@step("PlanShards")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """State-machine task entry point."""
    return run_service().plan(RunRef.model_validate(event["run"])).model_dump(mode="json")
