"""Payment runs: eight functions with their own roles, logged, traced state machines (one per kind)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.constructs.payment_runs import machine_id
from shared.models.tables import ALL_TABLES, RUN_KINDS, SHARD_SIZE_ENV, STAGE_ENV, BucketEnv
from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.xdist_group("infra")

CONTRACT_HANDLERS = {
    "IngestFile": "functions.ingest.ingest_file.handler",
    "OpenRun": "functions.runs.open_run.handler",
    "PlanShards": "functions.runs.plan_shards.handler",
    "BuildPart": "functions.runs.build_part.handler",
    "EarnShard": "functions.runs.earn_shard.handler",
    "AggregateRun": "functions.runs.aggregate_run.handler",
    "RenderStatements": "functions.runs.render_statements.handler",
    "CloseRun": "functions.runs.close_run.handler",
    "FailRun": "functions.runs.fail_run.handler",
}
REQUIRED_ENV = {
    STAGE_ENV,
    *(b.value for b in BucketEnv if b is not BucketEnv.PAYMENTS),
    *(t.env_var for t in ALL_TABLES),
    SHARD_SIZE_ENV,
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "LOG_LEVEL",
}
MACHINES = tuple(machine_id(spec) for spec in RUN_KINDS)


def _functions(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return synth.of_type("AWS::Lambda::Function")


def _contract_functions(synth: Synthesized) -> list[dict[str, Any]]:
    handlers = set(CONTRACT_HANDLERS.values())
    return [f["Properties"] for f in _functions(synth).values() if f["Properties"]["Handler"] in handlers]


def test_every_contract_handler_has_exactly_one_function(dev: Synthesized) -> None:
    # GIVEN the functions of the stack
    handlers = [f["Handler"] for f in _contract_functions(dev)]

    # WHEN / THEN each handler of the contract table is deployed once
    assert sorted(handlers) == sorted(CONTRACT_HANDLERS.values())


def test_every_function_has_its_own_role_env_tracing_and_log_group(dev: Synthesized) -> None:
    # GIVEN the contract functions
    functions = _contract_functions(dev)

    # WHEN / THEN roles are not shared, env is complete, tracing is active, logs go to a retained group
    roles = [json.dumps(f["Role"], sort_keys=True) for f in functions]
    assert len(set(roles)) == len(functions)
    log_groups = dev.of_type("AWS::Logs::LogGroup")
    for function in functions:
        assert set(function["Environment"]["Variables"]) >= REQUIRED_ENV
        assert function["TracingConfig"] == {"Mode": "Active"}
        assert function["Runtime"] == "python3.11"
        assert function["Architectures"] == ["x86_64"]
        group_id = function["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[group_id]["Properties"]["RetentionInDays"] > 0


def test_earn_shard_has_minutes_not_the_maximum_and_one_to_two_gigabytes(dev: Synthesized) -> None:
    # GIVEN the earn-shard function
    [earn] = [f for f in _contract_functions(dev) if f["Handler"] == CONTRACT_HANDLERS["EarnShard"]]

    # WHEN / THEN it fails fast enough to be retried inside the map, with room for a shard in memory
    assert 60 <= earn["Timeout"] < 900
    assert 1024 <= earn["MemorySize"] <= 2048


def test_build_part_has_the_full_fifteen_minutes_and_room_for_a_part(dev: Synthesized) -> None:
    # GIVEN the build-part function
    [build] = [f for f in _contract_functions(dev) if f["Handler"] == CONTRACT_HANDLERS["BuildPart"]]

    # WHEN / THEN a part (about 100,000 members' 24 months of claims, three months netted and attributed)
    # has Lambda's longest time and several gigabytes, within Lambda's 10 GB
    assert build["Timeout"] == 900
    assert 4096 <= build["MemorySize"] <= 10240


@pytest.mark.parametrize("machine", MACHINES)
def test_state_machines_log_everything_but_execution_data_and_trace(dev: Synthesized, machine: str) -> None:
    # GIVEN a state machine
    props = dev.resources[machine]["Properties"]

    # WHEN we read its logging and tracing
    logging = props["LoggingConfiguration"]

    # THEN all events are logged without payloads (which carry run ids only, but still), and X-Ray is on
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is False
    assert props["TracingConfiguration"] == {"Enabled": True}
    group = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert "KmsKeyId" in dev.resources[group]["Properties"]


@pytest.mark.parametrize("machine", MACHINES)
def test_every_placeholder_of_the_definition_is_substituted_by_a_function_arn(
    dev: Synthesized, machine: str
) -> None:
    # GIVEN a state machine's inline definition and its substitutions
    props = dev.resources[machine]["Properties"]
    definition = props["DefinitionString"]
    substitutions = props["DefinitionSubstitutions"]

    # WHEN we collect the `${...}` placeholders of the definition
    placeholders = set(re.findall(r"\$\{(\w+)\}", definition))

    # THEN CloudFormation can fill each one: the machine's own kind, and each function of this stack
    functions = _functions(dev)
    assert placeholders == set(substitutions)
    kind = substitutions.pop("RunKind")
    assert machine == f"{kind.capitalize()}StateMachine"
    for value in substitutions.values():
        assert functions[value["Fn::GetAtt"][0]] and value["Fn::GetAtt"][1] == "Arn"


@pytest.mark.parametrize("machine", MACHINES)
def test_the_map_runs_as_many_shards_at_once_as_earn_shard_may_run(dev: Synthesized, machine: str) -> None:
    # GIVEN the machine's EarnShards map and the EarnShard function it invokes
    definition = json.loads(dev.resources[machine]["Properties"]["DefinitionString"])
    earn_map = definition["States"]["EarnShards"]
    handler = "functions.runs.earn_shard.handler"
    (earn_shard,) = [f for f in _functions(dev).values() if f["Properties"]["Handler"] == handler]

    # WHEN / THEN the map's concurrency is the function's reserved concurrency: more would throttle the
    # children into retries, fewer would leave reserved capacity no one else may use
    assert earn_map["MaxConcurrency"] == earn_shard["Properties"]["ReservedConcurrentExecutions"] > 0


@pytest.mark.parametrize("machine", MACHINES)
def test_the_parts_map_runs_as_many_parts_at_once_as_build_part_may_run(
    dev: Synthesized, machine: str
) -> None:
    # GIVEN the machine's BuildParts map and the BuildPart function it invokes
    definition = json.loads(dev.resources[machine]["Properties"]["DefinitionString"])
    parts_map = definition["States"]["BuildParts"]
    (build_part,) = [
        f for f in _functions(dev).values() if f["Properties"]["Handler"] == CONTRACT_HANDLERS["BuildPart"]
    ]

    # WHEN / THEN as for the shards: the map's concurrency is the function's reserved concurrency
    assert parts_map["MaxConcurrency"] == build_part["Properties"]["ReservedConcurrentExecutions"] > 0


@pytest.mark.parametrize("machine", MACHINES)
def test_state_machine_role_can_run_a_distributed_map(dev: Synthesized, machine: str) -> None:
    # GIVEN the policies attached to the machine's role
    role = dev.resources[machine]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in dev.of_type("AWS::IAM::ManagedPolicy").values()
        if {"Ref": role} in p["Properties"].get("Roles", [])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]

    # WHEN we collect the actions it is allowed
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }

    # THEN it may start and watch its child executions, read the manifest and invoke the functions
    assert {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"} <= actions
    assert {"s3:GetObject", "lambda:InvokeFunction"} <= actions
    assert not any(a.endswith("*") for a in actions if not a.startswith(("xray:", "logs:")))


def _statements_of(dev: Synthesized, construct: str) -> list[dict[str, Any]]:
    policies = [
        p["Properties"]
        for key, p in dev.of_type("AWS::IAM::ManagedPolicy").items()
        if key.startswith(f"PaymentRuns{construct}Policy") or key.startswith(f"Operator{construct}Policy")
    ]
    assert policies, f"no policy for {construct}"
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def _on(statement: dict[str, Any], logical_id: str) -> bool:
    return logical_id in json.dumps(statement["Resource"])


@pytest.mark.parametrize("step", ["EarnShard", "AggregateRun"])
def test_the_ledger_is_append_only_by_policy(dev: Synthesized, step: str) -> None:
    # GIVEN the statements of a step that writes ledger entries
    statements = [s for s in _statements_of(dev, step) if _on(s, "LedgerTable")]

    # WHEN we split what it is allowed from what it is denied on the Ledger table (not its index)
    allowed = {
        a for s in statements if s["Effect"] == "Allow" for a in _actions(s) if "Write" in a or "Item" in a
    }
    denied = {a for s in statements if s["Effect"] == "Deny" for a in _actions(s)}

    # THEN the only write is PutItem, and updates, deletes and batch writes are explicitly denied
    assert allowed - {"dynamodb:GetItem", "dynamodb:BatchGetItem"} == {"dynamodb:PutItem"}
    assert denied == {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def test_only_the_lifecycle_steps_write_run_records_and_only_run_keys(dev: Synthesized) -> None:
    # GIVEN every function's writes to the Registry table
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    writers: dict[str, list[dict[str, Any]]] = {}
    for step in (
        "OpenRun",
        "PlanShards",
        "BuildPart",
        "EarnShard",
        "AggregateRun",
        "RenderStatements",
        "CloseRun",
        "FailRun",
    ):
        found = [s for s in _statements_of(dev, step) if _on(s, "RegistryTable") and _actions(s) & writes]
        if found:
            writers[step] = found

    # WHEN / THEN only OpenRun, CloseRun and FailRun write it, and only items whose key is RUN#...
    assert set(writers) == {"OpenRun", "CloseRun", "FailRun"}
    for statements in writers.values():
        for s in statements:
            assert s["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["RUN#*"]}}


def test_only_the_operator_function_writes_approvals(dev: Synthesized) -> None:
    # GIVEN the writes of every customer-managed policy to the Approvals table
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    writers = {
        key
        for key, p in dev.of_type("AWS::IAM::ManagedPolicy").items()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and _on(s, "ApprovalsTable") and _actions(s) & writes
    }

    # WHEN / THEN the operator API's function is the only writer
    assert len(writers) == 1 and next(iter(writers)).startswith("OperatorOperateRunsPolicy")


@pytest.mark.parametrize("machine", MACHINES)
def test_state_machines_are_encrypted_with_the_stacks_key(dev: Synthesized, machine: str) -> None:
    # GIVEN a state machine
    encryption = dev.resources[machine]["Properties"]["EncryptionConfiguration"]

    # WHEN / THEN its definition and execution histories are under the stack's customer-managed key
    assert encryption["Type"] == "CUSTOMER_MANAGED_KMS_KEY"
    assert encryption["KmsKeyId"] == {"Fn::GetAtt": ["MessagingKey", "Arn"]}


def _managed_policy(dev: Synthesized, name: str) -> list[dict[str, Any]]:
    [policy] = [
        p for key, p in dev.of_type("AWS::IAM::ManagedPolicy").items() if key.startswith(f"Operator{name}")
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _routes(statements: list[dict[str, Any]]) -> set[str]:
    [invoke] = [s for s in statements if _actions(s) == {"execute-api:Invoke"}]
    found = set()
    for resource in invoke["Resource"]:
        parts = resource["Fn::Join"][1]
        found.add(str(parts[-1]).split("/", 2)[-1])  # "<stage>/<METHOD>/<path>" after the API id
    return found


def test_run_operator_and_run_approver_split_the_operator_api_between_them(dev: Synthesized) -> None:
    # GIVEN the two managed policies that come with the stack
    operator, approver = _managed_policy(dev, "RunOperator"), _managed_policy(dev, "RunApprover")

    # WHEN we read which API routes each may call and which buckets each may read
    operator_routes, approver_routes = _routes(operator), _routes(approver)

    # THEN operators start and recalculate runs, approvers approve and mark paid; both read runs; only
    # approvers read payment files; neither may start a state machine directly (the API records who asks)
    assert {"POST/runs", "POST/runs/*/recalculate"} <= operator_routes
    assert not {r for r in operator_routes if r.endswith(("approve", "mark-paid"))}
    assert {"POST/runs/*/approve", "POST/runs/*/mark-paid"} <= approver_routes
    assert not {r for r in approver_routes if r == "POST/runs" or r.endswith("recalculate")}
    assert "PaymentsBucket" not in json.dumps(operator) and "PaymentsBucket" in json.dumps(approver)
    assert not any("states:StartExecution" in _actions(s) for s in operator + approver)


def test_the_operator_api_requires_iam_authorisation_on_every_method(dev: Synthesized) -> None:
    # GIVEN the API's methods
    methods = dev.of_type("AWS::ApiGateway::Method").values()

    # WHEN / THEN every one is IAM-authorised, so API Gateway records the caller's identity
    assert methods and {m["Properties"]["AuthorizationType"] for m in methods} == {"AWS_IAM"}
