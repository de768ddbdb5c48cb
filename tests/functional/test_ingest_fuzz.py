"""Fuzz the whole ingest service on in-memory stores: raw bytes and mutated rows never raise, and every
row read is accepted, rejected, a duplicate or superseded."""

from __future__ import annotations

import gzip
import io
import json

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.models.files import FileKind
from shared.services.ingest import IngestOutcome, IngestStatus
from tests.unit.intake.factories import CANARY, VALID_ROWS, csv_bytes, jsonl_bytes, rows
from tests.unit.intake.service_fakes import CURATED, LANDING, REPORTS, Plan

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TABULAR = sorted(k for k in FileKind if k is not FileKind.FHIR)
KIND_NAMES = [k.value for k in FileKind] + ["unknown"]
POOL = [
    *sorted({v for row in VALID_ROWS.values() for v in row.values()}),
    "",
    CANARY,
    "2026-02-30",
    "7",
    "8",
    "reversed",
    "C0001-0",
    "\u00e9\u4e2d",
    '"quoted, value"',
    "multi\nline",
]


def check_accounting(plan: Plan, key: str, outcome: IngestOutcome) -> None:
    if outcome.status is IngestStatus.QUARANTINED:
        name = key.rsplit("/", 1)[-1]
        assert plan.store.keys(LANDING, "quarantine/")[0].endswith(f"/{outcome.file_id}/{name}")
        return
    assert outcome.status is IngestStatus.ACCEPTED
    m = json.loads(plan.store.get_bytes(REPORTS, f"manifests/{outcome.file_id}.json"))
    assert m["rows_read"] == m["accepted"] + m["rejected"] + m["duplicate"] + m["superseded"]
    curated = [pl.read_parquet(io.BytesIO(plan.store.get_bytes(CURATED, k))) for k in m["curated_keys"]]
    assert sum(f.height for f in curated) == m["accepted"]
    if m["rejected"]:
        report = plan.store.get_bytes(REPORTS, m["rejects_key"])
        assert pl.read_csv(report)["source_row"].n_unique() == m["rejected"]
        assert CANARY.encode() not in report


@SETTINGS
@given(kind=st.sampled_from(KIND_NAMES), data=st.binary(max_size=400), gzipped=st.booleans())
def test_raw_bytes_never_break_the_service(kind, data, gzipped):
    # GIVEN arbitrary bytes landed under some kind's prefix
    plan = Plan()
    key = f"landing/{kind}/fuzz.csv"
    # WHEN the service ingests them
    outcome = plan.drop(key, gzip.compress(data) if gzipped else data)
    # THEN it quarantines or accepts them, and every row is accounted for
    check_accounting(plan, key, outcome)


@SETTINGS
@given(
    kind=st.sampled_from(TABULAR),
    count=st.integers(1, 6),
    mutations=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 40), st.sampled_from(POOL)), max_size=8),
    repeat=st.lists(st.integers(0, 5), max_size=3),
    as_jsonl=st.booleans(),
)
def test_mutated_rows_never_break_the_service_and_every_row_is_counted(
    kind, count, mutations, repeat, as_jsonl
):
    # GIVEN valid rows of a kind with some fields replaced, some rows repeated
    data = rows(kind, count)
    names = [*VALID_ROWS[kind], "original_claim_id", "claim_status", "claim_frequency_code"]
    for row_at, field_at, value in mutations:
        field = names[field_at % len(names)]
        if field in data[row_at % count]:
            data[row_at % count][field] = value
    data += [dict(data[i % count]) for i in repeat]
    body = jsonl_bytes(data) if as_jsonl else csv_bytes(kind, data)
    plan = Plan()
    key = f"landing/{kind.value}/mutated.{'jsonl' if as_jsonl else 'csv'}"
    # WHEN the service ingests them
    outcome = plan.drop(key, body)
    # THEN no exception escapes and the manifest accounts for every row
    check_accounting(plan, key, outcome)
