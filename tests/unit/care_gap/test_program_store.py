"""Program versions read from an object store's `programs/<program>/` prefix: merged over the packaged ones,
kept per container, re-listed after the recheck interval, re-read only when the listing changes, bad files
named; each program's versions go to its own catalog."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal

import pytest

from shared.dal.memory import MemoryObjectStore
from shared.models.actions import Step, Track
from shared.programs.care_gap import DATA_DIR
from shared.programs.catalog import load_programs
from shared.programs.stored import ProgramFileError, StoredPrograms, programs_with_files

BUCKET = "curated"
SHIPPED = json.loads((DATA_DIR / "care_gap" / "care_gap_2026.json").read_text(encoding="utf-8"))
PROGRAMS = load_programs()
BASE = PROGRAMS.care_gap
BENCHMARK = json.loads((DATA_DIR / "benchmark" / "benchmark_2026.json").read_text(encoding="utf-8"))


def _version(name: str, start: str, awv_perform: str = "40") -> bytes:
    raw = json.loads(json.dumps(SHIPPED)) | {"version": name, "effective_from": start}
    for card in raw["rate_cards"]:
        card["svu"]["AWV"]["perform"] = awv_perform
    return json.dumps(raw).encode()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryObjectStore):
    """Lists keys with content tags as S3 lists ETags (without reading objects), and counts both."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.listings = 0

    def get_bytes(self, bucket: str, key: str) -> bytes:
        self.reads += 1
        return super().get_bytes(bucket, key)

    def etags(self, bucket: str, prefix: str = "") -> dict[str, str]:
        self.listings += 1
        return {k: hashlib.md5(self.objects[(bucket, k)]).hexdigest() for k in self.keys(bucket, prefix)}


def _awv_perform(catalog, day: date) -> Decimal:
    return catalog.in_force(day).svu(Track.FAMILY_ADULT, "AWV", Step.PERFORM)


def test_a_warm_catalog_picks_up_a_new_version_after_the_recheck_and_rereads_only_on_change():
    # GIVEN a container's catalog over an empty prefix, rechecking every 60 s
    store, clock = CountingStore(), Clock()
    stored = StoredPrograms(store, BUCKET, base=PROGRAMS, recheck_seconds=60, clock=clock)
    catalog = stored.care_gap
    assert catalog.versions == BASE.versions and stored.fingerprint == ""
    # WHEN a July version is dropped, read before and after the interval, then the interval passes again
    store.put_bytes(
        BUCKET, "programs/care_gap/care_gap-2026.7.json", _version("care_gap-2026.7", "2026-07-01", "99")
    )
    clock.now = 59
    stale = _awv_perform(catalog, date(2026, 7, 1))
    clock.now = 60
    fresh = _awv_perform(catalog, date(2026, 7, 1))
    reads_after_load = store.reads
    clock.now = 121
    again = _awv_perform(catalog, date(2026, 7, 1))
    # THEN the drop shows once the interval passed, June keeps the shipped rate, and an unchanged listing
    # is not read again
    assert stale == _awv_perform(BASE, date(2026, 7, 1)) and fresh == again == Decimal(99)
    assert _awv_perform(catalog, date(2026, 6, 30)) == _awv_perform(BASE, date(2026, 6, 30))
    assert store.listings == 3 and store.reads == reads_after_load
    assert stored.fingerprint != ""


def test_a_changed_file_is_read_again():
    # GIVEN a dropped version already loaded
    store, clock = CountingStore(), Clock()
    key = "programs/care_gap/care_gap-2026.7.json"
    store.put_bytes(BUCKET, key, _version("care_gap-2026.7", "2026-07-01", "99"))
    stored = StoredPrograms(store, BUCKET, base=PROGRAMS, recheck_seconds=60, clock=clock)
    catalog, first = stored.care_gap, stored.fingerprint
    # WHEN the plan overwrites it with another rate and the interval passes
    store.put_bytes(BUCKET, key, _version("care_gap-2026.7", "2026-07-01", "77"))
    clock.now = 60
    # THEN the new rate applies and the fingerprint moved
    assert _awv_perform(catalog, date(2026, 8, 1)) == Decimal(77) and stored.fingerprint != first


def test_a_file_naming_a_packaged_version_replaces_it_and_folder_markers_are_not_files():
    # GIVEN the shipped version re-dropped with another AWV rate, beside an S3 console folder marker
    files = {
        "programs/": b"",
        "programs/care_gap/": b"",
        "programs/care_gap/care_gap_2026.json": _version(SHIPPED["version"], SHIPPED["effective_from"], "55"),
    }
    # WHEN the programs are built
    catalog = programs_with_files(files, PROGRAMS).care_gap
    # THEN the dropped copy is the one in force
    assert len(catalog.versions) == len(BASE.versions)
    assert _awv_perform(catalog, date(2026, 3, 1)) == Decimal(55)


def test_each_program_goes_to_its_own_catalog_and_a_file_directly_under_programs_names_its_program():
    # GIVEN a Benchmark version in its folder and a Care Gap version dropped the old way, at the top
    benchmark = BENCHMARK | {
        "version": "benchmark-2026.2",
        "effective_from": "2026-02-01",
        "minimum_denominator": 30,
    }
    files = {
        "programs/benchmark/benchmark-2026.2.json": json.dumps(benchmark).encode(),
        "programs/care_gap-2026.7.json": _version("care_gap-2026.7", "2026-07-01", "99"),
    }
    # WHEN the programs are built
    programs = programs_with_files(files, PROGRAMS)
    # THEN each version is in its program's catalog, and the packaged ones are still there
    assert programs.benchmark.in_force(date(2026, 3, 1)).minimum_denominator == 30
    assert programs.benchmark.in_force(date(2026, 1, 15)).version == BENCHMARK["version"]
    assert _awv_perform(programs.care_gap, date(2026, 7, 1)) == Decimal(99)


@pytest.mark.parametrize(
    ("files", "named", "problem"),
    [
        (
            {
                "programs/a.json": _version("care_gap-2026.7", "2026-07-01"),
                "programs/b.json": _version("care_gap-2026.7", "2026-08-01"),
            },
            "programs/b.json",
            "also in programs/a.json",
        ),
        (
            {"programs/a.json": _version("care_gap-2026.x", SHIPPED["effective_from"])},
            "programs/a.json",
            f"same day as packaged version {SHIPPED['version']}",
        ),
        (
            {"programs/care_gap/a.json": json.dumps(BENCHMARK).encode()},
            "programs/care_gap/a.json",
            "program must be 'care_gap' in programs/care_gap/",
        ),
        (
            {"programs/apc-ish/a.json": _version("care_gap-2026.7", "2026-07-01")},
            "programs/apc-ish/a.json",
            "programs/apc-ish/ is not a program",
        ),
        (
            {"programs/a.json": json.dumps(SHIPPED | {"program": "nonesuch"}).encode()},
            "programs/a.json",
            "program must be one of care_gap, benchmark",
        ),
        ({"programs/a.json": b"[1, 2]"}, "programs/a.json", "JSON object"),
        ({"programs/a.json": b"\xff\xfe"}, "programs/a.json", "UTF-8"),
    ],
    ids=[
        "two-files-one-version",
        "same-start-as-packaged",
        "other-program-in-folder",
        "unknown-folder",
        "unknown-program",
        "not-an-object",
        "binary",
    ],
)
def test_bad_drops_are_refused_with_the_file_and_the_problem(files, named, problem):
    # GIVEN files under programs/ that cannot all be used
    # WHEN the catalog is built
    with pytest.raises(ProgramFileError) as raised:
        programs_with_files(files, PROGRAMS)
    # THEN the error names the file and what is wrong
    assert raised.value.key == named and problem in raised.value.problem


def test_a_bad_file_dropped_later_fails_every_load_until_it_is_removed():
    # GIVEN a loaded catalog
    store, clock = MemoryObjectStore(), Clock()
    catalog = StoredPrograms(store, BUCKET, base=PROGRAMS, recheck_seconds=0, clock=clock).care_gap
    # WHEN a broken file lands, is read twice, then removed
    store.put_bytes(BUCKET, "programs/bad.json", b"{")
    errors = []
    for _ in range(2):
        with pytest.raises(ProgramFileError) as raised:
            catalog.in_force(date(2026, 3, 1))
        errors.append(raised.value.key)
    del store.objects[(BUCKET, "programs/bad.json")]
    # THEN both reads fail naming it, and the catalog recovers once it is gone
    assert errors == ["programs/bad.json"] * 2
    assert catalog.in_force(date(2026, 3, 1)).version == SHIPPED["version"]
