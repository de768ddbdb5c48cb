"""`serve`: the local stack on a moto server at 127.0.0.1, for the `p4p` operator commands and the AWS CLI."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from cli.local.lambdas import LambdaRouter, PumpStats, QueuePump, reset_process_caches
from cli.local.moto_speedups import partition_queries
from cli.local.runtime import (
    DEFAULT_REGION,
    MOTO_CONFIG,
    ExecutionResult,
    app_asset_dirs,
    app_template,
    default_asset_dirs,
    fake_aws_env,
    function_env,
    start_and_wait,
)
from cli.local.stack import LocalStack
from cli.local.template import create_stack

STATE_FILE = "local-stack.json"
DEFAULT_PORT = 4566
PUMP_INTERVAL_S = 1.0
_log = logging.getLogger(__name__)


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
    ) -> None:
        self.template = template
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
        """Start the server, create the stack through it, route invokes, pump, write the state file."""
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
        self._exit.enter_context(partition_queries())
        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        server.start()
        self._exit.callback(server.stop)
        self.port = server.get_host_and_port()[1]
        env = fake_aws_env(self.region) | {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            # Step Functions' interpreter calls Lambda at localhost:$MOTO_PORT when not under mock_aws.
            "MOTO_PORT": str(self.port),
        }
        self._exit.enter_context(mock.patch.dict(os.environ, env))
        self._stack = create_stack(
            self.template,
            region=self.region,
            endpoint_url=self.endpoint_url,
            stack_name=self.stack_name,
            asset_dirs=self.asset_dirs,
        )
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
        timeout_s: float = 120,
    ) -> ExecutionResult:
        """Run a state machine execution to its end and return how it ended."""
        return start_and_wait(self.stack, state_machine_arn, input, name, timeout_s)

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
) -> None:
    """Serve the stack of `stage` (or of `template`) until Ctrl-C or `stop_event` is set."""
    if template is None:
        template = app_template(stage)
        asset_dirs = app_asset_dirs() if asset_dirs is None else asset_dirs
    server = LocalServer(
        template, host=host, port=port, stack_name=f"p4p-{stage}", state_dir=state_dir, asset_dirs=asset_dirs
    )
    server.start()
    _log.info("local stack serving at %s (state in %s)", server.endpoint_url, server.state_file)
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
