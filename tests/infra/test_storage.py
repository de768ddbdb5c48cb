"""Storage: customer-managed keys with rotation, locked-down buckets, protected tables."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from shared.models.tables import ALL_TABLES
from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.xdist_group("infra")

DATA_BUCKETS = ("LandingBucket", "CuratedBucket", "ReportsBucket", "PaymentsBucket")
RETENTION_DAYS = {"dev": 30, "prod": 2557}


def _bucket_statements(synth: Synthesized, bucket: str) -> list[dict[str, Any]]:
    return [
        s
        for p in synth.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket}
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def _lifecycle(synth: Synthesized, bucket: str) -> dict[str, Any]:
    [rule] = synth.resources[bucket]["Properties"]["LifecycleConfiguration"]["Rules"]
    return dict(rule)


def test_every_kms_key_rotates_and_data_stores_use_separate_keys(dev: Synthesized) -> None:
    # GIVEN the dev stack
    keys = dev.of_type("AWS::KMS::Key")
    buckets, tables = dev.resources, dev.of_type("AWS::DynamoDB::Table")

    # WHEN we read which key each store uses
    bucket_keys = {
        str(buckets[b]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
        for b in DATA_BUCKETS
    }  # fmt: skip
    table_keys = {str(t["Properties"]["SSESpecification"]["KMSMasterKeyId"]) for t in tables.values()}

    # THEN there are at least three rotating keys, and buckets and tables do not share one
    assert len(keys) >= 3
    assert all(key["Properties"]["EnableKeyRotation"] is True for key in keys.values())
    assert len(bucket_keys) == 1 and len(table_keys) == 1
    assert bucket_keys.isdisjoint(table_keys)


@pytest.mark.parametrize("bucket", DATA_BUCKETS)
def test_data_buckets_are_versioned_private_kms_encrypted_and_logged(dev: Synthesized, bucket: str) -> None:
    # GIVEN a data bucket
    props = dev.resources[bucket]["Properties"]

    # WHEN / THEN it is versioned, blocks public access, uses KMS and logs access to the access-log bucket
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] == "aws:kms"
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}


@pytest.mark.parametrize("bucket", (*DATA_BUCKETS, "AccessLogsBucket"))
def test_every_bucket_denies_requests_without_tls(dev: Synthesized, bucket: str) -> None:
    # GIVEN the bucket policy statements of the bucket
    statements = _bucket_statements(dev, bucket)

    # WHEN we look for a deny on insecure transport
    denies = [
        s
        for s in statements
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]

    # THEN the bucket has one
    assert denies


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_access_logs_and_old_statement_versions_follow_the_stage_retention(
    request: pytest.FixtureRequest, stage: str
) -> None:
    # GIVEN the lifecycle rules of the access-log bucket and the reports bucket
    synth: Synthesized = request.getfixturevalue(stage)
    access_logs, reports = _lifecycle(synth, "AccessLogsBucket"), _lifecycle(synth, "ReportsBucket")

    # WHEN / THEN access logs expire after the stage's retention, and a rewritten statement's old version
    # (a recalculated run) is kept that long too
    assert access_logs["ExpirationInDays"] == RETENTION_DAYS[stage]
    assert reports["NoncurrentVersionExpiration"] == {"NoncurrentDays": RETENTION_DAYS[stage]}
    assert "ExpirationInDays" not in reports


def test_prod_payment_files_are_locked_in_compliance_mode_for_the_retention(prod: Synthesized) -> None:
    # GIVEN the prod payments bucket
    props = prod.resources["PaymentsBucket"]["Properties"]

    # WHEN we read its Object Lock configuration
    lock = props["ObjectLockConfiguration"]

    # THEN every new payment file is locked, for everyone, for seven years; and the bucket is retained
    assert props["ObjectLockEnabled"] is True
    assert lock == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": RETENTION_DAYS["prod"]}},
    }
    assert prod.resources["PaymentsBucket"]["DeletionPolicy"] == "Retain"


def test_dev_payments_bucket_is_versioned_without_object_lock(dev: Synthesized) -> None:
    # GIVEN the dev payments bucket
    bucket = dev.resources["PaymentsBucket"]

    # WHEN / THEN it can be torn down: versioned, but nothing locked
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "ObjectLockEnabled" not in bucket["Properties"]
    assert "ObjectLockConfiguration" not in bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_payments_bucket_refuses_a_write_without_if_none_match(
    request: pytest.FixtureRequest, stage: str
) -> None:
    # GIVEN the payments bucket's policy
    synth: Synthesized = request.getfixturevalue(stage)
    statements = _bucket_statements(synth, "PaymentsBucket")

    # WHEN we find the statements about PutObject
    [deny] = [s for s in statements if s["Action"] == "s3:PutObject"]

    # THEN anyone's object creation (PutObject, CompleteMultipartUpload) without If-None-Match is denied
    # on every key, while multipart parts (ObjectCreationOperation false) take no conditional header
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": ["PaymentsBucket", "Arn"]}, "/*"]]}
    assert deny["Condition"] == {
        "Null": {"s3:if-none-match": "true"},
        "Bool": {"s3:ObjectCreationOperation": "true"},
    }
    assert not any(s["Effect"] == "Allow" for s in statements)


def test_prod_backup_plan_keeps_a_monthly_backup_for_the_retention(prod: Synthesized) -> None:
    # GIVEN the prod backup plan
    [plan] = prod.of_type("AWS::Backup::BackupPlan").values()

    # WHEN we read its rules by name
    rules = {r["RuleName"]: r for r in plan["Properties"]["BackupPlan"]["BackupPlanRule"]}

    # THEN the daily rule stays, and the first of each month is kept seven years
    assert rules["Daily"]["Lifecycle"] == {"DeleteAfterDays": 35}
    assert rules["Monthly"]["ScheduleExpression"] == "cron(0 5 1 * ? *)"
    assert rules["Monthly"]["Lifecycle"] == {"DeleteAfterDays": RETENTION_DAYS["prod"]}


def test_dev_backup_plan_keeps_only_a_week_of_dailies(dev: Synthesized) -> None:
    # GIVEN the dev backup plan
    [plan] = dev.of_type("AWS::Backup::BackupPlan").values()

    # WHEN / THEN a throwaway stack keeps no long-lived backups
    assert [(r["RuleName"], r["Lifecycle"]) for r in plan["Properties"]["BackupPlan"]["BackupPlanRule"]] == [
        ("Daily", {"DeleteAfterDays": 7})
    ]


def test_tables_follow_the_shared_key_schema_with_pitr_on_demand_and_cmk(dev: Synthesized) -> None:
    # GIVEN the table specs shared with the data-access layer
    for spec in ALL_TABLES:
        # WHEN we find the table built for each
        # THEN it has the spec's keys and GSI, on-demand billing, PITR and a customer-managed key
        dev.template.has_resource_properties(
            "AWS::DynamoDB::Table",
            {
                "KeySchema": [
                    {"AttributeName": spec.partition_key, "KeyType": "HASH"},
                    {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {
                    "SSEEnabled": True,
                    "SSEType": "KMS",
                    "KMSMasterKeyId": Match.any_value(),
                },
                "GlobalSecondaryIndexes": [
                    Match.object_like(
                        {
                            "IndexName": spec.gsi_name,
                            "KeySchema": [
                                {"AttributeName": spec.gsi_partition_key, "KeyType": "HASH"},
                                {"AttributeName": spec.gsi_sort_key, "KeyType": "RANGE"},
                            ],
                        }
                    )
                ],
            },
        )
    assert len(dev.of_type("AWS::DynamoDB::Table")) == len(ALL_TABLES)


def test_tables_are_backed_up_by_a_backup_plan(dev: Synthesized) -> None:
    # GIVEN the backup selection
    selections = dev.of_type("AWS::Backup::BackupSelection")

    # WHEN we collect the resources it selects
    selected = [r for s in selections.values() for r in s["Properties"]["BackupSelection"]["Resources"]]

    # THEN every table is in it
    assert len(selected) == len(ALL_TABLES)


def test_prod_tables_are_deletion_protected_and_retained(prod: Synthesized) -> None:
    # GIVEN the prod stack
    tables = prod.of_type("AWS::DynamoDB::Table")

    # WHEN / THEN every table is protected twice: by DynamoDB and by CloudFormation
    assert tables
    for table in tables.values():
        assert table["Properties"]["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == "Retain"
        assert table["UpdateReplacePolicy"] == "Retain"
    for key in prod.of_type("AWS::KMS::Key").values():
        assert key["DeletionPolicy"] == "Retain"


def test_dev_tables_can_be_destroyed(dev: Synthesized) -> None:
    # GIVEN the dev stack
    tables = dev.of_type("AWS::DynamoDB::Table")

    # WHEN / THEN a dev stack can be torn down
    for table in tables.values():
        assert table["Properties"].get("DeletionProtectionEnabled", False) is False
        assert table["DeletionPolicy"] == "Delete"
