from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from cli.local.serve import STATE_FILE, serve
from tests.local import fixture_handlers
from tests.local.conftest import SynthesizedFixture

pytestmark = [pytest.mark.xdist_group("local"), pytest.mark.enable_socket]


def _wait_for(predicate: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_serve_answers_boto3_on_loopback_and_processes_dropped_files(
    synthesized: SynthesizedFixture, tmp_path: Path
) -> None:
    # GIVEN the stack served on a free loopback port
    fixture_handlers.reset()
    stop = threading.Event()
    server = threading.Thread(
        target=serve,
        kwargs={
            "port": 0,
            "state_dir": tmp_path,
            "template": synthesized.template,
            "asset_dirs": [synthesized.assembly_dir],
            "stop_event": stop,
        },
    )
    server.start()
    state_file = tmp_path / STATE_FILE
    try:
        assert _wait_for(state_file.exists, timeout_s=60)
        state = json.loads(state_file.read_text())
        session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name=state["region"])
        s3 = session.client("s3", endpoint_url=state["endpoint_url"])
        ddb = session.client("dynamodb", endpoint_url=state["endpoint_url"])

        # WHEN a file is put into the landing bucket through the endpoint
        s3.put_object(
            Bucket=state["outputs"]["LandingBucketName"], Key="landing/claims/served.csv", Body=b"1"
        )

        # THEN the endpoint is on 127.0.0.1 and the background pump gets the file processed
        assert state["endpoint_url"].startswith("http://127.0.0.1:")
        table = state["outputs"]["RecordsTableName"]
        assert _wait_for(lambda: ddb.scan(TableName=table)["Count"] == 1)
        assert [key for key, *_ in fixture_handlers.calls("ingest.accepted")] == ["landing/claims/served.csv"]
    finally:
        stop.set()
        server.join(timeout=30)

    assert not server.is_alive()
    assert not state_file.exists()


def test_serve_says_ready_only_once_the_endpoint_lists_the_whole_stack(
    synthesized: SynthesizedFixture, tmp_path: Path
) -> None:
    # GIVEN a server whose report lines are checked against its endpoint the moment each one is said
    lines: list[str] = []
    listed_at_ready: dict[str, int] = {}
    stop = threading.Event()

    def report(line: str) -> None:
        lines.append(line)
        if line.startswith("ready:"):
            state = json.loads((tmp_path / STATE_FILE).read_text())
            session = boto3.Session(
                aws_access_key_id="x", aws_secret_access_key="y", region_name=state["region"]
            )
            functions = session.client("lambda", endpoint_url=state["endpoint_url"]).list_functions()
            machines = session.client(
                "stepfunctions", endpoint_url=state["endpoint_url"]
            ).list_state_machines()
            listed_at_ready["functions"] = len(functions["Functions"])
            listed_at_ready["state machines"] = len(machines["stateMachines"])
            stop.set()

    resources = synthesized.template["Resources"]
    # Custom resource providers are not created locally (the runtime wires what they would do itself).
    providers = {
        r["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"].startswith("Custom::")
    }
    kinds = [r["Type"] for logical_id, r in resources.items() if logical_id not in providers]

    # WHEN it starts
    server = threading.Thread(
        target=serve,
        kwargs={
            "port": 0,
            "state_dir": tmp_path,
            "template": synthesized.template,
            "asset_dirs": [synthesized.assembly_dir],
            "stop_event": stop,
            "report": report,
        },
    )
    server.start()
    server.join(timeout=90)

    # THEN it said what it was doing, and said ready last, when the endpoint already listed every
    # function and state machine of the template
    assert not server.is_alive()
    assert any(line.startswith("creating ") for line in lines[:-1])
    assert lines[-1].startswith("ready:") and sum(line.startswith("ready:") for line in lines) == 1
    assert listed_at_ready == {
        "functions": kinds.count("AWS::Lambda::Function"),
        "state machines": kinds.count("AWS::StepFunctions::StateMachine"),
    }
