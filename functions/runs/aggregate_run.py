"""AggregateRun: `{run, plan}` → per-clinic sums → `$.totals`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.runs.common import settlement_service, step
from shared.models.runs import AggregateInput
from shared.observability import logger


@logger.inject_lambda_context
@step("AggregateRun")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """State-machine task entry point."""
    return settlement_service().aggregate(AggregateInput.model_validate(event)).model_dump(mode="json")
