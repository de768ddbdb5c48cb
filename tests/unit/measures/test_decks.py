"""Every case of the CMS test decks, scored through the payment path: the case's FHIR resources go through
the intake's FHIR mapping and the evidence extraction, the engine computes the member's populations from
that evidence, and they are compared with the expected MeasureReport."""

from __future__ import annotations

import pytest

from cli.ecqm_decks import DeckCase, actual_counts, case_facts, load_cases, tally, totals
from shared.dal.evidence_codec import pack_evidence, unpack_evidence
from shared.logic.measures.exclusions import EXCLUDED_CASES
from shared.logic.measures.records import records_of
from shared.models.evidence import evidence_frame
from shared.programs.measures import ValueSets
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
def test_case_matches_expected_measure_report(case: DeckCase, deck_valuesets: ValueSets) -> None:
    # GIVEN one test patient and the counts its expected MeasureReport carries
    expected = case.expected
    # WHEN its resources take the payment path (FHIR mapping → evidence → the engine's populations)
    actual = actual_counts(case)
    # THEN every population of every group agrees
    assert actual == expected


def test_at_least_98_percent_of_the_cases_agree(deck_valuesets: ValueSets) -> None:
    # GIVEN every deck case
    # WHEN the agreement is tallied through the payment path
    cases, agreeing, excluded = totals(tally())
    # THEN at least 98 % of all cases agree, and every case not agreeing is an explained exclusion
    assert agreeing >= 0.98 * cases
    assert agreeing + excluded == cases


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


def test_deck_evidence_reads_back_from_storage_unchanged(deck_valuesets: ValueSets) -> None:
    # GIVEN every deck patient's evidence, records included
    stored = [case_facts(case).evidence for case in CASES]
    # WHEN it is packed the way the gap state stores it and read back
    for evidence in filter(None, stored):
        packed = pack_evidence(evidence_frame(evidence))
        back = [
            e for member, file_id, text in packed.iter_rows() for e in unpack_evidence(member, file_id, text)
        ]
        # THEN the same items come back, with the same records
        assert sorted(back, key=lambda e: e.evidence_id) == sorted(evidence, key=lambda e: e.evidence_id)
        assert sorted(map(repr, records_of(back))) == sorted(map(repr, records_of(evidence)))
