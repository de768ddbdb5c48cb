"""`LocalRuntime`: the synthesized stack inside `mock_aws`, with invokes routed to the real handlers."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any
from unittest import mock

from moto import mock_aws
from moto.core.config import DefaultConfig

from cli.local.direct_dynamodb import in_process_dynamodb
from cli.local.executions import (
    ExecutionProgress,
    ExecutionResult,
    ExecutionTimeoutError,
    ProgressCallback,
    signalled_ends,
    start_and_wait,
    wait_for_execution,
)
from cli.local.lambdas import LambdaRouter, PumpStats, QueuePump, reset_process_caches
from cli.local.moto_speedups import partition_queries
from cli.local.stack import LocalStack
from cli.local.synth_cache import cached_template
from cli.local.template import create_stack
from shared.clock import Clock, clock_override

__all__ = [
    "DEFAULT_REGION",
    "MOTO_CONFIG",
    "ExecutionProgress",
    "ExecutionResult",
    "ExecutionTimeoutError",
    "LocalRuntime",
    "ProgressCallback",
    "app_asset_dirs",
    "app_template",
    "default_asset_dirs",
    "fake_aws_env",
    "function_env",
    "start_and_wait",
]

DEFAULT_REGION = "us-east-1"
MOTO_CONFIG: DefaultConfig = {
    "lambda": {"use_docker": False},
    "stepfunctions": {"execute_state_machine": True},
}
# Variables that would send boto3 anywhere but moto, or that moto ignores and a handler should not see.
_FOREIGN_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL")
LOCAL_ONLY_ENV = {"CLAIM_VERSION_READERS": "1"}
"""Settings the local runtime gives its handlers beside the template's: moto answers in this process, so
reader threads that overlap DynamoDB's network waits only contend for the GIL here (34 s against 40 s for
the demo's ingest)."""


def fake_aws_env(region: str) -> dict[str, str]:
    """Credentials and region that keep boto3 off real AWS."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def function_env(stack: LocalStack) -> dict[str, str]:
    """The union of the routed functions' resolved environments (they share one variable set)."""
    merged: dict[str, str] = {}
    for spec in stack.functions.values():
        merged.update(spec.environment)
    return merged


def default_asset_dirs() -> tuple[Path, ...]:
    """Where a synthesized app's file assets (e.g. state machine definitions) are found."""
    return (Path("cdk.out"),)


def app_template(stage: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The project's CDK app synthesized for a stage (with `context` added to cdk.json's), without packaging
    the Lambda code asset (kept between runs while nothing synthesis reads changes:
    `cli/local/synth_cache.py`)."""

    def synthesize(stage: str) -> dict[str, Any]:
        from infra.app import synth_template

        return synth_template(stage, package_assets=False, context=context)

    return cached_template(stage, synthesize, context=context)


def app_asset_dirs() -> tuple[Path, ...]:
    """Where the app's file assets are found: a cloud assembly, else the state machine sources."""
    import infra

    return (*default_asset_dirs(), Path(infra.__file__).parent / "state_machines")


class LocalRuntime:
    """The stack of a synthesized template on moto's in-memory AWS, handlers running in this process."""

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        region: str = DEFAULT_REGION,
        stack_name: str = "p4p-local",
        asset_dirs: Sequence[Path] | None = None,
        clock: Clock | None = None,
    ) -> None:
        """`clock`, when given, is the engine's clock (`shared.clock.now`) for as long as the runtime runs."""
        self.template = template
        self.clock = clock
        self.region = region
        self.stack_name = stack_name
        self.asset_dirs = tuple(asset_dirs) if asset_dirs is not None else default_asset_dirs()
        self._exit = ExitStack()
        self._stack: LocalStack | None = None
        self._router: LambdaRouter | None = None

    @classmethod
    def from_app(
        cls, stage: str = "dev", context: dict[str, Any] | None = None, **kwargs: Any
    ) -> LocalRuntime:
        """Synthesize the project's CDK app for a stage (with `context`, e.g. `{"member_buckets": 1}`) and
        build a runtime from its template."""
        kwargs.setdefault("asset_dirs", app_asset_dirs())
        return cls(app_template(stage, context), stack_name=f"p4p-{stage}", **kwargs)

    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start moto, create the stack, export the functions' environment, route invokes."""
        try:
            env = self._exit.enter_context(mock.patch.dict(os.environ, fake_aws_env(self.region)))
            for key in [k for k in env if k in _FOREIGN_ENV or k.startswith("AWS_ENDPOINT_URL_")]:
                del env[key]
            if self.clock is not None:
                self._exit.enter_context(clock_override(self.clock))
            self._exit.enter_context(mock_aws(config=MOTO_CONFIG))
            self._exit.enter_context(partition_queries())
            self._exit.enter_context(in_process_dynamodb())
            self._exit.enter_context(signalled_ends())
            self._stack = create_stack(
                self.template, region=self.region, stack_name=self.stack_name, asset_dirs=self.asset_dirs
            )
            os.environ.update(function_env(self._stack))
            os.environ.update(LOCAL_ONLY_ENV)
            reset_process_caches()
            self._exit.callback(reset_process_caches)
            self._router = LambdaRouter(self._stack.functions)
            self._exit.enter_context(self._router.patched())
        except BaseException:
            self._exit.close()
            raise

    def stop(self) -> None:
        """Undo everything `start` did: patches, environment and moto's state."""
        self._exit.close()
        self._stack = None
        self._router = None

    @property
    def stack(self) -> LocalStack:
        if self._stack is None:
            raise RuntimeError("LocalRuntime is not started")
        return self._stack

    @property
    def outputs(self) -> dict[str, str]:
        """The template's outputs, resolved to physical values."""
        return self.stack.outputs

    def client(self, service: str) -> Any:
        """A boto3 client on the local stack."""
        return self.stack.client(service)

    def invoke(self, function_name: str, event: Any) -> Any:
        """Call a template function's handler directly, as a synchronous invoke would."""
        assert self._router is not None
        return self._router.call(function_name, event)

    def pump_ingest_queue(self, max_rounds: int = 100) -> PumpStats:
        """Deliver queued messages to their functions like Lambda's event source mappings, until empty."""
        assert self._router is not None
        return QueuePump(self.stack, self._router).pump(max_rounds)

    def start_and_wait(
        self,
        state_machine_arn: str,
        input: Mapping[str, Any],
        name: str | None = None,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ExecutionResult:
        """Run a state machine execution to its end and return how it ended. The wait lasts as long as
        the execution runs, up to `timeout_s` in all (default: the state machine's own TimeoutSeconds);
        `on_progress` hears of each step entered and each Map item finished."""
        return start_and_wait(self.stack, state_machine_arn, input, name, timeout_s, on_progress)

    def wait_for(
        self, execution_arn: str, timeout_s: float | None = None, on_progress: ProgressCallback | None = None
    ) -> ExecutionResult:
        """Wait for an execution started elsewhere (the operator function, say), as `start_and_wait` does."""
        return wait_for_execution(
            self.client("stepfunctions"), execution_arn, limit_s=timeout_s, on_progress=on_progress
        )
