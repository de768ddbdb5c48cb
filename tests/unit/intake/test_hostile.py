"""The hostile-file corpus through `p4p validate`: no traceback, the fate each case must have, every row
accounted for, and no hostile value in what the command prints or the report it writes."""

from __future__ import annotations

import csv
import gzip
import time
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console

from cli.validate import EXIT_CLEAN, EXIT_QUARANTINED, EXIT_REJECTS, default_rejects_path, validate
from shared.intake import read_file
from shared.models.files import FileKind
from tests.unit.intake.factories import csv_bytes, rows
from tests.unit.intake.hostile import AS_OF, CANARY_TEXT, Case, corpus

CASES = corpus()
DAY = date.fromisoformat(AS_OF)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_hostile_file_meets_its_fate_through_p4p_validate(case: Case, tmp_path: Path) -> None:
    # GIVEN a hostile file on disk
    path = tmp_path / case.key.rsplit("/", 1)[-1]
    path.write_bytes(case.data)
    console = Console(record=True, width=200)
    # WHEN p4p validate checks it (as of the corpus's day)
    code = validate(path, case.kind.value, console=console, as_of=DAY)
    shown = console.export_text()
    # THEN it is quarantined for its reason, or its rows are accepted and rejected as they must be
    if case.reason is not None:
        assert code == EXIT_QUARANTINED and case.reason in shown
        assert case.detail is None or case.detail in shown
    else:
        report = default_rejects_path(path)
        lines = (
            {(int(r["source_row"]), r["field"], r["reason_code"]) for r in csv.DictReader(report.open())}
            if report.exists()
            else set()
        )
        assert code == (EXIT_REJECTS if case.rejects else EXIT_CLEAN)
        assert case.rejects <= lines
        assert CANARY_TEXT not in (report.read_text() if report.exists() else "")
        result = read_file(case.data, kind=case.kind, source_key=case.key, as_of=DAY)
        m = result.manifest
        assert m.accepted == case.accepted
        assert m.rows_read == m.accepted + m.rejected + m.duplicate + m.superseded
    # AND nothing it prints repeats a hostile value
    assert CANARY_TEXT not in shown


def test_inflating_many_empty_gzip_members_takes_time_linear_in_their_number() -> None:
    # GIVEN gzips of 60,000 and of 240,000 empty members before the data (the quadratic case took 62 s)
    data = csv_bytes(FileKind.IMMUNIZATIONS, rows(FileKind.IMMUNIZATIONS, 3))
    empty = gzip.compress(b"", mtime=0)

    def seconds(members: int) -> float:
        start = time.perf_counter()
        result = read_file(empty * members + gzip.compress(data), kind=FileKind.IMMUNIZATIONS, source_key="k")
        assert result.manifest.accepted == 3
        return time.perf_counter() - start

    small, large = seconds(60_000), seconds(240_000)
    # THEN four times the members take about four times as long, never the sixteen of a square
    assert large < 8 * small + 1.0


def test_no_case_of_the_corpus_is_left_without_a_stated_fate() -> None:
    # GIVEN the corpus
    # WHEN each case's expectation is read
    # THEN each says either how it is quarantined or how many rows it accepts, and no name repeats
    assert all((c.reason is None) != (c.accepted is None) for c in CASES)
    assert len({c.name for c in CASES}) == len(CASES)
