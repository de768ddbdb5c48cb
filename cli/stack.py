"""Finding a stack's resources: a deployed CloudFormation stack, or the local runtime's state file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

LOCAL_STATE_FILE = Path(".p4p") / "local-stack.json"


class StackNotFoundError(Exception):
    """Neither a deployed stack nor a running local runtime could be found."""


@dataclass(frozen=True)
class StackRef:
    """The outputs of one deployed stack and how to reach its account (endpoint for the local runtime)."""

    name: str
    outputs: dict[str, str]
    endpoint_url: str | None = None
    region: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def client(self, service: str) -> Any:
        """A boto3 client for this stack's account (pointed at the local endpoint where there is one)."""
        if service not in self._clients:
            # The local runtime accepts any credentials; real ones come from the standard AWS chain.
            local = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
            credentials = local if self.endpoint_url else {}
            self._clients[service] = boto3.client(
                service, endpoint_url=self.endpoint_url, region_name=self.region, **credentials
            )
        return self._clients[service]

    def output(self, key: str) -> str:
        """One stack output, or a clear error naming the key."""
        try:
            return self.outputs[key]
        except KeyError as error:
            raise StackNotFoundError(f"stack {self.name} has no output {key}") from error


def resolve_stack(stack: str | None, local_state: Path = LOCAL_STATE_FILE) -> StackRef:
    """`--stack NAME` reads a deployed stack's outputs; without it, the running `p4p local serve`."""
    if stack:
        cloudformation = boto3.client("cloudformation")
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        return StackRef(name=stack, outputs=outputs, region=cloudformation.meta.region_name)
    if not local_state.exists():
        raise StackNotFoundError(
            "no --stack given and no local runtime found: start one with `p4p local serve` "
            f"(it writes {local_state}) or name a deployed stack with --stack"
        )
    state = json.loads(local_state.read_text())
    return StackRef(
        name="local",
        outputs=state["outputs"],
        endpoint_url=state["endpoint_url"],
        region=state.get("region", "us-east-1"),
    )
