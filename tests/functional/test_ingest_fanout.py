"""The fan-out of a file too large for one function: split into member-hash shards, each ingested on its
own, then one manifest. Whatever the route, a file's result is the same: the same manifest, rejects
report, gap state, claim versions and curated rows; and a crash at any storage call of any step, then
the step again, gives the clean run's result."""

from __future__ import annotations

import gzip
import io
from typing import Any

import polars as pl
import pytest

from cli.generate.plan import claims_frame
from shared.dal.errors import NotFoundError
from shared.dal.memory import MemoryObjectStore
from shared.intake.shards import cut_file
from shared.intake.validation import SOURCE_ROW
from shared.models.files import FileKind
from shared.services.ingest import IngestService, IngestStatus
from tests.functional.test_ingest_idempotency import CrashError, Crashing
from tests.unit.intake.factories import VALID_ROWS, csv_bytes
from tests.unit.intake.service_fakes import CURATED, LANDING, REPORTS, Plan, claim_line, claims_file

KEY = "landing/medical_claims/large.csv"
SHARDS = 8


def generated_file(lines: int = 4000) -> bytes:
    """Generated claim lines, with what reconciliation must find across the whole file: a copy of a line
    (duplicate), a claim id billed again under another member with other content (KEY_CONFLICT across
    members, so across shards), in-file replacements and voids, and rows that fail validation."""
    frame = claims_frame(lines, seed=11)
    out = io.BytesIO()
    frame.write_csv(out, date_format="%Y-%m-%d")
    text = out.getvalue().decode()
    header, *rows = text.splitlines()
    names = header.split(",")
    member, service = names.index("member_id"), names.index("claim_start_date")
    extra = [rows[5], rows[17]]  # exact copies: duplicates
    stolen = rows[40].split(",")
    stolen[member] = rows[-1].split(",")[member]  # the same claim id and line under another member
    assert stolen[member] != rows[40].split(",")[member]
    stolen[service] = "2026-01-02" if stolen[service] != "2026-01-02" else "2026-01-03"
    extra.append(",".join(stolen))
    bad = rows[60].split(",")
    bad[service] = "2026-13-40"
    extra.append(",".join(bad))
    body = [*rows, *extra]
    versions = claims_file(
        claim_line("ORIG-1", member="MX01"),
        claim_line("REPL-1", frequency="7", original="ORIG-1", member="MX01", received="2026-03-01"),
        claim_line("ORIG-2", member="MX02"),
        claim_line("VOID-2", frequency="8", original="ORIG-2", member="MX02", received="2026-03-01"),
    ).decode()
    version_header, *version_rows = versions.splitlines()
    assert version_header.split(",") == names
    return ("\n".join([header, *body, *version_rows]) + "\n").encode()


class Starts:
    """The fan-out starter: records what the ingest handed over."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str, str]] = []

    def __call__(self, bucket: str, key: str, delivery: str) -> None:
        self.started.append((bucket, key, delivery))


def fanning_service(plan: Plan, starts: Starts, limit: int = 10_000) -> IngestService:
    """The ingest function's service: files past `limit` bytes are handed to `starts`."""
    return plan.service(fan_out=starts, max_file_bytes=limit)


def fan_out(plan: Plan, data: bytes, *, shards: int = SHARDS, order: str = "forward") -> str:
    """Land `data`, see it handed over, then run the state machine's steps: split, shards, finish."""
    plan.store.put_bytes(LANDING, KEY, data)
    starts = Starts()
    handed = fanning_service(plan, starts).ingest(LANDING, KEY)
    assert handed.status is IngestStatus.FANNED_OUT and starts.started == [(LANDING, KEY, "1")]
    service = plan.service()
    split = service.split(LANDING, KEY, shards=shards)
    assert split.status == "SPLIT"
    numbers = [s.shard for s in split.shards]
    for number in reversed(numbers) if order == "reverse" else numbers:
        service.ingest_shard(split.file_id, number)
    done = service.finish_split(LANDING, KEY, split.file_id)
    assert done.status is IngestStatus.ACCEPTED
    return split.file_id


def curated_rows(store: MemoryObjectStore, file_id: str) -> pl.DataFrame:
    keys = [k for k in store.keys(CURATED, "curated/") if file_id in k]
    return pl.concat([store.get_parquet(CURATED, k) for k in keys]).sort(SOURCE_ROW)


def evidence_log(store: MemoryObjectStore, file_id: str) -> pl.DataFrame:
    keys = [k for k in store.keys(CURATED, "evidence/") if file_id in k]
    frame = pl.concat([store.get_parquet(CURATED, k) for k in keys])
    return frame.sort(frame.columns)


def result(plan: Plan, file_id: str) -> dict[str, Any]:
    """What a file leaves behind, route-independent: curated keys differ only by the shard's suffix."""
    manifest = plan.store.get_json(REPORTS, f"manifests/{file_id}.json")
    manifest["curated_keys"] = sorted({k.split("/")[-2] for k in manifest["curated_keys"]})
    drop = plan.log.drop(KEY)
    assert drop is not None
    return {
        "manifest": manifest,
        "rejects": plan.store.get_bytes(REPORTS, f"rejects/{file_id}.csv"),
        "registry": {k: v["status"] for k, v in plan.files.items.items()},
        "drop": (drop.status, drop.rows_read, drop.accepted, drop.rejected, drop.duplicate, drop.superseded),
        "evidence": dict(plan.gaps.evidence),
        "versions": {k: dict(v) for k, v in plan.index.versions.items()},
        "curated": curated_rows(plan.store, file_id).to_dicts(),
        "evidence_log": evidence_log(plan.store, file_id).to_dicts(),
    }


@pytest.fixture(scope="module")
def data() -> bytes:
    return generated_file()


@pytest.fixture(scope="module")
def one_function(data: bytes) -> dict[str, Any]:
    plan = Plan()
    outcome = plan.drop(KEY, data)
    assert outcome.status is IngestStatus.ACCEPTED and outcome.file_id is not None
    return result(plan, outcome.file_id)


def test_a_fanned_out_file_has_the_result_of_one_function_in_every_store(data, one_function):
    # GIVEN a file with duplicates, a key billed under two members, in-file versions and bad rows
    # WHEN it is fanned out into shards that run in reverse order
    plan = Plan()
    file_id = fan_out(plan, data, order="reverse")
    # THEN manifest, rejects, registry, drop, gap state, versions, curated rows and evidence log match
    fanned = result(plan, file_id)
    assert fanned == one_function
    manifest = fanned["manifest"]
    assert manifest["duplicate"] == 2 and manifest["superseded"] >= 2 and manifest["rejected"] >= 3
    assert b"KEY_CONFLICT" in fanned["rejects"] and b"INVALID_DATE" in fanned["rejects"]


def test_shards_that_share_a_key_are_one_shard_and_members_never_span_two(data, tmp_path):
    # GIVEN the file, cut into 8 member-hash shards
    cut = cut_file(
        io.BytesIO(data),
        kind=FileKind.MEDICAL_CLAIMS,
        stored_bytes=len(data),
        shards=SHARDS,
        workdir=tmp_path,
    )
    # THEN the two shards holding the claim billed under two members are one, members are disjoint,
    # and every row is in exactly one shard
    assert cut.problem is None and len(cut.shards) == SHARDS - 1
    frames = []
    for number in range(len(cut.shards)):
        path = tmp_path / f"s{number}.parquet"
        cut.write_shard(number, path)
        frames.append(pl.read_parquet(path).with_columns(pl.lit(number).alias("shard")))
    rows = pl.concat(frames)
    assert rows.height == cut.rows_read == rows[SOURCE_ROW].n_unique()
    assert rows.group_by("member_id").agg(pl.col("shard").n_unique()).get_column("shard").max() == 1


@pytest.mark.parametrize("step", ["split", "shard", "finish"])
def test_a_crash_at_any_storage_call_of_a_step_then_the_step_again_gives_the_clean_result(step):
    # GIVEN a small file, its clean fan-out
    data = generated_file(100)
    clean = Plan()
    clean_id = fan_out(clean, data, shards=3)
    expected = result(clean, clean_id)
    crashed_at = 0
    while True:
        # WHEN the step dies at its n-th storage call, and then runs again whole
        plan = Plan()
        plan.store.put_bytes(LANDING, KEY, data)
        fanning_service(plan, Starts()).ingest(LANDING, KEY)
        budget = [crashed_at]
        crashing = plan.service(
            files=Crashing(plan.files, budget),
            gaps=Crashing(plan.gaps, budget),
            index=Crashing(plan.index, budget),
            store=Crashing(plan.store, budget),
            log=Crashing(plan.log, budget),
        )
        service = plan.service()
        crashed = False
        try:
            split = (crashing if step == "split" else service).split(LANDING, KEY, shards=3)
            for ref in split.shards:
                (crashing if step == "shard" and ref.shard == 1 else service).ingest_shard(
                    split.file_id, ref.shard
                )
            (crashing if step == "finish" else service).finish_split(LANDING, KEY, split.file_id)
        except CrashError:
            crashed = True
            split = service.split(LANDING, KEY, shards=3)
            for ref in split.shards:
                service.ingest_shard(split.file_id, ref.shard)
            service.finish_split(LANDING, KEY, split.file_id)
        # THEN the state is the clean run's
        assert result(plan, split.file_id) == expected, f"{step} crashed at call {crashed_at}"
        if not crashed:
            break
        crashed_at += 1
    assert crashed_at > 3


def test_a_gzip_that_inflates_past_the_limit_is_handed_over_and_once_applied_is_a_duplicate(data):
    # GIVEN the file gzipped, its stored size under the limit and its content over it
    plan = Plan()
    starts = Starts()
    squeezed = gzip.compress(data)
    service = fanning_service(plan, starts, limit=len(squeezed) + 1)
    gz_key = "landing/medical_claims/large.csv.gz"
    plan.store.put_bytes(LANDING, gz_key, squeezed)
    # WHEN it lands
    handed = service.ingest(LANDING, gz_key)
    # THEN it is handed over once inflated past the limit, and is applied in shards
    assert handed.status is IngestStatus.FANNED_OUT and starts.started == [(LANDING, gz_key, "1")]
    split = plan.service().split(LANDING, gz_key, shards=3)
    for ref in split.shards:
        plan.service().ingest_shard(split.file_id, ref.shard)
    assert plan.service().finish_split(LANDING, gz_key, split.file_id).status is IngestStatus.ACCEPTED
    # AND the same bytes under another key are a duplicate naming the key that applied them
    copy_key = "landing/medical_claims/copy.csv.gz"
    plan.store.put_bytes(LANDING, copy_key, squeezed)
    again = plan.service().split(LANDING, copy_key)
    assert again.status == "DUPLICATE" and again.shards == ()
    copy = plan.log.drop(copy_key)
    assert copy is not None and (copy.status, copy.duplicate_of) == ("DUPLICATE", gz_key)


def test_a_whole_file_problem_is_found_by_the_split_and_quarantines_the_file():
    # GIVEN a large file whose header names a column twice
    plan = Plan()
    data = generated_file(200)
    header, rest = data.split(b"\n", 1)
    plan.store.put_bytes(LANDING, KEY, header + b",Member_ID\n" + rest.replace(b"\n", b",x\n"))
    # WHEN it is split
    split = plan.service().split(LANDING, KEY, shards=3)
    # THEN it is quarantined as one function would, naming the column, and nothing is staged
    assert split.status == "QUARANTINED" and split.shards == ()
    manifest = plan.store.get_json(REPORTS, f"manifests/{split.file_id}.json")
    assert (
        manifest["quarantine_reason"] == "DUPLICATE_COLUMN" and "member_id" in manifest["quarantine_detail"]
    )
    assert not plan.store.keys(CURATED, "staging/")


def test_a_step_that_keeps_failing_ends_the_file_failed_with_its_reason(data):
    # GIVEN a file split, one of whose shards keeps failing
    plan = Plan()
    plan.store.put_bytes(LANDING, KEY, data)
    fanning_service(plan, Starts()).ingest(LANDING, KEY)
    split = plan.service().split(LANDING, KEY, shards=3)
    # WHEN the state machine's catch records the failure, and a finish is tried without the shard
    plan.service().fail_split(KEY, "CrashError", split.file_id)
    # THEN the drop and the registry say FAILED with the error's name, and the finish is refused
    drop = plan.log.drop(KEY)
    assert drop is not None and (drop.status, drop.reason) == ("FAILED", "CrashError")
    manifest = plan.store.get_json(REPORTS, f"manifests/{split.file_id}.json")
    assert (manifest["status"], manifest["failure_reason"]) == ("FAILED", "CrashError")
    with pytest.raises(NotFoundError):
        plan.service().finish_split(LANDING, KEY, split.file_id)


def test_an_eligibility_file_fanned_out_has_one_functions_roster_and_coverage():
    # GIVEN a roster of 300 members with spans starting over several months (one open, one bad date)
    base = VALID_ROWS[FileKind.ELIGIBILITY]
    roster = [
        base | {"member_id": f"E{n:04d}", "enrollment_start_date": f"2025-{n % 12 + 1:02d}-01"}
        for n in range(300)
    ]
    roster[7] = roster[7] | {"enrollment_end_date": ""}
    roster[9] = roster[9] | {"birth_date": "1960-02-31"}
    data = csv_bytes(FileKind.ELIGIBILITY, roster)
    key = "landing/eligibility/roster.csv"
    one, fanned = Plan(), Plan()
    expected = one.drop(key, data)
    # WHEN it is fanned out in four shards
    fanned.store.put_bytes(LANDING, key, data)
    split = fanned.service().split(LANDING, key, shards=4)
    for ref in split.shards:
        fanned.service().ingest_shard(split.file_id, ref.shard)
    fanned.service().finish_split(LANDING, key, split.file_id)
    # THEN the manifests (coverage included) and the rosters are one function's
    manifests = [
        p.store.get_json(REPORTS, f"manifests/{expected.file_id}.json") | {"curated_keys": None}
        for p in (one, fanned)
    ]
    assert (
        manifests[0] == manifests[1]
        and manifests[0]["coverage"] is not None
        and manifests[0]["rejected"] == 1
    )
    assert (fanned.gaps.profiles, fanned.gaps.spans) == (one.gaps.profiles, one.gaps.spans)
    assert len(split.shards) == 4
