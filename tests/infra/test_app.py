"""The app entry points: stack naming from context, outputs the CLI reads, fast template synthesis."""

from __future__ import annotations

import pytest

from infra.app import build_app, stack_name, synth_template
from infra.constructs.common import StageConfig
from shared.logic.member_buckets import MEMBER_BUCKETS
from shared.models.tables import MEMBER_BUCKETS_ENV, RUN_KINDS, STAGE_ENV
from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.xdist_group("infra")

OUTPUT_KEYS = {
    "LandingBucketName",
    "CuratedBucketName",
    "ReportsBucketName",
    "GapsTableName",
    "LedgerTableName",
    "RegistryTableName",
    "ApprovalsTableName",
    "PaymentsBucketName",
    "IngestQueueUrl",
    "IngestDlqUrl",
    "OperatorApiUrl",
    "OperatorFunctionName",
    "RunOperatorPolicyArn",
    "RunApproverPolicyArn",
    "AlarmTopicArn",
    "MemberBuckets",
    *(spec.output_key for spec in RUN_KINDS),
}


def test_stack_outputs_are_exactly_what_the_cli_reads(dev: Synthesized) -> None:
    # GIVEN the outputs of the stack
    outputs = dev.template.to_json()["Outputs"]

    # WHEN / THEN the keys are the CLI's, unprefixed
    assert set(outputs) == OUTPUT_KEYS


def test_stack_name_comes_from_project_and_stage_context(tmp_path: object) -> None:
    # GIVEN a context with another project and the prod stage
    app = build_app(
        {"project": "acme", "stage": "prod"}, package_assets=False, nag=False, outdir=str(tmp_path)
    )

    # WHEN we list the stacks
    names = [child.node.id for child in app.node.children if hasattr(child, "stack_name")]

    # THEN there is one, named after both
    assert names == [stack_name({"project": "acme", "stage": "prod"})] == ["acme-prod"]


def test_unknown_stage_is_refused() -> None:
    # GIVEN / WHEN / THEN a typo in the stage does not silently deploy a dev-like stack
    with pytest.raises(ValueError, match="stage"):
        build_app({"stage": "production"}, package_assets=False, nag=False)


def _bucket_counts(template: dict[str, object]) -> set[str]:
    resources = template["Resources"]
    assert isinstance(resources, dict)
    # The engine's functions (the CDK's own helpers, e.g. bucket notifications, have no environment).
    functions = [
        r["Properties"]["Environment"]["Variables"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and STAGE_ENV in r["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert len(functions) >= 10
    return {variables.get(MEMBER_BUCKETS_ENV) for variables in functions}


def test_synth_template_returns_the_main_stack_template_with_the_context_it_is_given() -> None:
    # GIVEN / WHEN the helper the local runtime calls, with a plan's member-bucket count
    template = synth_template("dev", context={"member_buckets": 4})

    # THEN it is the stack's template, state machines (the run kinds', the ingest fan-out) inline, every
    # function and the output on that count
    assert set(template["Outputs"]) == OUTPUT_KEYS
    machines = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert len(machines) == len(RUN_KINDS) + 1 and all(
        "DefinitionString" in m["Properties"] for m in machines
    )
    assert _bucket_counts(template) == {"4"}
    assert template["Outputs"]["MemberBuckets"]["Value"] == "4"


def test_every_function_has_the_default_member_bucket_count_without_context(dev: Synthesized) -> None:
    # GIVEN / WHEN the dev stack synthesized without `member_buckets`
    template = dev.template.to_json()
    # THEN every function files and reads members in the default count, and the CLI is told it
    assert _bucket_counts(template) == {str(MEMBER_BUCKETS)}
    assert template["Outputs"]["MemberBuckets"]["Value"] == str(MEMBER_BUCKETS)


@pytest.mark.parametrize("count", [0, 1000, -3])
def test_a_member_bucket_count_outside_1_to_999_is_refused_at_synthesis(count: int) -> None:
    # GIVEN a context with an impossible count  WHEN the stage's settings are read  THEN synthesis stops
    with pytest.raises(ValueError, match="member_buckets: the member-bucket count must be 1 to 999"):
        StageConfig.from_context("dev", "p4p", {"member_buckets": count}.get)


def test_a_member_bucket_count_given_with_c_is_read_as_a_number() -> None:
    # GIVEN `-c member_buckets=26` (the CDK CLI passes context as text)  WHEN read  THEN 26 buckets
    assert StageConfig.from_context("dev", "p4p", {"member_buckets": "26"}.get).member_buckets == 26
