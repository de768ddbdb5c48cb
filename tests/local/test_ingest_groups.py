"""A claims file of several member groups, applied several groups at once (`INGEST_WORKERS`) by the real
ingest function on the stack's moto tables and buckets, leaves the gap state and accounting that one group
at a time on the in-memory stores leaves; each group writes its own evidence log."""

from __future__ import annotations

import io
import json
import os
from typing import Any
from unittest import mock

import polars as pl
import pytest

import shared.intake.staging as staging
from cli.local.runtime import LocalRuntime
from shared.dal.gap_state import DynamoGapStateRepository
from tests.functional.test_ingest_fanout import generated_file
from tests.unit.intake.service_fakes import Plan

pytestmark = [pytest.mark.xdist_group("local-app"), pytest.mark.slow]

KEY = "landing/medical_claims/grouped-month.csv"
ROWS_PER_GROUP = 200
"""Rows a member group holds for this test: the file's 1,500 lines are several groups."""


def test_groups_applied_at_once_on_the_stack_leave_what_one_at_a_time_leaves(
    app_template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a claims file, and what the in-memory ingest makes of it one group (the whole file) at a time
    data = generated_file(1500)
    members = sorted(set(pl.read_csv(io.BytesIO(data), infer_schema=False).get_column("member_id")))
    single = Plan()
    expected = single.drop(KEY, data)
    one = single.store.get_json("reports-bucket", f"manifests/{expected.file_id}.json")
    # WHEN the real stack ingests it in groups of ROWS_PER_GROUP rows, three groups at once
    monkeypatch.setattr(staging, "ROWS_PER_GROUP", ROWS_PER_GROUP)
    with mock.patch.dict(os.environ, {"INGEST_WORKERS": "3"}), LocalRuntime(app_template) as local:
        s3, outputs = local.client("s3"), local.outputs
        s3.put_object(Bucket=outputs["LandingBucketName"], Key=KEY, Body=data)
        pumped = local.pump_ingest_queue()
        manifest = json.loads(
            s3.get_object(Bucket=outputs["ReportsBucketName"], Key=f"manifests/{expected.file_id}.json")[
                "Body"
            ].read()
        )
        gaps = DynamoGapStateRepository(local.client("dynamodb"), outputs["GapsTableName"])
        evidence = {m: gaps.evidence_of(m) for m in members}
        listed = s3.list_objects_v2(Bucket=outputs["CuratedBucketName"], Prefix="evidence/")
        logs = [o["Key"] for o in listed.get("Contents", []) if expected.file_id in o["Key"]]
    # THEN the file is ACCEPTED with the same accounting, every member holds the same evidence
    assert pumped.handler_errors == 0 and pumped.received == pumped.deleted
    counts = ("status", "rows_read", "accepted", "rejected", "duplicate", "superseded")
    assert {k: manifest[k] for k in counts} == {k: one[k] for k in counts}
    assert one["status"] == "ACCEPTED" and one["accepted"] > 5 * ROWS_PER_GROUP
    assert all(evidence[m] == single.gaps.evidence_of(m) for m in members)
    assert sum(len(e) for e in evidence.values()) == expected.evidence > 0
    # AND the evidence log is written by group: several groups' files, in each period's folder
    groups = {key.rsplit("-g", 1)[1] for key in logs}
    assert len(groups) > 3 and all(key.startswith("evidence/period=") for key in logs)
