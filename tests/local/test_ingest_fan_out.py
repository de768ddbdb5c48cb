"""The fan-out on the real stack (moto): a claims file past the ingest function's limit lands, IngestFile
hands it to the fan-out state machine, SplitFile cuts it, the Distributed Map runs IngestShard on each
shard, FinishFile writes its one manifest; the result is the one-function ingest's. A file whose split
fails ends FAILED through FailFile, with the error's name, and the execution reports it."""

from __future__ import annotations

import json
import os
from typing import Any
from unittest import mock

import pytest

from cli.local.runtime import LocalRuntime
from shared.dal.files import DynamoFileLog
from shared.models.tables import FAN_OUT_STATE_MACHINE_ENV
from tests.functional.test_ingest_fanout import generated_file
from tests.unit.intake.service_fakes import Plan

pytestmark = [pytest.mark.xdist_group("local-app"), pytest.mark.slow]

KEY = "landing/medical_claims/large-month.csv"
LIMIT = 20_000
"""The ingest function's limit for this test (INGEST_MAX_FILE_BYTES): the file is several times it."""


def _executions(local: LocalRuntime, machine_arn: str) -> list[dict[str, Any]]:
    listed = local.client("stepfunctions").list_executions(stateMachineArn=machine_arn)
    return list(listed["executions"])


def test_a_file_past_the_limit_is_ingested_in_shards_by_the_fan_out_machine(app_template) -> None:
    # GIVEN the real stack on moto, its ingest function taking files up to LIMIT bytes, and the same
    # file's manifest as one function makes it
    data = generated_file(1500)
    assert len(data) > 5 * LIMIT
    single = Plan()
    expected = single.drop(KEY, data)
    with (
        mock.patch.dict(os.environ, {"INGEST_MAX_FILE_BYTES": str(LIMIT)}),
        LocalRuntime(app_template) as local,
    ):
        s3, outputs = local.client("s3"), local.outputs
        machine = os.environ[FAN_OUT_STATE_MACHINE_ENV]
        # WHEN the file lands and the queue is delivered
        s3.put_object(Bucket=outputs["LandingBucketName"], Key=KEY, Body=data)
        pumped = local.pump_ingest_queue()
        # THEN the ingest function handed it over, and the fan-out execution succeeded
        assert pumped.handler_errors == 0 and pumped.received == pumped.deleted
        (execution,) = _executions(local, machine)
        ended = local.wait_for(execution["executionArn"])
        assert ended.status == "SUCCEEDED", ended.failure_line()
        # AND the file is ACCEPTED with the one-function manifest's accounting, its report the same
        manifest = json.loads(
            s3.get_object(Bucket=outputs["ReportsBucketName"], Key=f"manifests/{expected.file_id}.json")[
                "Body"
            ].read()
        )
        counts = ("status", "rows_read", "accepted", "rejected", "duplicate", "superseded")
        one = single.store.get_json("reports-bucket", f"manifests/{expected.file_id}.json")
        assert {k: manifest[k] for k in counts} == {k: one[k] for k in counts}
        rejects = s3.get_object(Bucket=outputs["ReportsBucketName"], Key=f"rejects/{expected.file_id}.csv")
        assert rejects["Body"].read() == single.store.get_bytes(
            "reports-bucket", f"rejects/{expected.file_id}.csv"
        )
        assert len([k for k in manifest["curated_keys"] if "-s0" in k]) == len(manifest["curated_keys"]) > 0
        drop = DynamoFileLog(local.client("dynamodb"), outputs["RegistryTableName"]).drop(KEY)
        assert drop is not None and (drop.status, drop.accepted) == ("ACCEPTED", one["accepted"])

        # WHEN the fan-out is started on a kind it cannot cut (the split refuses it)
        refused = local.start_and_wait(
            machine, {"bucket": outputs["LandingBucketName"], "key": "landing/clinics/big.csv"}
        )
        # THEN the execution fails naming the step's error, and the drop ends FAILED with its name
        assert refused.status == "FAILED" and refused.error == "UnexpectedStepError"
        failed = DynamoFileLog(local.client("dynamodb"), outputs["RegistryTableName"]).drop(
            "landing/clinics/big.csv"
        )
        assert failed is not None and (failed.status, failed.reason) == ("FAILED", "UnexpectedStepError")
