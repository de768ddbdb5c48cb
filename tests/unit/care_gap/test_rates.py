"""Annual measure rates: every action with a measure definition is rated, each judged as its year ended."""

from __future__ import annotations

import json
from datetime import date

import pytest

from shared.logic.measures.definitions import all_definitions
from shared.logic.rates import MeasureDefinitionMissingError, measure_counts, rated_actions
from shared.models.actions import LineOfBusiness, Sex
from shared.models.evidence import EvidenceSource
from shared.models.members import MemberFacts
from shared.programs.care_gap import DATA_DIR, parse_program
from tests.unit.care_gap.factories import PROGRAM, claim, diagnosis, item, profile, span

YEAR = 2026


def member(member_id, *evidence, birth, gender=Sex.F, lob=LineOfBusiness.MC):
    evidence = tuple(e.model_copy(update={"member_id": member_id}) for e in evidence)
    return MemberFacts(
        profile=profile(member_id, birth=birth, gender=gender),
        spans=(span(lob=lob, member_id=member_id),),
        evidence=evidence,
    )


def counts(members, action):
    found = measure_counts(members, program=PROGRAM, year=YEAR)
    return {(m.clinic_id, m.denominator, m.numerator) for m in found if m.action == action}


def test_every_action_naming_a_measure_definition_is_rated():
    # GIVEN the shipped program and the measure definitions the engine has
    defined = {d["name"] for d in all_definitions()}
    # WHEN the rated actions are listed
    rated = set(rated_actions(PROGRAM))
    # THEN they are exactly the actions whose measure has a definition, BCS-E among many
    assert rated == {a.code for a in PROGRAM.actions if a.measure in defined}
    assert {"BCS-E", "KED", "CBP", "GSD", "SPC", "CIS DTaP", "DSF-E"} <= rated and "AWV" not in rated
    assert {a.measure for a in PROGRAM.actions if a.code in rated} == defined


def test_a_measure_without_a_definition_stops_the_rates_naming_it():
    # GIVEN a version whose KED names a measure the engine does not have
    raw = json.loads((DATA_DIR / "care_gap_2026.json").read_text(encoding="utf-8"))
    next(a for a in raw["actions"] if a["code"] == "KED")["measure"] = "KidneyHealthTypoFHIR"
    program = parse_program(json.dumps(raw))
    # WHEN the rates are computed
    # THEN the error names the action and the measure
    with pytest.raises(MeasureDefinitionMissingError, match="KED names measure KidneyHealthTypoFHIR"):
        measure_counts([], program=program, year=YEAR)


def test_the_rates_cover_more_than_bcs_e_and_bcs_e_is_unchanged():
    # GIVEN a screened woman of 60 and an unscreened one
    screened = member("M1", claim(date(2026, 3, 2), date(2026, 3, 9)), birth=date(1966, 1, 1))
    unscreened = member("M2", birth=date(1966, 1, 1))
    # WHEN the year's counts are computed
    found = measure_counts([screened, unscreened], program=PROGRAM, year=YEAR)
    # THEN BCS-E has both women and one closed, and other measures (CCS-E, COL-E, DSF-E) have rows too
    assert counts([screened, unscreened], "BCS-E") == {("C1", 2, 1)}
    assert {"CCS-E", "COL-E", "DSF-E"} <= {m.action for m in found}


def dtap(day):
    return item("CIS DTaP", day, concept="90700", source=EvidenceSource.IMMUNIZATION)


def test_cis_counts_children_turning_two_in_the_year_and_closes_only_complete_series():
    # GIVEN three children: two turn two in June 2026 (one with four DTaP doses, one with three), one in 2027
    doses = [date(2024, 8, 1), date(2024, 10, 1), date(2024, 12, 1), date(2025, 9, 1)]
    complete = member("K1", *map(dtap, doses), birth=date(2024, 6, 1))
    short = member("K2", *map(dtap, doses[:3]), birth=date(2024, 6, 1))
    younger = member("K3", dtap(date(2025, 8, 1)), birth=date(2025, 6, 1))
    # WHEN the year's DTaP counts are computed
    # THEN both 2026 two-year-olds are in the denominator and only the complete series is closed
    assert counts([complete, short, younger], "CIS DTaP") == {("C1", 2, 1)}


def fill(day, days):
    return item("SPC", day, source=EvidenceSource.PHARMACY_CLAIM, days_supply=days, concept="00093715601")


def test_spc_is_closed_by_adherence_over_the_year_even_when_supply_ran_out_before_year_end():
    # GIVEN two men with ASCVD: one covered from January to early December (93 %), one for four months
    ascvd = diagnosis("ASCVD", date(2026, 1, 5))
    adherent_fills = [fill(date(2026, 1, 10), 90), fill(date(2026, 4, 10), 90), fill(date(2026, 7, 9), 90)]
    adherent = member(
        "S1", ascvd, *adherent_fills, fill(date(2026, 10, 7), 60), birth=date(1960, 1, 1), gender=Sex.M
    )
    lapsed = member(
        "S2",
        ascvd,
        fill(date(2026, 1, 10), 90),
        fill(date(2026, 10, 1), 30),
        birth=date(1960, 1, 1),
        gender=Sex.M,
    )
    # WHEN the year's SPC counts are computed
    # THEN both are in the denominator and only the adherent one is closed
    assert counts([adherent, lapsed], "SPC") == {("C1", 2, 1)}


def test_ked_rate_needs_both_kidney_tests():
    # GIVEN two diabetic CA members: one with an eGFR only, one with an eGFR and a uACR
    diabetes = diagnosis("Diabetes", date(2026, 1, 5))
    egfr = item("KED", date(2026, 3, 1), concept="80053")
    uacr = item("KED", date(2026, 4, 1), concept="9318-7", source=EvidenceSource.LAB)
    half = member("D1", diabetes, egfr, birth=date(1960, 1, 1), lob=LineOfBusiness.CA)
    whole = member("D2", diabetes, egfr, uacr, birth=date(1960, 1, 1), lob=LineOfBusiness.CA)
    # WHEN the year's KED counts are computed
    # THEN both are counted and only the member with both tests is closed
    assert counts([half, whole], "KED") == {("C1", 2, 1)}
