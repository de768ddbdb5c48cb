"""docs/apc-incentive.md's boundary table is the tested cases, so the doc cannot drift."""

from __future__ import annotations

from tests.unit.apc.cases import render_incentive_table
from tests.unit.apc.docs import block


def test_the_doc_table_is_the_tested_cases() -> None:
    # GIVEN the cases the calculator tests assert row by row
    expected = render_incentive_table()
    # WHEN the doc's table is read
    table = block("apc-incentive.md", "table:incentive")
    # THEN it is exactly those cases (print them with `python -m tests.unit.apc.cases`)
    assert table == expected
