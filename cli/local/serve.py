"""`serve`: the local stack on a moto server at 127.0.0.1, for the `p4p` operator commands and the AWS CLI."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from cli.local.executions import ExecutionResult, ProgressCallback, start_and_wait
from cli.local.lambdas import LambdaRouter, PumpStats, QueuePump, reset_process_caches
from cli.local.moto_speedups import partition_queries
from cli.local.runtime import (
    DEFAULT_REGION,
    MOTO_CONFIG,
    app_asset_dirs,
    app_template,
    default_asset_dirs,
    fake_aws_env,
    function_env,
)
from cli.local.stack import LocalStack
from cli.local.template import create_stack
from shared.clock import Clock, clock_override

STATE_FILE = "local-stack.json"
DEFAULT_PORT = 4566
PUMP_INTERVAL_S = 1.0
READY_WITHIN_S = 60.0
"""How long the endpoint may take to answer and to list the created stack before `start` gives up."""
_log = logging.getLogger(__name__)
Report = Callable[[str], None]


class NotReadyError(Exception):
    """The server did not answer, or did not list the whole stack, within `READY_WITHIN_S`."""


class LocalServer:
    """A moto server in this process holding the stack; invokes run the handlers here, a thread pumps SQS."""

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        region: str = DEFAULT_REGION,
        stack_name: str = "p4p-local",
        state_dir: Path = Path(".p4p"),
        asset_dirs: Sequence[Path] | None = None,
        pump_interval_s: float = PUMP_INTERVAL_S,
        clock: Clock | None = None,
        report: Report | None = None,
    ) -> None:
        """`clock`, when given, is the engine's clock while serving; `report` hears each step of `start`."""
        self.template = template
        self.clock = clock
        self.report: Report = report or _log.info
        self.host, self.port, self.region = host, port, region
        self.stack_name = stack_name
        self.state_file = state_dir / STATE_FILE
        self.asset_dirs = tuple(asset_dirs) if asset_dirs is not None else default_asset_dirs()
        self.pump_interval_s = pump_interval_s
        self._exit = ExitStack()
        self._stopping = threading.Event()
        self._stack: LocalStack | None = None
        self._pump: QueuePump | None = None
        self._pump_lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def stack(self) -> LocalStack:
        if self._stack is None:
            raise RuntimeError("LocalServer is not started")
        return self._stack

    @property
    def outputs(self) -> dict[str, str]:
        return self.stack.outputs

    def start(self) -> None:
        """Start the server, create the stack through it, route invokes, pump, write the state file.

        Returns once the endpoint answers HTTP and lists every function and state machine of the stack."""
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise

    def _start(self) -> None:
        # The server's backends read moto's global config, the same switch mock_aws(config=...) flips.
        self._exit.enter_context(mock.patch.dict(default_user_config, MOTO_CONFIG))
        # One request line per call, and the pump polls every second: keep the console for the handlers.
        requests_log = logging.getLogger("werkzeug")
        self._exit.callback(requests_log.setLevel, requests_log.level)
        requests_log.setLevel(logging.WARNING)
        # moto's ASL parser warns that ToleratedFailurePercentage is not simulated; it is 0 here.
        parser_log = logging.getLogger("moto.stepfunctions.parser")
        self._exit.callback(parser_log.setLevel, parser_log.level)
        parser_log.setLevel(logging.ERROR)
        self._exit.enter_context(partition_queries())
        if self.clock is not None:
            self._exit.enter_context(clock_override(self.clock))
        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        server.start()
        self._exit.callback(server.stop)
        self.port = server.get_host_and_port()[1]
        self.report(f"starting the moto server on {self.endpoint_url}")
        _wait_until(lambda: _answers_http(self.endpoint_url), f"{self.endpoint_url} does not answer HTTP")
        # moto's backends live in the process: a server started after another one would find its stack.
        _reset_moto(self.endpoint_url)
        self._exit.callback(_reset_moto, self.endpoint_url)
        env = fake_aws_env(self.region) | {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            # Step Functions' interpreter calls Lambda at localhost:$MOTO_PORT when not under mock_aws.
            "MOTO_PORT": str(self.port),
        }
        self._exit.enter_context(mock.patch.dict(os.environ, env))
        started = time.monotonic()
        self._stack = create_stack(
            self.template,
            region=self.region,
            endpoint_url=self.endpoint_url,
            stack_name=self.stack_name,
            asset_dirs=self.asset_dirs,
            progress=self._report_created,
        )
        stack = self._stack
        self.report(f"created {len(stack.created)} resources in {time.monotonic() - started:.0f} s")
        _wait_until(lambda: not _unlisted(stack), "the endpoint does not list the whole stack")
        os.environ.update(function_env(self._stack))
        reset_process_caches()
        self._exit.callback(reset_process_caches)
        router = LambdaRouter(self._stack.functions)
        self._exit.enter_context(router.patched())
        self._pump = QueuePump(self._stack, router)
        pump_thread = threading.Thread(target=self._pump_forever, name="p4p-local-pump", daemon=True)
        pump_thread.start()
        self._exit.callback(pump_thread.join)
        self._exit.callback(self._stopping.set)
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(
            json.dumps(
                {"endpoint_url": self.endpoint_url, "region": self.region, "outputs": self._stack.outputs},
                indent=2,
            )
        )
        self._exit.callback(self.state_file.unlink, missing_ok=True)

    def _report_created(self, done: int, total: int, logical_id: str) -> None:
        # The first line says how many; then one line per tenth, so a slow machine shows it moving.
        if done == 1:
            self.report(f"creating {total} resources of {self.stack_name}")
        elif done % max(1, total // 10) == 0 and done < total:
            self.report(f"created {done} of {total} resources")

    def _pump_forever(self) -> None:
        while not self._stopping.wait(self.pump_interval_s):
            try:
                self.pump_ingest_queue()
            except Exception:
                # A broken round must not end local serving; the next round retries.
                _log.exception("queue pump round failed")

    def pump_ingest_queue(self, max_rounds: int = 100) -> PumpStats:
        """Deliver queued messages now (the background thread does the same every interval)."""
        assert self._pump is not None
        with self._pump_lock:
            return self._pump.pump(max_rounds)

    def start_and_wait(
        self,
        state_machine_arn: str,
        input: Mapping[str, Any],
        name: str | None = None,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ExecutionResult:
        """Run a state machine execution to its end and return how it ended (see `LocalRuntime`)."""
        return start_and_wait(self.stack, state_machine_arn, input, name, timeout_s, on_progress)

    def stop(self) -> None:
        """Stop pumping and serving, restore the environment and remove the state file."""
        self._exit.close()
        self._stack = None
        self._pump = None


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    stage: str = "dev",
    state_dir: Path = Path(".p4p"),
    *,
    template: Mapping[str, Any] | None = None,
    asset_dirs: Sequence[Path] | None = None,
    stop_event: threading.Event | None = None,
    clock: Clock | None = None,
    report: Report | None = None,
) -> None:
    """Serve the stack of `stage` (or of `template`) until Ctrl-C or `stop_event` is set.

    `report` (default: this module's logger) hears what is being done, then one line starting `ready:`
    once the endpoint answers and lists the whole stack; nothing before that line should be called."""
    say: Report = report or _log.info
    if template is None:
        say(f"synthesizing the {stage} stack (CDK)")
        template = app_template(stage)
        asset_dirs = app_asset_dirs() if asset_dirs is None else asset_dirs
    server = LocalServer(
        template,
        host=host,
        port=port,
        stack_name=f"p4p-{stage}",
        state_dir=state_dir,
        asset_dirs=asset_dirs,
        clock=clock,
        report=say,
    )
    server.start()
    stack = server.stack
    say(
        f"ready: the {stage} stack serves at {server.endpoint_url} ({len(stack.functions)} functions, "
        f"{_state_machine_count(stack)} state machines; state in {server.state_file}; Ctrl-C stops)"
    )
    stop = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        # `kill` should clean up like Ctrl-C does: a stale state file would point `p4p run` at nothing.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _answers_http(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=2):  # noqa: S310 - loopback
            return True
    except urllib.error.HTTPError:
        return True  # an HTTP error is an answer
    except OSError:
        return False


def _reset_moto(endpoint_url: str) -> None:
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - loopback
        pass


def _state_machine_count(stack: LocalStack) -> int:
    return sum(1 for kind in stack.created.values() if kind == "AWS::StepFunctions::StateMachine")


def _unlisted(stack: LocalStack) -> list[str]:
    """Functions and state machines of the stack that the endpoint does not list (yet)."""
    listed_functions = {
        f["FunctionName"]
        for page in stack.client("lambda").get_paginator("list_functions").paginate()
        for f in page["Functions"]
    }
    listed_machines = {
        m["stateMachineArn"]
        for page in stack.client("stepfunctions").get_paginator("list_state_machines").paginate()
        for m in page["stateMachines"]
    }
    machines = [
        str(stack.physical_ids[logical_id])
        for logical_id, kind in stack.created.items()
        if kind == "AWS::StepFunctions::StateMachine"
    ]
    return [f for f in stack.functions if f not in listed_functions] + [
        m for m in machines if m not in listed_machines
    ]


def _wait_until(ready: Callable[[], bool], problem: str) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while not ready():
        if time.monotonic() > deadline:
            raise NotReadyError(f"{problem} after {READY_WITHIN_S:.0f} s")
        time.sleep(0.1)
