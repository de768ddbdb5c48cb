"""Accounting: every manifest adds up, rejects carry no values, quarantine copies land where promised."""

from __future__ import annotations

import gzip
import hashlib
import io
import json

import polars as pl

from shared.models.files import FileKind
from shared.services.ingest import IngestStatus
from tests.unit.intake.factories import CANARY, VALID_ROWS, csv_bytes, rows
from tests.unit.intake.service_fakes import CURATED, LANDING, REPORTS, Plan, claim_line, claims_file


def manifest(plan: Plan, file_id: str) -> dict:
    return json.loads(plan.store.get_bytes(REPORTS, f"manifests/{file_id}.json"))


def curated_rows(plan: Plan, keys: list[str]) -> int:
    return sum(pl.read_parquet(io.BytesIO(plan.store.get_bytes(CURATED, k))).height for k in keys)


def test_a_mixed_file_accounts_for_every_row_once():
    # GIVEN a claims file with 3 good lines, 2 bad ones (carrying a canary), a copy and a replaced original
    good = [claim_line("A"), claim_line("B"), claim_line("C", line=2)]
    bad = [claim_line("E", code=CANARY), dict(claim_line("F"), member_id=None, paid_amount=CANARY)]
    replaced = [claim_line("G"), claim_line("G2", frequency="7", original="G", received="2026-03-01")]
    data = claims_file(*good, *bad, good[0], *replaced)
    # WHEN it is ingested
    plan = Plan()
    outcome = plan.drop("landing/medical_claims/mixed.csv", data)
    # THEN read = accepted + rejected + duplicate + superseded, and each part is where it should be
    m = manifest(plan, outcome.file_id)
    assert (m["rows_read"], m["accepted"], m["rejected"], m["duplicate"], m["superseded"]) == (8, 4, 2, 1, 1)
    assert m["rows_read"] == m["accepted"] + m["rejected"] + m["duplicate"] + m["superseded"]
    assert curated_rows(plan, m["curated_keys"]) == m["accepted"]
    report = plan.store.get_bytes(REPORTS, m["rejects_key"])
    rejects = pl.read_csv(report)
    assert rejects.columns == ["source_row", "field", "reason_code"]
    assert sorted(set(rejects["source_row"])) == [4, 5]
    assert CANARY.encode() not in report
    assert plan.files.items[outcome.file_id]["manifest"]["accepted"] == 4


def test_every_kind_manifest_adds_up():
    # GIVEN two valid rows and one invalid row of every tabular kind
    plan = Plan()
    for kind in (k for k in FileKind if k is not FileKind.FHIR):
        data = csv_bytes(
            kind, [*rows(kind, 2), dict(VALID_ROWS[kind], **{next(iter(VALID_ROWS[kind])): None})]
        )
        # WHEN it is ingested
        outcome = plan.drop(f"landing/{kind.value}/sample.csv", data)
        # THEN the manifest adds up and the curated rows are the accepted ones
        m = manifest(plan, outcome.file_id)
        assert outcome.status is IngestStatus.ACCEPTED
        assert m["rows_read"] == 3 == m["accepted"] + m["rejected"] + m["duplicate"] + m["superseded"]
        assert (m["accepted"], m["rejected"]) == (2, 1)
        assert curated_rows(plan, m["curated_keys"]) == 2


def test_whole_file_problems_land_in_quarantine_with_their_reason():
    # GIVEN a truncated gzip, a file missing a required column, and a file of no known kind
    good = claims_file(claim_line("A"))
    problems = {
        "landing/medical_claims/cut.csv.gz": (gzip.compress(good)[:-12], "TRUNCATED_GZIP"),
        "landing/labs/nolab.csv": (b"member_id,result_date\nM1,2026-01-01\n", "MISSING_COLUMN"),
        "landing/mystery/what.csv": (good, "UNKNOWN_KIND"),
    }
    plan = Plan()
    for key, (data, reason) in problems.items():
        # WHEN each is ingested
        outcome = plan.drop(key, data)
        # THEN a copy sits at quarantine/<kind>/<file_id>/<name>, the reason is recorded, nothing is applied
        file_id = hashlib.sha256(data).hexdigest()
        kind, name = key.split("/")[1], key.rsplit("/", 1)[-1]
        kind = kind if kind in set(FileKind) else "unknown"
        assert outcome.status is IngestStatus.QUARANTINED and outcome.reason == reason
        assert plan.store.get_bytes(LANDING, f"quarantine/{kind}/{file_id}/{name}") == data
        assert plan.files.items[file_id]["quarantine_reason"] == reason
        assert reason.encode() in plan.store.get_bytes(REPORTS, f"rejects/{file_id}.csv")
    assert plan.store.keys(CURATED) == [] and plan.gaps.evidence == {}
