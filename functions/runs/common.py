"""The services every run handler calls, built once per container on first use, and the wrapper that
reports a step's failure by its domain error (or, for anything else, by type only)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any

from pydantic import ValidationError

from shared.errors import DomainError
from shared.models.settings import RunSettings, load_settings
from shared.observability import logger
from shared.services.failures import PayloadError, UnexpectedStepError, fields_of
from shared.services.runs import RunService
from shared.services.settlement import SettlementService
from shared.services.wiring import build_run_service

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@lru_cache(maxsize=1)
def run_service() -> RunService:
    """Settings are read from the environment once per container."""
    return build_run_service(load_settings(RunSettings))


def settlement_service() -> SettlementService:
    """The run service's settlement (AggregateRun, RenderStatements, CloseRun), on the same storage."""
    return run_service().settlement


def step(name: str) -> Callable[[Handler], Handler]:
    """Wrap a step's handler: a domain error goes out as it is (its message is safe to show and keep);
    an invalid payload as PayloadError naming the fields; anything else as UnexpectedStepError naming
    only its type, with the trace's frames (not its message, which may quote data) in the log."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
            try:
                return handler(event, context)
            except DomainError:
                raise
            except ValidationError as error:
                raise PayloadError(f"{name} got a payload it cannot take: {fields_of(error)}") from None
            except Exception as error:
                frames = traceback.format_tb(error.__traceback__)
                logger.error("step failed", step=name, error=type(error).__name__, frames=frames)
                raise UnexpectedStepError(f"{type(error).__name__} in {name}") from None

        return run

    return wrap
