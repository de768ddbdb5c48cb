"""ObjectStore: bytes written and overwritten, written once (`If-None-Match: *`), copied, listed in key
order past a listing's page, sized, tagged so a change shows, and the JSON and Parquet helpers on top."""

from __future__ import annotations

import polars as pl
import pytest

from shared.dal.errors import AlreadyRecordedError, NotFoundError
from shared.dal.objects import ObjectStore
from tests.contract.conftest import BUCKET, OTHER_BUCKET, Backend


def test_bytes_read_back_as_last_written_and_a_missing_key_is_not_found(objects: ObjectStore):
    # GIVEN a key written twice, and the same key in another bucket
    objects.put_bytes(BUCKET, "runs/r1/summary.json", b"first")
    objects.put_bytes(BUCKET, "runs/r1/summary.json", b"second", "application/json")
    objects.put_bytes(OTHER_BUCKET, "runs/r1/summary.json", b"other")
    # WHEN they and a key never written are read
    read = objects.get_bytes(BUCKET, "runs/r1/summary.json")
    with pytest.raises(NotFoundError):
        objects.get_bytes(BUCKET, "runs/r1/missing.json")
    # THEN the last write is read, bucket by bucket
    assert (read, objects.get_bytes(OTHER_BUCKET, "runs/r1/summary.json")) == (b"second", b"other")


def test_a_payment_file_is_written_once(objects: ObjectStore):
    # GIVEN a payment file written once, and a key already taken by a plain write
    objects.put_once(BUCKET, "payments/r1.csv", b"clinic,amount\nK1,900\n", "text/csv")
    objects.put_bytes(BUCKET, "payments/r2.csv", b"draft")
    # WHEN either is written once again with other bytes
    for key in ("payments/r1.csv", "payments/r2.csv"):
        with pytest.raises(AlreadyRecordedError):
            objects.put_once(BUCKET, key, b"clinic,amount\nK1,1\n", "text/csv")
    # THEN both keep what they had; the same key in another bucket is free
    assert objects.get_bytes(BUCKET, "payments/r1.csv") == b"clinic,amount\nK1,900\n"
    assert objects.get_bytes(BUCKET, "payments/r2.csv") == b"draft"
    objects.put_once(OTHER_BUCKET, "payments/r1.csv", b"x")
    assert objects.get_bytes(OTHER_BUCKET, "payments/r1.csv") == b"x"


def test_a_copy_holds_the_source_bytes_and_a_missing_source_is_not_found(objects: ObjectStore):
    # GIVEN a landed file
    objects.put_bytes(BUCKET, "landing/clinics/a.csv", b"clinic_id\nK1\n")
    # WHEN it is copied to quarantine in the same and another bucket, and a missing key is copied
    objects.copy(BUCKET, "landing/clinics/a.csv", BUCKET, "quarantine/clinics/h1/a.csv")
    objects.copy(BUCKET, "landing/clinics/a.csv", OTHER_BUCKET, "a.csv")
    with pytest.raises(NotFoundError):
        objects.copy(BUCKET, "landing/clinics/missing.csv", BUCKET, "quarantine/clinics/h2/missing.csv")
    # THEN the copies hold the bytes, the source stays, and nothing was written for the missing source
    assert objects.get_bytes(BUCKET, "quarantine/clinics/h1/a.csv") == b"clinic_id\nK1\n"
    assert objects.get_bytes(OTHER_BUCKET, "a.csv") == b"clinic_id\nK1\n"
    assert objects.keys(BUCKET) == ["landing/clinics/a.csv", "quarantine/clinics/h1/a.csv"]


def test_keys_are_listed_under_a_prefix_in_key_order(objects: ObjectStore):
    # GIVEN keys written out of order, some sharing a prefix, one with a non-ASCII name
    for key in (
        "runs/r1/shards/00002.json",
        "runs/r1/shards.json",
        "runs/r10/x",
        "runs/r1/shards/00001.json",
    ):
        objects.put_bytes(BUCKET, key, b"{}")
    objects.put_bytes(BUCKET, "programs/clínica.json", b"{}")
    objects.put_bytes(OTHER_BUCKET, "runs/r1/elsewhere", b"{}")
    # WHEN keys are listed with and without a prefix
    under, every, none = objects.keys(BUCKET, "runs/r1/"), objects.keys(BUCKET), objects.keys(BUCKET, "nope/")
    # THEN a prefix is a plain string prefix, keys come sorted, and other buckets are apart
    assert under == ["runs/r1/shards.json", "runs/r1/shards/00001.json", "runs/r1/shards/00002.json"]
    assert every == ["programs/clínica.json", *under, "runs/r10/x"]
    assert none == []


def test_keys_are_listed_past_a_page(backend: Backend, objects: ObjectStore, small_pages: int):
    # GIVEN 40 statements under one prefix (six pages of 7 keys), written in reverse
    keys = [f"statements/r1/K{n:04d}.csv" for n in range(40)]
    for key in reversed(keys):
        objects.put_bytes(BUCKET, key, b"x")
    objects.put_bytes(BUCKET, "statements/r2/K0001.csv", b"x")
    # WHEN they are listed, and tagged
    listed, tags = objects.keys(BUCKET, "statements/r1/"), objects.etags(BUCKET, "statements/r1/")
    # THEN every key comes once, in order
    assert listed == keys and sorted(tags) == keys
    assert backend.spans_pages()


def test_a_tag_changes_when_its_object_does(objects: ObjectStore):
    # GIVEN two program files
    objects.put_bytes(BUCKET, "programs/a.json", b'{"v":1}')
    objects.put_bytes(BUCKET, "programs/b.json", b'{"v":1}')
    before = objects.etags(BUCKET, "programs/")
    # WHEN one is rewritten with other bytes and the other with the same bytes
    objects.put_bytes(BUCKET, "programs/a.json", b'{"v":2}')
    objects.put_bytes(BUCKET, "programs/b.json", b'{"v":1}')
    after = objects.etags(BUCKET, "programs/")
    # THEN the changed object's tag moved and the other's did not; the keys are those listed
    assert sorted(after) == objects.keys(BUCKET, "programs/") == ["programs/a.json", "programs/b.json"]
    assert after["programs/a.json"] != before["programs/a.json"]
    assert after["programs/b.json"] == before["programs/b.json"]


def test_sizes_are_each_objects_bytes_past_a_page(backend: Backend, objects: ObjectStore, small_pages: int):
    # GIVEN 20 curated files of different sizes under one prefix (three pages), and one under another
    keys = {f"curated/medical_claims/period=2026-03/f{n:02d}.parquet": n for n in range(20)}
    for key, n in keys.items():
        objects.put_bytes(BUCKET, key, b"x" * n)
    objects.put_bytes(BUCKET, "curated/eligibility/f.parquet", b"xyz")
    # WHEN the prefix's sizes are listed
    sizes = objects.sizes(BUCKET, "curated/medical_claims/")
    # THEN each key under it has its object's size
    assert sizes == keys
    assert backend.spans_pages()


def test_json_and_parquet_round_trip(objects: ObjectStore):
    # GIVEN a JSON document and a frame
    document = {"shard_id": "00001", "member_ids": ["M2", "M1"], "total": 12.5, "nested": {"b": None, "a": 1}}
    frame = pl.DataFrame({"member_id": ["M1", "M2"], "cents": [900, -100]})
    # WHEN they are written and read back
    objects.put_json(BUCKET, "runs/r1/shards/00001.json", document)
    objects.put_parquet(BUCKET, "curated/x.parquet", frame)
    # THEN they are equal, and the JSON bytes are compact with sorted keys
    assert objects.get_json(BUCKET, "runs/r1/shards/00001.json") == document
    assert objects.get_bytes(BUCKET, "runs/r1/shards/00001.json").startswith(b'{"member_ids":["M2","M1"],')
    assert objects.get_parquet(BUCKET, "curated/x.parquet").equals(frame)
