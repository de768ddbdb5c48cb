"""The operator API (API Gateway, IAM-authorised): start, recalculate, list, show, approve, mark paid.

The caller's identity is API Gateway's (`requestContext.identity.userArn`, from the request's SigV4
signature), never the request body's, so the stack records who started, approved and paid a run.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.errors import DomainError
from shared.models.runs import Run
from shared.models.settings import OperatorSettings, load_settings
from shared.observability import logger
from shared.services.lifecycle import RunLifecycle
from shared.services.run_records import RunNotFoundError
from shared.services.wiring import build_lifecycle

app = APIGatewayRestResolver()
MAX_LISTED = 500


@lru_cache(maxsize=1)
def lifecycle() -> RunLifecycle:
    """Settings are read from the environment once per container."""
    return build_lifecycle(load_settings(OperatorSettings))


def _caller() -> str:
    return app.current_event.request_context.identity.user_arn or ""


def _body() -> dict[str, Any]:
    body = app.current_event.json_body if app.current_event.body else {}
    if not isinstance(body, dict):
        raise _BadRequest("the request body must be a JSON object")
    return body


class _BadRequest(DomainError):
    """The request body is not a JSON object."""


def _run(run: Run) -> dict[str, Any]:
    return run.model_dump(mode="json") | {"effective_status": run.effective_status.value}


def _with_pools(run: Run) -> dict[str, Any]:
    """The run and its year against the funding pools its programs name (warnings before approval)."""
    pools = [p.model_dump(mode="json") for p in lifecycle().funding_pools(run)]
    return _run(run) | {"funding_pools": pools}


@app.get("/runs")
def list_runs() -> dict[str, Any]:
    limit = int(app.current_event.get_query_string_value("limit", "50") or 50)
    return {"runs": [_run(r) for r in lifecycle().recent(min(max(limit, 1), MAX_LISTED))]}


@app.post("/runs")
def start_run() -> dict[str, Any]:
    return lifecycle().start(_body(), _caller()).model_dump(mode="json")


@app.get("/runs/<run_id>")
def show_run(run_id: str) -> dict[str, Any]:
    return _with_pools(lifecycle().show(run_id))


@app.post("/runs/<run_id>/recalculate")
def recalculate_run(run_id: str) -> dict[str, Any]:
    return lifecycle().recalculate(run_id, _caller()).model_dump(mode="json")


@app.post("/runs/<run_id>/approve")
def approve_run(run_id: str) -> dict[str, Any]:
    return _with_pools(lifecycle().approve(run_id, _caller()))


@app.post("/runs/<run_id>/mark-paid")
def mark_run_paid(run_id: str) -> dict[str, Any]:
    return _run(lifecycle().mark_paid(run_id, _caller(), _body()))


def _refusal(status: int, error: DomainError) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": type(error).__name__, "message": str(error)},
    )


@app.exception_handler(RunNotFoundError)
def _not_found(error: RunNotFoundError) -> Response[Any]:
    return _refusal(404, error)


@app.exception_handler(DomainError)
def _refused(error: DomainError) -> Response[Any]:
    # A refusal moves nothing; its message names the run and the reason, never a member's data.
    logger.info("operator request refused", error=type(error).__name__)
    return _refusal(409, error)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway (REST, Lambda proxy) entry point."""
    return app.resolve(event, context)
