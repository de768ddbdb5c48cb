"""Annual measure rates from the measure engine: each rate of the program's measures file, per clinic."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from cli.ecqm_decks import fhir_members
from shared.logic.evidence import claim_evidence, lab_evidence
from shared.logic.rates import MeasureDefinitionMissingError, measure_counts, rated_actions
from shared.models.actions import LineOfBusiness, Sex
from shared.models.evidence import EvidenceSource
from shared.models.members import MemberFacts
from shared.programs.care_gap import DATA_DIR, parse_program
from shared.programs.measures import ValueSets
from tests.unit.care_gap.factories import PROGRAM, item, profile, span

YEAR = 2026
ACTIONS = list(PROGRAM.actions)


def member(member_id, *evidence, birth, gender=Sex.F, lob=LineOfBusiness.MC):
    evidence = tuple(e.model_copy(update={"member_id": member_id}) for e in evidence)
    return MemberFacts(
        profile=profile(member_id, birth=birth, gender=gender),
        spans=(span(lob=lob, member_id=member_id),),
        evidence=evidence,
    )


def counts(members, action, **options):
    found = measure_counts(members, program=PROGRAM, year=YEAR, **options)
    return {(m.clinic_id, m.denominator, m.numerator) for m in found if m.action == action}


def claims(*lines):
    """Medical claim lines as ingest reads them: (member, service date, received date, code, diagnosis)."""
    frame = pl.DataFrame(
        [
            {
                "claim_id": f"CL{n}",
                "claim_line_number": 1,
                "claim_frequency_code": "1",
                "member_id": m,
                "claim_start_date": day,
                "received_date": received,
                "hcpcs_code": code,
                "diagnosis_code_1": dx,
                "source_row": n,
            }
            for n, (m, day, received, code, dx) in enumerate(lines, start=1)
        ]
    )
    return claim_evidence(frame, ACTIONS, file_id="claims")


def test_the_rated_actions_come_from_the_program_measures_file() -> None:
    # GIVEN the shipped program
    # WHEN its rated actions are listed
    rated = set(rated_actions(PROGRAM))
    # THEN they are the actions whose measure the measures file rates, and visits are not rates
    assert {"BCS-E", "KED", "CBP", "GSD", "SPC", "CIS DTaP", "DSF-E"} <= rated and "AWV" not in rated


def test_a_measure_without_a_definition_stops_the_rates_naming_it() -> None:
    # GIVEN a version whose KED names a measure the engine does not have
    raw = json.loads((DATA_DIR / "care_gap" / "care_gap_2026.json").read_text(encoding="utf-8"))
    next(a for a in raw["actions"] if a["code"] == "KED")["measure"] = "KidneyHealthTypoFHIR"
    program = parse_program(json.dumps(raw))
    # WHEN the rates are computed
    # THEN the error names the action and the measure
    with pytest.raises(MeasureDefinitionMissingError, match="KED names measure KidneyHealthTypoFHIR"):
        measure_counts([], program=program, year=YEAR)


def test_bcs_e_counts_assigned_women_50_to_74_from_claims_and_closes_on_a_mammogram() -> None:
    # GIVEN women of 60 (screened by claim), 51 (unscreened; CMS's 52-74 would leave her out) and 49
    evidence = claims(("M1", "2026-03-02", "2026-03-09", "77067", "Z1231"))
    screened = member("M1", *evidence, birth=date(1966, 1, 1))
    young = member("M2", birth=date(1975, 6, 1))
    too_young = member("M3", birth=date(1977, 6, 1))
    # WHEN the year's counts are computed
    found = measure_counts([screened, young, too_young], program=PROGRAM, year=YEAR)
    # THEN BCS-E has the two women 50-74, one screened, and other rates (CCS-E, COL-E, DSF-E) have rows
    assert counts([screened, young, too_young], "BCS-E") == {("C1", 2, 1)}
    assert {"CCS-E", "COL-E", "DSF-E"} <= {m.action for m in found}


def test_evidence_the_plan_learned_of_after_the_deadline_does_not_count() -> None:
    # GIVEN a woman screened in December whose claim arrived in April of the next year
    evidence = claims(("M1", "2026-12-02", "2027-04-09", "77067", "Z1231"))
    woman = member("M1", *evidence, birth=date(1966, 1, 1))
    # WHEN the counts are computed with a March 31 deadline, and with everything
    # THEN only the second sees the screening
    assert counts([woman], "BCS-E", known_by=date(2027, 3, 31)) == {("C1", 1, 0)}
    assert counts([woman], "BCS-E") == {("C1", 1, 1)}


def dtap(day):
    return item("CIS DTaP", day, concept="20", source=EvidenceSource.IMMUNIZATION)


def test_cis_counts_children_turning_two_in_the_year_and_closes_only_complete_series() -> None:
    # GIVEN three children: two turn two in June 2026 (one with four DTaP doses, one with three), one in 2027
    doses = [date(2024, 8, 1), date(2024, 10, 1), date(2024, 12, 1), date(2025, 9, 1)]
    complete = member("K1", *map(dtap, doses), birth=date(2024, 6, 1))
    short = member("K2", *map(dtap, doses[:3]), birth=date(2024, 6, 1))
    younger = member("K3", dtap(date(2025, 8, 1)), birth=date(2025, 6, 1))
    # WHEN the year's DTaP counts are computed
    # THEN both 2026 two-year-olds are in the denominator and only the complete series is closed
    assert counts([complete, short, younger], "CIS DTaP") == {("C1", 2, 1)}


def test_spc_counts_members_with_ascvd_and_closes_on_a_statin_in_use() -> None:
    # GIVEN two men with ASCVD diagnosed on a claim: one with a statin fill in the year, one without
    ascvd = claims(
        ("S1", "2026-01-05", "2026-01-10", "99213", "I219"),
        ("S2", "2026-01-05", "2026-01-10", "99213", "I219"),
    )
    fill = item(
        "SPC", date(2026, 4, 10), source=EvidenceSource.PHARMACY_CLAIM, days_supply=90, concept="00093505698"
    )
    treated = member(
        "S1", *(e for e in ascvd if e.member_id == "S1"), fill, birth=date(1960, 1, 1), gender=Sex.M
    )
    untreated = member("S2", *(e for e in ascvd if e.member_id == "S2"), birth=date(1960, 1, 1), gender=Sex.M)
    # WHEN the year's SPC counts are computed (the member's group is the first of CMS347's four it meets)
    # THEN both are in the denominator and only the treated one met it
    assert counts([treated, untreated], "SPC") == {("C1", 2, 1)}


def test_ked_needs_both_kidney_tests_with_results() -> None:
    # GIVEN two diabetic CA members: one with an eGFR claim only, one also with a uACR lab result
    diabetes = claims(
        ("D1", "2026-01-05", "2026-01-10", "80053", "E119"),
        ("D2", "2026-01-05", "2026-01-10", "80053", "E119"),
    )
    labs = pl.DataFrame(
        [
            {
                "member_id": "D2",
                "loinc_code": "9318-7",
                "result_date": "2026-04-01",
                "result_value": "18",
                "source_row": 1,
            }
        ]
    )
    uacr = lab_evidence(labs, ACTIONS, file_id="labs")
    half = member(
        "D1", *(e for e in diabetes if e.member_id == "D1"), birth=date(1960, 1, 1), lob=LineOfBusiness.CA
    )
    whole = member(
        "D2",
        *(e for e in diabetes if e.member_id == "D2"),
        *uacr,
        birth=date(1960, 1, 1),
        lob=LineOfBusiness.CA,
    )
    # WHEN the year's KED counts are computed
    # THEN both are counted and only the member with both tests met it
    assert counts([half, whole], "KED") == {("C1", 2, 1)}


def test_vsac_expansions_bring_cms_exclusions_to_the_rates() -> None:
    # GIVEN a screened woman who was also in hospice, recorded as a FHIR encounter, and the hospice
    # encounter value set's expansion
    hospice = "2.16.840.1.113883.3.464.1003.1003"
    valuesets = ValueSets.from_resources(
        [
            {
                "resourceType": "ValueSet",
                "url": f"http://cts.nlm.nih.gov/fhir/ValueSet/{hospice}",
                "expansion": {"contains": [{"system": "http://snomed.info/sct", "code": "385763009"}]},
            }
        ]
    )
    encounter = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "subject": {"reference": "Patient/M1"},
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "385763009"}]}],
        "period": {"start": "2026-05-01", "end": "2026-05-20"},
    }
    patient = {"resourceType": "Patient", "id": "M1", "birthDate": "1966-01-01", "gender": "female"}
    (fhir,) = fhir_members([patient, encounter], valuesets)
    screened = member(
        "M1",
        *claims(("M1", "2026-03-02", "2026-03-09", "77067", "Z1231")),
        *fhir.evidence,
        birth=date(1966, 1, 1),
    )
    # WHEN the counts are computed with and without the expansions
    # THEN the hospice stay excludes her only where the value set is known
    assert counts([screened], "BCS-E", valuesets=valuesets) == set()
    assert counts([screened], "BCS-E") == {("C1", 1, 1)}
