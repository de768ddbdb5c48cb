"""Security gates: the cdk-nag packs (zero unacknowledged findings) and cfn-lint (zero errors)."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cfnlint.api import ManualArgs, lint

from infra.nag import nag_packs
from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.xdist_group("infra")

MIN_REASON_LENGTH = 30


def _findings(app: cdk.App) -> list[str]:
    return [
        f"{violation.rule_name} at {resource.construct_path}"
        for pack in nag_packs(app)
        for violation in pack.validate_scope(app).violations
        for resource in violation.violating_resources
    ]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_nag_packs_report_no_unacknowledged_findings(request: pytest.FixtureRequest, stage: str) -> None:
    # GIVEN the synthesized app of a stage
    synth: Synthesized = request.getfixturevalue(stage)

    # WHEN the AwsSolutions, HIPAA Security and Serverless packs check it
    findings = _findings(synth.app)

    # THEN nothing is left that has not been fixed or acknowledged with a reason
    assert findings == []


def test_nag_packs_flag_a_default_bucket() -> None:
    # GIVEN a throwaway app with a bucket on CDK's defaults (no logging, no TLS enforcement)
    app = cdk.App()
    s3.Bucket(cdk.Stack(app, "Canary"), "Default")

    # WHEN the same packs check it
    findings = _findings(app)

    # THEN every pack reports it, so an empty report above means the packs ran and found nothing
    assert any(f.startswith("AwsSolutions-S1 ") for f in findings)
    assert any(f.startswith("HIPAA.Security-") for f in findings)
    assert any(f.startswith("Serverless-") or f.startswith("AwsSolutions-S10 ") for f in findings)


def test_every_acknowledgment_carries_a_written_reason(dev: Synthesized) -> None:
    # GIVEN every acknowledgment recorded in the construct tree
    acknowledgments = {
        rule: reason
        for node in dev.app.node.find_all()
        for entry in node.node.metadata
        if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule, reason in entry.data.items()
    }

    # WHEN / THEN there are some, and each explains itself in a sentence
    assert acknowledgments
    short = {
        rule: reason for rule, reason in acknowledgments.items() if len(reason.strip()) < MIN_REASON_LENGTH
    }
    assert short == {}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cfn_lint_finds_no_errors(request: pytest.FixtureRequest, stage: str) -> None:
    # GIVEN the synthesized template of a stage
    synth: Synthesized = request.getfixturevalue(stage)
    body = json.dumps(synth.template.to_json())

    # WHEN cfn-lint checks it
    matches = lint(body, config=ManualArgs(regions=["us-east-1"]))

    # THEN it reports no errors (warnings and informational notes are allowed)
    errors = [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
