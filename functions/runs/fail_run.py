"""MarkFailed: `{run?, error}` → an OPEN run becomes FAILED; closed runs are never moved."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.runs.common import run_service, step
from shared.models.runs import FailInput
from shared.observability import logger


@logger.inject_lambda_context
@step("FailRun")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """State-machine task entry point."""
    return run_service().fail(FailInput.model_validate(event)).model_dump(mode="json")
