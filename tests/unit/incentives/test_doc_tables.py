"""docs/annual-incentives.md's boundary tables are the tested cases, so the doc cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.incentives.cases import render_benchmark_table, render_guarantee_table

DOC = Path(__file__).resolve().parents[3] / "docs" / "annual-incentives.md"


def _table(name: str) -> str:
    found = re.search(rf"<!-- table:{name} -->\n(.*?)\n<!-- /table:{name} -->", DOC.read_text(), re.S)
    assert found, f"docs/annual-incentives.md has no <!-- table:{name} --> block"
    return found.group(1)


@pytest.mark.parametrize(
    ("name", "render"), [("benchmark", render_benchmark_table), ("guarantee", render_guarantee_table)]
)
def test_the_doc_table_is_the_tested_cases(name: str, render) -> None:
    # GIVEN the cases the calculator tests assert row by row
    expected = render()
    # WHEN the doc's table is read
    table = _table(name)
    # THEN it is exactly those cases (print them with `python -m tests.unit.incentives.cases`)
    assert table == expected
