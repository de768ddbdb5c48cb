"""What creating a template in moto produced, shared by the runtime, the server and the resource creators."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import boto3


@lru_cache(maxsize=8)
def _session(region: str) -> boto3.session.Session:
    # One session keeps botocore's parsed service models: a fresh one per client costs ~0.25 s each.
    return boto3.session.Session(region_name=region)


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function of the template, as the local runtime routes it."""

    logical_id: str
    name: str
    arn: str
    handler: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int


@dataclass(frozen=True)
class EventSourceSpec:
    """An event source mapping of the template: which queue feeds which function, and how."""

    logical_id: str
    function_name: str
    source_arn: str
    queue_url: str | None
    batch_size: int
    report_batch_item_failures: bool
    enabled: bool


@dataclass
class LocalStack:
    """What creating a template produced: physical ids, routed functions, event sources, outputs, and a
    resolver of the template's intrinsics."""

    region: str
    account_id: str
    endpoint_url: str | None
    physical_ids: dict[str, Any] = field(default_factory=dict)
    created: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    event_sources: list[EventSourceSpec] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    resolve: Callable[[Any], Any] | None = None
    """Resolves intrinsics (`Ref`, `Fn::GetAtt`, `Fn::Sub`…) of the template to what was created here."""

    def client(self, service: str) -> Any:
        """A boto3 client for this stack's endpoint (moto's mock or server)."""
        return _session(self.region).client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's placeholder, never a real secret
        )
