"""Starting the run kinds' state machines (only the operator API does, so it can record who asked)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared.dal.dynamo import error_code
from shared.dal.errors import AlreadyRecordedError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class ExecutionStarter(ABC):
    """Starts an execution of a state machine with a JSON input."""

    @abstractmethod
    def start(self, state_machine_arn: str, name: str, payload: Mapping[str, Any]) -> str:
        """Start it; returns the execution ARN. The same name and input again, while that execution runs,
        is the same execution; AlreadyRecordedError when the name was taken otherwise."""


class StepFunctionsExecutions(ExecutionStarter):
    """`ExecutionStarter` on the Step Functions API."""

    def __init__(self, client: SFNClient) -> None:
        self._sfn = client

    def start(self, state_machine_arn: str, name: str, payload: Mapping[str, Any]) -> str:
        try:
            response = self._sfn.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(dict(payload))
            )
        except ClientError as error:
            if error_code(error) == "ExecutionAlreadyExists":
                raise AlreadyRecordedError(f"execution {name}") from None
            raise
        return str(response["executionArn"])
