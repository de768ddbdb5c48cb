"""BuildPart: one Distributed Map item `{run, part}` → the part's member buckets built in S3 → counts."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.runs.common import run_service, step
from shared.models.runs import BuildPartInput
from shared.observability import logger


@logger.inject_lambda_context
@step("BuildPart")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """State-machine task entry point."""
    return run_service().build_part(BuildPartInput.model_validate(event)).model_dump(mode="json")
