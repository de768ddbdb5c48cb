"""The ASL files: valid JSON, the contract's states, retries and catches, no ItemBatcher."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

STATE_MACHINES = Path(__file__).resolve().parents[2] / "infra" / "state_machines"
DEFINITIONS = ("payment_run.asl.json",)
REQUIRED_STATES = {
    "OpenRun",
    "PlanShards",
    "BuildParts",
    "EarnShards",
    "AggregateRun",
    "RenderStatements",
    "CloseRun",
    "MarkFailed",
}
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def _load(name: str) -> dict[str, Any]:
    return json.loads((STATE_MACHINES / name).read_text(encoding="utf-8"))


def _tasks(states: dict[str, Any]) -> dict[str, Any]:
    found = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        if state["Type"] == "Map":
            found |= _tasks(state["ItemProcessor"]["States"])
    return found


@pytest.mark.parametrize("name", DEFINITIONS)
def test_definition_has_the_contract_states_and_a_fail_state(name: str) -> None:
    # GIVEN a definition file
    definition = _load(name)

    # WHEN we list its top-level states
    states = definition["States"]

    # THEN it starts by opening the run and has every step of the contract and a Fail state
    assert definition["StartAt"] == "OpenRun"
    assert set(states) >= REQUIRED_STATES
    assert any(s["Type"] == "Fail" for s in states.values())


@pytest.mark.parametrize("name", DEFINITIONS)
def test_earn_shards_is_a_distributed_map_over_an_s3_manifest_without_item_batcher(name: str) -> None:
    # GIVEN the map state of a definition
    text = (STATE_MACHINES / name).read_text(encoding="utf-8")
    earn = json.loads(text)["States"]["EarnShards"]

    # WHEN / THEN it reads the manifest from S3, runs children in distributed mode, and batches nothing
    assert "ItemBatcher" not in text
    assert earn["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert earn["ItemReader"]["ReaderConfig"]["InputType"] == "JSON"
    assert earn["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert earn["MaxConcurrency"] > 0
    assert earn["ResultPath"] is None


@pytest.mark.parametrize("name", DEFINITIONS)
def test_every_task_invokes_lambda_retries_service_errors_and_catches_to_fail_run(name: str) -> None:
    # GIVEN every task of a definition (including the map's)
    definition = _load(name)
    tasks = _tasks(definition["States"])
    fail_run_states = {
        n for n, t in tasks.items() if t["Parameters"]["FunctionName"] == "${FailRunFunctionArn}"
    }

    # WHEN / THEN each invokes Lambda through the optimised integration and retries Lambda's own errors
    assert fail_run_states
    for task in tasks.values():
        assert task["Resource"] == "arn:aws:states:::lambda:invoke"
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        assert retried >= LAMBDA_ERRORS
    # AND each top-level step catches everything into a FailRun step, through a Pass that names the step
    states = definition["States"]
    for state_name, state in states.items():
        if state["Type"] in {"Task", "Map"} and state_name not in fail_run_states:
            [catch] = state["Catch"]
            assert catch["ErrorEquals"] == ["States.ALL"]
            assert catch["ResultPath"] == "$.error"
            target = states[catch["Next"]]
            if catch["Next"] not in fail_run_states:
                assert target["Type"] == "Pass" and target["Result"] == state_name
                assert target["ResultPath"] == "$.failed_step" and target["Next"] in fail_run_states


@pytest.mark.parametrize("name", DEFINITIONS)
def test_the_parts_are_built_before_the_shards_only_when_the_plan_has_some(name: str) -> None:
    # GIVEN the states between PlanShards and EarnShards
    states = _load(name)["States"]
    choice, parts = states[states["PlanShards"]["Next"]], states["BuildParts"]

    # WHEN / THEN a choice sends a plan with parts through the BuildParts map, a distributed map over the
    # S3 parts manifest whose results stay out of the state, and any other plan straight to the shards
    assert choice["Type"] == "Choice" and choice["Default"] == "EarnShards"
    assert choice["Choices"] == [
        {"Variable": "$.plan.value.part_count", "NumericGreaterThan": 0, "Next": "BuildParts"}
    ]
    assert parts["Next"] == "EarnShards" and parts["ResultPath"] is None
    assert parts["ItemReader"]["Parameters"] == {
        "Bucket.$": "$.plan.value.bucket",
        "Key.$": "$.plan.value.parts_key",
    }
    assert parts["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert parts["ItemSelector"] == {"run.$": "$.run.value", "part.$": "$$.Map.Item.Value"}


@pytest.mark.parametrize("name", DEFINITIONS)
def test_earn_shard_also_retries_its_own_failures(name: str) -> None:
    # GIVEN the task inside the map
    earn = _load(name)["States"]["EarnShards"]["ItemProcessor"]["States"]["EarnShard"]

    # WHEN we look for a retry on task failures
    retries = [r for r in earn["Retry"] if "States.TaskFailed" in r["ErrorEquals"]]

    # THEN a failed shard is tried again a few times before the run fails
    assert retries and 2 <= retries[0]["MaxAttempts"] <= 5


def test_open_run_takes_the_machines_kind_and_the_untouched_execution_input() -> None:
    # GIVEN the OpenRun task of the template
    payload = _load("payment_run.asl.json")["States"]["OpenRun"]["Parameters"]["Payload"]

    # WHEN / THEN it names the machine's kind (substituted per machine) and passes the whole input, so
    # OpenRun can refuse another kind's request and any key it does not know
    assert payload == {
        "machine": "${RunKind}",
        "execution_name.$": "$$.Execution.Name",
        "request.$": "$$.Execution.Input",
    }


def test_a_failed_execution_reports_the_recorded_domain_error_and_message() -> None:
    # GIVEN the Fail states of the template
    states = _load("payment_run.asl.json")["States"]

    # WHEN / THEN the run's failure reports MarkFailed's error and cause, not a fixed text; only a failure
    # to record the failure falls back to a fixed one
    assert states["RunFailed"] == {
        "Type": "Fail",
        "Comment": states["RunFailed"]["Comment"],
        "ErrorPath": "$.failed.value.error",
        "CausePath": "$.failed.value.cause",
    }
    for marker in ("MarkFailed", "MarkOpenFailed"):
        assert states[marker]["Next"] == "RunFailed"
        assert states[marker]["Catch"][0]["Next"] == "FailureNotRecorded"
    assert states["MarkFailed"]["Parameters"]["Payload"]["step.$"] == "$.failed_step"
