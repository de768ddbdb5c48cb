"""Log groups: each masks member data, reports findings to one log group and keeps the stage retention."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from constructs import Construct

from infra.app import default_context
from infra.constructs.common import (
    BIRTH_DATE_IDENTIFIER,
    BIRTH_DATE_REGEX,
    DEFAULT_MEMBER_ID_PATTERN,
    DEFAULT_RETENTION_DAYS,
    MEMBER_ID_IDENTIFIER,
    PHI_FINDINGS_ID,
    StageConfig,
    protected_log_group,
)
from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.xdist_group("infra")

RETENTION_DAYS = {"dev": 30, "prod": 2557}


def _log_groups(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """Construct path -> properties of every log group in the stack."""
    paths = synth.paths()
    return {paths[k]: v.get("Properties", {}) for k, v in synth.of_type("AWS::Logs::LogGroup").items()}


def _custom_identifiers(props: dict[str, Any]) -> dict[str, str]:
    policy = props.get("DataProtectionPolicy", {})
    return {c["Name"]: c["Regex"] for c in policy.get("Configuration", {}).get("CustomDataIdentifier", [])}


def _statement(props: dict[str, Any], operation: str) -> dict[str, Any]:
    [statement] = [
        s for s in props["DataProtectionPolicy"]["Statement"] if operation in s.get("Operation", {})
    ]
    return statement


def _masks_member_ids(props: dict[str, Any]) -> bool:
    if "DataProtectionPolicy" not in props:
        return False
    defined = _custom_identifiers(props).get(MEMBER_ID_IDENTIFIER) == DEFAULT_MEMBER_ID_PATTERN
    return defined and MEMBER_ID_IDENTIFIER in _statement(props, "Deidentify")["DataIdentifier"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_log_group_masks_member_ids(request: pytest.FixtureRequest, stage: str) -> None:
    # GIVEN every log group of the stage, named by construct path so a miss says whose it is
    synth: Synthesized = request.getfixturevalue(stage)
    groups = _log_groups(synth)

    # WHEN we look for a data-protection policy that masks the member-id identifier
    unprotected = sorted(path for path, props in groups.items() if not _masks_member_ids(props))

    # THEN there is none without one
    assert len(groups) > 1
    assert unprotected == [], f"log groups that do not mask member ids: {unprotected}"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_protected_log_groups_audit_to_the_findings_log_group(
    request: pytest.FixtureRequest, stage: str
) -> None:
    # GIVEN the log groups that carry a data-protection policy
    synth: Synthesized = request.getfixturevalue(stage)
    groups = {k: v["Properties"] for k, v in synth.of_type("AWS::Logs::LogGroup").items()}
    protected = {k: p for k, p in groups.items() if "DataProtectionPolicy" in p}

    # WHEN we read where each one sends its audit findings
    destinations = {
        k: _statement(p, "Audit")["Operation"]["Audit"]["FindingsDestination"] for k, p in protected.items()
    }

    # THEN all go to the findings log group, which audits nowhere (it would be a cycle) and is encrypted
    assert destinations.pop(PHI_FINDINGS_ID) == {}
    assert destinations
    assert all(d == {"CloudWatchLogs": {"LogGroup": {"Ref": PHI_FINDINGS_ID}}} for d in destinations.values())
    assert groups[PHI_FINDINGS_ID]["KmsKeyId"] == {"Fn::GetAtt": ["MessagingKey", "Arn"]}


def test_the_policy_masks_the_managed_phi_identifiers_and_birth_dates(dev: Synthesized) -> None:
    # GIVEN the policy of the findings log group (every log group carries the same identifiers)
    props = dev.resources[PHI_FINDINGS_ID]["Properties"]

    # WHEN we list what it masks
    masked = {
        i if isinstance(i, str) else i["Fn::Join"][1][-1].rsplit("/", 1)[-1]
        for i in _statement(props, "Deidentify")["DataIdentifier"]
    }

    # THEN it covers who a member is, how to reach them and their insurance numbers
    assert {
        "Name",
        "Address",
        "Ssn-US",
        "PhoneNumber-US",
        "EmailAddress",
        "DriversLicense-US",
        "MedicareBeneficiaryNumber-US",
        "HealthInsuranceClaimNumber-US",
        MEMBER_ID_IDENTIFIER,
        BIRTH_DATE_IDENTIFIER,
    } <= masked
    assert _custom_identifiers(props)[BIRTH_DATE_IDENTIFIER] == BIRTH_DATE_REGEX


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_log_group_keeps_the_stage_retention(request: pytest.FixtureRequest, stage: str) -> None:
    # GIVEN every log group of the stage
    synth: Synthesized = request.getfixturevalue(stage)

    # WHEN we read their retention
    retention = {path: props.get("RetentionInDays") for path, props in _log_groups(synth).items()}

    # THEN each keeps the stage's (seven years in prod)
    assert set(retention.values()) == {RETENTION_DAYS[stage]}


def test_cdk_json_documents_the_defaults_the_code_applies() -> None:
    # GIVEN cdk.json's context
    context = default_context()

    # WHEN / THEN its retention by stage and member-id pattern are the code's defaults
    assert context["retention_days"] == DEFAULT_RETENTION_DAYS == RETENTION_DAYS
    assert context["member_id_pattern"] == DEFAULT_MEMBER_ID_PATTERN


def test_the_default_member_id_pattern_matches_generated_members() -> None:
    # GIVEN ids shaped like cli/generate/members.py's (`SYN` and the index zero-filled to eight digits)
    generated = [f"SYN{str(i).zfill(8)}" for i in (1, 42, 99_999_999)]

    # WHEN / THEN the default pattern finds each one, in a log line too
    assert all(re.fullmatch(DEFAULT_MEMBER_ID_PATTERN, member) for member in generated)
    assert re.search(DEFAULT_MEMBER_ID_PATTERN, '{"message": "row rejected", "member_id": "SYN00000042"}')


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ('{"birth_date": "1961-07-19"}', True),
        ('{"birthDate":"1961-07-19"}', True),
        ("DOB: 07/19/1961", True),
        ('{"message": "run opened", "period": "2025-01-31"}', False),
        ('{"enrollment_start_date": "2025-01-01"}', False),
    ],
)
def test_birth_dates_are_masked_only_next_to_a_birth_date_key(line: str, masked: bool) -> None:
    # GIVEN a log line (Python's engine stands in for CloudWatch's; the regex uses no syntax they differ on)
    # WHEN the birth-date identifier scans it
    found = re.search(BIRTH_DATE_REGEX, line)

    # THEN it finds a date of birth, and leaves other dates alone
    assert bool(found) is masked


@pytest.mark.parametrize(
    ("context", "stage", "days", "log_retention"),
    [
        ({}, "prod", 2557, logs.RetentionDays.SEVEN_YEARS),
        ({}, "dev", 30, logs.RetentionDays.ONE_MONTH),
        ({"retention_days": {"dev": 30, "prod": 2557}}, "prod", 2557, logs.RetentionDays.SEVEN_YEARS),
        ({"retention_days": "3653"}, "prod", 3653, logs.RetentionDays.TEN_YEARS),
        # CloudWatch takes only some retentions: the next longer one keeps events at least as long.
        ({"retention_days": 100}, "dev", 100, logs.RetentionDays.FOUR_MONTHS),
        ({"retention_days": 4000}, "prod", 4000, logs.RetentionDays.INFINITE),
    ],
)
def test_retention_comes_from_context_by_stage_or_as_one_override(
    context: dict[str, Any], stage: str, days: int, log_retention: logs.RetentionDays
) -> None:
    # GIVEN a CDK context (cdk.json's mapping by stage, a `-c retention_days=...` string, or nothing)
    # WHEN the stage's settings are read from it
    config = StageConfig.from_context(stage, "p4p", context.get)

    # THEN records keep that many days and log groups the shortest CloudWatch retention that covers it
    assert config.retention_days == days
    assert config.retention.to_days() == days
    assert config.log_retention == log_retention


def test_member_id_pattern_comes_from_context() -> None:
    # GIVEN a plan whose member ids are eleven digits
    context = {"member_id_pattern": r"\d{11}"}

    # WHEN / THEN the stage's settings carry it
    assert StageConfig.from_context("prod", "p4p", context.get).member_id_pattern == r"\d{11}"


@pytest.mark.parametrize("pattern", [r"(SYN)\d{8}", r"SYN:\d{8}", "M" * 201, r"SYN[\d{8}"])
def test_a_member_id_pattern_cloudwatch_would_refuse_fails_synthesis(pattern: str) -> None:
    # GIVEN a pattern with parentheses, a colon, too many characters, or no valid regex at all
    # WHEN / THEN the settings refuse it rather than a deploy failing halfway
    with pytest.raises(ValueError, match="member_id_pattern"):
        StageConfig.from_context("dev", "p4p", {"member_id_pattern": pattern}.get)


def test_retention_must_be_positive() -> None:
    # GIVEN / WHEN / THEN a zero retention is refused
    with pytest.raises(ValueError, match="retention_days"):
        StageConfig.from_context("prod", "p4p", {"retention_days": "0"}.get)


def test_log_groups_built_anywhere_in_a_stack_share_one_findings_log_group() -> None:
    # GIVEN a small stack with a key and two log groups built by the helper in different constructs
    stack = cdk.Stack(cdk.App(), "Helper")
    key = kms.Key(stack, "Key")
    config = StageConfig.from_context("dev", "p4p", {}.get)
    protected_log_group(Construct(stack, "Api"), "AccessLogs", config=config, key=key)
    protected_log_group(Construct(stack, "Machine"), "Logs", config=config, key=key)

    # WHEN we synthesize it
    groups = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")

    # THEN there is one findings log group next to the two, and all three mask member ids
    assert len(groups) == 3 and PHI_FINDINGS_ID in groups
    assert all(_masks_member_ids(g["Properties"]) for g in groups.values())


def test_the_findings_log_group_refuses_a_second_key() -> None:
    # GIVEN a stack whose findings log group is encrypted with one key
    stack = cdk.Stack(cdk.App(), "Helper")
    config = StageConfig.from_context("dev", "p4p", {}.get)
    protected_log_group(stack, "First", config=config, key=kms.Key(stack, "One"))

    # WHEN / THEN a log group built with another key is refused rather than audited under the wrong key
    with pytest.raises(ValueError, match="another key"):
        protected_log_group(stack, "Second", config=config, key=kms.Key(stack, "Two"))
