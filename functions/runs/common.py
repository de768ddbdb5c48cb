"""The services every run handler calls, built once per container on first use."""

from __future__ import annotations

from functools import lru_cache

from shared.models.settings import RunSettings, load_settings
from shared.services.runs import RunService
from shared.services.settlement import SettlementService
from shared.services.wiring import build_run_service


@lru_cache(maxsize=1)
def run_service() -> RunService:
    """Settings are read from the environment once per container."""
    return build_run_service(load_settings(RunSettings))


def settlement_service() -> SettlementService:
    """The run service's settlement (AggregateRun, RenderStatements, CloseRun), on the same storage."""
    return run_service().settlement
