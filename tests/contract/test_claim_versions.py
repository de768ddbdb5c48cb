"""ClaimVersionRepository: replacements and voids kept per member, rewritten unchanged on redelivery, read
back sorted per member (the ingest nets claims in that order)."""

from __future__ import annotations

from dataclasses import replace

from shared.dal.claim_versions import VOID, ClaimVersionRepository
from tests.contract.conftest import Backend
from tests.contract.factories import version


def test_versions_are_read_back_per_member_in_order(versions: ClaimVersionRepository):
    # GIVEN versions of two members written out of order, a void held before its original came
    mine = [version(original="C5", claim="C6"), version(original="C1", claim="C9", frequency=VOID)]
    mine.append(version(original="C1", claim="C2"))
    theirs = [version("M0002", original="C7", claim="C8")]
    written = versions.put_versions([*mine, *theirs])
    # WHEN the versions of both, a member without versions, and one asked twice are read
    found = versions.versions_of(["M0002", "M0001", "M0404", "M0001"])
    # THEN each member with versions has them sorted; others are absent
    assert written == 4
    assert found == {"M0001": sorted(mine), "M0002": theirs}
    assert list(found["M0001"]) == [mine[2], mine[1], mine[0]]
    assert versions.versions_of([]) == {}


def test_a_version_written_again_is_one_version_and_the_last_content_stands(versions: ClaimVersionRepository):
    # GIVEN a version, then a batch holding it twice, then the same key received again later
    first = version()
    versions.put_versions([first])
    twice = versions.put_versions([first, first])
    later = replace(first, received_date="2026-04-02", file_id="f2")
    versions.put_versions([later])
    # WHEN the member's versions are read
    found = versions.versions_of(["M0001"])
    # THEN a batch counts the version once, and the member has one version: the last written
    assert twice == 1
    assert found == {"M0001": [later]}


def test_a_members_versions_are_read_past_a_page(
    backend: Backend, versions: ClaimVersionRepository, small_pages: int
):
    # GIVEN 80 versions of one member (about 14 KB) and one of another
    mine = [version(original=f"C{i:03d}", claim=f"R{i:03d}") for i in reversed(range(80))]
    versions.put_versions([*mine, version("M0002")])
    # WHEN the member's versions are read with the other's
    found = versions.versions_of(["M0001", "M0002"])
    # THEN all 80 are there, sorted, and the other member keeps its own
    assert found == {"M0001": sorted(mine), "M0002": [version("M0002")]}
    assert backend.spans_pages()
