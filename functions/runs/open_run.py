"""OpenRun: `{machine, execution_name, request}` → run (created, resumed or reopened) → `$.run`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.runs.common import run_service, step
from shared.models.runs import OpenRunInput
from shared.observability import logger


@logger.inject_lambda_context
@step("OpenRun")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """State-machine task entry point."""
    return run_service().open(OpenRunInput.model_validate(event)).model_dump(mode="json")
