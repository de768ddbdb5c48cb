"""Every case of the CMS test decks: the engine's populations against the expected MeasureReport."""

from __future__ import annotations

import pytest

from shared.logic.measures.agreement import actual_counts
from shared.logic.measures.deck import DeckCase, load_cases
from shared.logic.measures.exclusions import EXCLUDED_CASES
from shared.logic.measures.valuesets import ValueSetIndex
from tests.unit.measures.conftest import DECKS_MISSING

CASES = load_cases()
PARAMS = [
    pytest.param(
        case,
        id=f"{case.measure}-{case.case_id[:8]}-{case.name.replace(' ', '_') or 'unnamed'}",
        marks=[pytest.mark.skip(reason=EXCLUDED_CASES[case.label])] if case.label in EXCLUDED_CASES else [],
    )
    for case in CASES
] or [pytest.param(None, id="no-decks", marks=pytest.mark.skip(reason=DECKS_MISSING))]


@pytest.mark.parametrize("case", PARAMS)
def test_case_matches_expected_measure_report(case: DeckCase, deck_valuesets: ValueSetIndex) -> None:
    # GIVEN one test patient and the counts its expected MeasureReport carries
    expected = case.expected
    # WHEN the engine evaluates the patient against the measure
    actual = actual_counts(case)
    # THEN every population of every group agrees
    assert actual == expected


def test_exclusions_name_real_cases_with_reasons() -> None:
    # GIVEN the deck cases (when present)
    if not CASES:
        pytest.skip(DECKS_MISSING)
    labels = {case.label for case in CASES}
    # WHEN the explicit exclusion list is checked against them
    unknown = [label for label in EXCLUDED_CASES if label not in labels]
    # THEN each exclusion names an existing case and gives a reason
    assert unknown == []
    assert all(len(reason) > 20 for reason in EXCLUDED_CASES.values())
