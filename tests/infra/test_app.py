"""The app entry points: stack naming from context, outputs the CLI reads, fast template synthesis."""

from __future__ import annotations

import pytest

from infra.app import build_app, stack_name, synth_template
from shared.models.tables import RUN_KINDS
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


def test_synth_template_returns_the_main_stack_template() -> None:
    # GIVEN / WHEN the helper the local runtime calls
    template = synth_template("dev")

    # THEN it is the stack's template, state machines inline
    assert set(template["Outputs"]) == OUTPUT_KEYS
    machines = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert len(machines) == len(RUN_KINDS) and all("DefinitionString" in m["Properties"] for m in machines)
