"""Starting the run kinds' state machines (only the operator API does, so it can record who asked)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class ExecutionStarter(ABC):
    """Starts an execution of a state machine with a JSON input."""

    @abstractmethod
    def start(self, state_machine_arn: str, name: str, payload: Mapping[str, Any]) -> str:
        """Start it; returns the execution ARN."""


class StepFunctionsExecutions(ExecutionStarter):
    """`ExecutionStarter` on the Step Functions API."""

    def __init__(self, client: SFNClient) -> None:
        self._sfn = client

    def start(self, state_machine_arn: str, name: str, payload: Mapping[str, Any]) -> str:
        response = self._sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(dict(payload))
        )
        return str(response["executionArn"])
