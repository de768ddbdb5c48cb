"""The ingest fan-out on the stack: its definition, its functions and roles, its machine, and the one
function that may start it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.constructs.ingest_fan_out import MACHINE_ID
from shared.models.tables import FAN_OUT_STATE_MACHINE_ENV
from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.xdist_group("infra")

HANDLERS = {
    "SplitFile": "functions.ingest.fan_out.split",
    "IngestShard": "functions.ingest.fan_out.shard",
    "FinishFile": "functions.ingest.fan_out.finish",
    "FailFile": "functions.ingest.fan_out.fail",
}


def _function(dev: Synthesized, handler: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (key, f["Properties"])
        for key, f in dev.of_type("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == handler
    ]
    return found


def _definition(dev: Synthesized) -> dict[str, Any]:
    return json.loads(dev.resources[MACHINE_ID]["Properties"]["DefinitionString"])


def _policy_statements(dev: Synthesized, role_ref: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for p in dev.of_type("AWS::IAM::ManagedPolicy").values()
        if role_ref in p["Properties"].get("Roles", [])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def test_the_machine_splits_maps_the_shards_and_finishes_and_every_task_fails_the_file(
    dev: Synthesized,
) -> None:
    # GIVEN the fan-out's definition
    states = _definition(dev)["States"]
    # WHEN we follow it
    shards = states["IngestShards"]
    inner = shards["ItemProcessor"]["States"]["IngestShard"]
    # THEN a split, a choice (a duplicate or quarantined file is done), a distributed map over the shard
    # list the split wrote, a finish; every task retries Lambda's errors and its own; every failure path
    # records the file FAILED before the execution fails
    assert states["SplitFile"]["Next"] == "AnyShards" and states["AnyShards"]["Default"] == "Done"
    assert shards["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED" and "ItemBatcher" not in shards
    assert shards["ItemReader"]["Parameters"] == {"Bucket.$": "$.split.bucket", "Key.$": "$.split.items_key"}
    assert shards["ToleratedFailurePercentage"] == 0 and shards["Next"] == "FinishFile"
    for name in ("SplitFile", "FinishFile"):
        retried = {e for r in states[name]["Retry"] for e in r["ErrorEquals"]}
        assert "States.TaskFailed" in retried and "Lambda.TooManyRequestsException" in retried
    assert {e for r in inner["Retry"] for e in r["ErrorEquals"]} >= {"States.TaskFailed"}
    assert states["SplitFile"]["Catch"][0]["Next"] == "SplitFailed"
    assert shards["Catch"][0]["Next"] == states["FinishFile"]["Catch"][0]["Next"] == "FileFailed"
    assert states["FileFailed"]["Parameters"]["Payload"]["file_id.$"] == "$.split.file_id"
    assert states["SplitFailed"]["Next"] == states["FileFailed"]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"


def test_the_shards_map_runs_as_many_shards_as_ingest_shard_may_and_every_placeholder_is_a_function(
    dev: Synthesized,
) -> None:
    # GIVEN the machine and the IngestShard function
    props = dev.resources[MACHINE_ID]["Properties"]
    _, shard = _function(dev, HANDLERS["IngestShard"])
    # WHEN / THEN the map's concurrency is the function's reserved concurrency, and each placeholder is
    # filled with one of the four functions' ARNs
    assert (
        _definition(dev)["States"]["IngestShards"]["MaxConcurrency"] == shard["ReservedConcurrentExecutions"]
    )
    placeholders = set(re.findall(r"\$\{(\w+)\}", props["DefinitionString"]))
    assert placeholders == set(props["DefinitionSubstitutions"]) == {f"{n}FunctionArn" for n in HANDLERS}
    for name, handler in HANDLERS.items():
        key, _ = _function(dev, handler)
        assert props["DefinitionSubstitutions"][f"{name}FunctionArn"] == {"Fn::GetAtt": [key, "Arn"]}


def test_the_machine_is_encrypted_logged_without_data_traced_and_may_run_its_map(dev: Synthesized) -> None:
    # GIVEN the machine and its role's policies
    props = dev.resources[MACHINE_ID]["Properties"]
    actions = _actions(_policy_statements(dev, {"Ref": props["RoleArn"]["Fn::GetAtt"][0]}))
    # WHEN / THEN its definition and history are under the stack's key, its logs carry no payloads, and
    # it may start and watch its children, read the shard list and invoke its functions, nothing wider
    assert props["EncryptionConfiguration"]["Type"] == "CUSTOMER_MANAGED_KMS_KEY"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert {
        "states:StartExecution",
        "states:DescribeExecution",
        "s3:GetObject",
        "lambda:InvokeFunction",
    } <= actions
    assert not any(a.endswith("*") for a in actions if not a.startswith(("xray:", "logs:")))


def test_only_the_ingest_function_may_start_the_fan_out_and_knows_which_machine(dev: Synthesized) -> None:
    # GIVEN every function and its role's statements
    starters = []
    for fn in dev.of_type("AWS::Lambda::Function").values():
        statements = _policy_statements(dev, {"Ref": fn["Properties"]["Role"]["Fn::GetAtt"][0]})
        if any(
            "states:StartExecution" in _actions([s]) and MACHINE_ID in json.dumps(s["Resource"])
            for s in statements
        ):
            starters.append(fn["Properties"]["Handler"])
    # WHEN / THEN only IngestFile may, and only it has the machine in its environment
    assert starters == ["functions.ingest.ingest_file.handler"]
    _, ingest = _function(dev, "functions.ingest.ingest_file.handler")
    assert ingest["Environment"]["Variables"][FAN_OUT_STATE_MACHINE_ENV] == {"Ref": MACHINE_ID}


def test_the_split_has_the_full_minutes_memory_and_disk_and_staged_shards_expire(dev: Synthesized) -> None:
    # GIVEN the split function and the curated bucket
    _, split = _function(dev, HANDLERS["SplitFile"])
    rules = dev.resources["CuratedBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    # WHEN / THEN it has Lambda's 15 minutes, 10 GB and 10 GB of local disk for the shards it stages, and
    # the shards under staging/ are deleted a few days after
    assert split["Timeout"] == 900 and split["MemorySize"] == 10240
    assert split["EphemeralStorage"] == {"Size": 10240}
    (staged,) = [r for r in rules if r.get("Prefix") == "staging/"]
    assert staged["Status"] == "Enabled" and 0 < staged["ExpirationInDays"] <= 7
