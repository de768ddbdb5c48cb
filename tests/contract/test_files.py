"""FileRegistry: a file is processed once per content hash (PROCESSING may be taken over, a final status is
answered), and the coverage of accepted eligibility files and the accepted files of some kinds (a reporting
phase's submissions) are listed from the FILES index."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared.clock import clock_override
from shared.dal.files import FileRegistry
from shared.models.files import FileKind, FileStatus, FileSubmission
from tests.contract.conftest import Backend
from tests.contract.factories import eligibility_manifest, manifest

JANUARY = (date(2026, 1, 1), date(2026, 1, 31))
FEBRUARY = (date(2026, 2, 1), date(2026, 2, 28))


def covered(files: FileRegistry) -> list[tuple[date, date]]:
    return sorted((c.first_day, c.last_day) for c in files.eligibility_coverage())


def test_a_file_in_processing_may_be_taken_over_and_a_finished_one_is_answered(files: FileRegistry):
    # GIVEN a file claimed by an attempt that crashed, and two files finished
    kind = FileKind.MEDICAL_CLAIMS
    crashed = files.begin("h1", kind=kind, source_key="landing/medical_claims/a.csv")
    for file_id, status in (("h2", FileStatus.ACCEPTED), ("h3", FileStatus.QUARANTINED)):
        assert files.begin(file_id, kind=kind, source_key=f"landing/medical_claims/{file_id}.csv") is None
        files.finish(file_id, status, reason="BAD_HEADER" if status is FileStatus.QUARANTINED else None)
    # WHEN each is claimed again, under any key
    answers = [
        files.begin(f, kind=kind, source_key="landing/medical_claims/b.csv") for f in ("h1", "h2", "h3")
    ]
    # THEN the crashed one is ours again; the finished ones answer their status
    assert crashed is None
    assert answers == [None, FileStatus.ACCEPTED, FileStatus.QUARANTINED]


def test_coverage_lists_accepted_eligibility_files_only(files: FileRegistry):
    # GIVEN eligibility files accepted, quarantined, still processing, and accepted without coverage,
    # and an accepted claims file
    cases = [
        ("e1", FileKind.ELIGIBILITY, FileStatus.ACCEPTED, eligibility_manifest("e1", *JANUARY)),
        ("e2", FileKind.ELIGIBILITY, FileStatus.QUARANTINED, eligibility_manifest("e2", *FEBRUARY)),
        ("e3", FileKind.ELIGIBILITY, None, None),
        ("e4", FileKind.ELIGIBILITY, FileStatus.ACCEPTED, manifest("e4", FileKind.ELIGIBILITY)),
        ("c1", FileKind.MEDICAL_CLAIMS, FileStatus.ACCEPTED, eligibility_manifest("c1", *FEBRUARY)),
        ("e5", FileKind.ELIGIBILITY, FileStatus.ACCEPTED, eligibility_manifest("e5", *FEBRUARY)),
    ]
    for file_id, kind, status, accounted in cases:
        files.begin(file_id, kind=kind, source_key=f"landing/{kind.value}/{file_id}.csv")
        if status is not None:
            files.finish(file_id, status, manifest=accounted)
    # WHEN the coverage is listed
    listed = covered(files)
    # THEN only the accepted eligibility files with a coverage are named
    assert listed == [JANUARY, FEBRUARY]


def test_a_second_finish_keeps_what_it_does_not_restate(files: FileRegistry):
    # GIVEN an accepted eligibility file with its coverage
    files.begin("e1", kind=FileKind.ELIGIBILITY, source_key="landing/eligibility/e1.csv")
    files.finish("e1", FileStatus.ACCEPTED, manifest=eligibility_manifest("e1", *JANUARY))
    # WHEN it is finished again with counts but no coverage (a redelivered event finishing the same file)
    files.finish("e1", FileStatus.ACCEPTED, manifest=manifest("e1", FileKind.ELIGIBILITY))
    # THEN the coverage recorded first still counts
    assert covered(files) == [JANUARY]


def test_coverage_is_listed_past_a_megabyte_of_registry(backend: Backend, files: FileRegistry):
    # GIVEN 26 quarantined files with 40 KB reasons (1 MB of the FILES index), then accepted rosters
    for n in range(26):
        files.begin(f"q{n:02d}", kind=FileKind.ELIGIBILITY, source_key=f"landing/eligibility/q{n}.csv")
        files.finish(f"q{n:02d}", FileStatus.QUARANTINED, reason=f"{n}".ljust(40_000, "."))
    for file_id, days in (("e1", JANUARY), ("e2", FEBRUARY)):
        files.begin(file_id, kind=FileKind.ELIGIBILITY, source_key=f"landing/eligibility/{file_id}.csv")
        files.finish(file_id, FileStatus.ACCEPTED, manifest=eligibility_manifest(file_id, *days))
    # WHEN the coverage is listed
    listed = covered(files)
    # THEN the rosters behind the first megabyte are found
    assert listed == [JANUARY, FEBRUARY]
    assert backend.spans_pages()


def test_submissions_list_accepted_files_of_the_kinds_asked_with_the_day_received(files: FileRegistry):
    # GIVEN on 5 March an accepted claims file (1 row of 2 rejected), a quarantined claims file, an accepted
    # roster, and one still processing
    with clock_override(lambda: datetime(2026, 3, 5, 23, 30, tzinfo=UTC)):
        for file_id, kind, status in (
            ("c1", FileKind.MEDICAL_CLAIMS, FileStatus.ACCEPTED),
            ("c2", FileKind.MEDICAL_CLAIMS, FileStatus.QUARANTINED),
            ("e1", FileKind.ELIGIBILITY, FileStatus.ACCEPTED),
            ("c3", FileKind.MEDICAL_CLAIMS, None),
        ):
            files.begin(file_id, kind=kind, source_key=f"landing/{kind.value}/{file_id}.csv")
            if status is not None:
                files.finish(file_id, status, manifest=manifest(file_id, kind))
    # WHEN the claims and attestations submissions are listed
    found = files.submissions([FileKind.MEDICAL_CLAIMS, FileKind.ATTESTATIONS])
    # THEN only the accepted claims file is, received on 5 March (UTC) with its row counts
    assert found == [
        FileSubmission(kind=FileKind.MEDICAL_CLAIMS, received_on=date(2026, 3, 5), rows_read=2, rejected=1)
    ]
    assert files.submissions([]) == []
