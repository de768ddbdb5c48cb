"""Frequencies, windows and ages of the seed's action tables that no other test file pins down."""

from datetime import date, timedelta

import pytest

from shared.logic.awards import member_awards
from shared.logic.eligibility import in_denominator
from shared.logic.gaps import member_gaps
from shared.logic.occurrences import MemberView, occurrences
from shared.models.actions import Sex, Step, Track
from shared.models.evidence import EvidenceSource
from shared.models.gaps import GapStatus
from shared.models.members import MemberFacts
from tests.unit.care_gap.factories import CATALOG, PROGRAM, clinic, item, profile, span

CLINICS = {"C1": clinic("C1")}
TODDLER = profile(birth=date(2024, 7, 10))


def awards(*evidence, member=TODDLER):
    facts = MemberFacts(profile=member, spans=(span(),), evidence=evidence)
    return member_awards(facts, clinics=CLINICS, catalog=CATALOG, through_month="2026-12", run_id="r1")


def gap(action, *evidence, member=TODDLER, as_of):
    view = MemberView.of(member, (span(),), evidence)
    (found,) = member_gaps(view, PROGRAM, as_of=as_of, track=Track.FAMILY_ADULT, actions=[action])
    return found


def test_lead_screening_counts_on_or_before_the_second_birthday_only():
    # GIVEN a child born July 10, 2024, lead tested on the second birthday or two weeks after it
    on_the_birthday = item("LSC", date(2026, 7, 10), concept="83655")
    after = item("LSC", date(2026, 7, 24), concept="83655")
    # WHEN the awards are computed
    # THEN the test on the birthday earns every step; the later one earns nothing
    assert {e.step for e in awards(on_the_birthday)} == {Step.PERFORM, Step.CLAIM}
    assert awards(after) == []


def test_lead_screening_is_due_by_the_second_birthday():
    # GIVEN the same child, not yet tested
    # WHEN the LSC gap is built in June and just after the second birthday
    june = gap("LSC", as_of=date(2026, 6, 1))
    too_late = gap("LSC", as_of=date(2026, 7, 20))
    # THEN it is due on the 2nd birthday (not year end), and past it there is no gap to close
    assert june.status is GapStatus.OPEN and june.due_date == date(2026, 7, 10)
    assert too_late.status is GapStatus.NOT_APPLICABLE


# The seed's ages (and sexes) per action; None = no bound. AAP's 20+ is HEDIS's (the seed gives none).
AGES = [
    ("WCV", None, 3, 21),
    ("AAP", None, 20, None),
    ("AWV", None, 65, None),
    ("CHL", Sex.F, 16, 24),
    ("DSF-E", None, 12, None),
    ("CBP", None, 18, 85),
    ("GSD", None, 18, 75),
    ("KED", None, 18, 85),
    ("COA-MR", None, 66, None),
    ("COA-FSA", None, 66, None),
    ("BCS-E", Sex.F, 50, 74),
    ("CCS-E", Sex.F, 21, 64),
    ("COL-E", None, 45, 75),
    ("EED", None, 18, 75),
    ("OMW", Sex.F, 67, 85),
    ("SPC", Sex.M, 21, 75),
    ("SPC", Sex.F, 40, 75),
    ("SPD", Sex.F, 40, 75),
    ("AIS-E", None, 19, None),
]


@pytest.mark.parametrize(("action", "sex", "low", "high"), AGES)
def test_each_action_applies_to_the_seeds_ages_on_december_31(action, sex, low, high):
    # GIVEN members of the action's sex (women where any will do) aged just outside and at its bounds
    definition = PROGRAM.action(action)
    gender = sex or Sex.F
    day = date(2026, 12, 31)

    def applies(age):
        member = profile(birth=date(2026 - age, 12, 31), gender=gender)
        return in_denominator(member, definition, 2026, day)

    # WHEN the action's age and sex rules are read on December 31 (the action date for AIS-E)
    # THEN the bounds are the seed's, inclusive
    assert applies(low) and not applies(low - 1)
    assert applies(high) and not applies(high + 1) if high is not None else applies(110)


@pytest.mark.parametrize(
    "action",
    ["WCV", "AAP", "AWV", "CHL", "DSF-E", "COA-MR", "COA-FSA", "BCS-E", "CCS-E", "COL-E", "EED"],
)
def test_yearly_actions_earn_once_per_calendar_year(action):
    # GIVEN two claims in 2026 and one in 2025
    claims = [item(action, d) for d in (date(2025, 6, 1), date(2026, 2, 1), date(2026, 9, 1))]
    member = MemberView.of(profile(birth=date(1955, 1, 1)), (span(),), claims)
    # WHEN the occurrences are counted
    found = occurrences(member, PROGRAM.action(action))
    # THEN each calendar year is one occurrence, completed by its first claim
    assert [o.period for o in found] == ["2025", "2026"]
    assert found[1].completions[Step.CLAIM].evidence is claims[1]


# The seed's doses per series; start day (from birth) after every antigen's minimum age.
DOSES = [
    ("CIS DTaP", 4),
    ("CIS Flu", 2),
    ("CIS HepA", 1),
    ("CIS HepB", 3),
    ("CIS HiB", 3),
    ("CIS IPV", 3),
    ("CIS MMR", 1),
    ("CIS PNEUMO", 4),
    ("CIS RV", 3),
    ("CIS VZV", 1),
    ("IMA HPV", 3),
    ("IMA MEN", 1),
    ("IMA Tdap", 1),
]


@pytest.mark.parametrize(("action", "doses"), DOSES)
def test_each_series_completes_with_the_seeds_dose_count_by_its_birthday(action, doses):
    # GIVEN a child with the series' doses four weeks apart, started after its minimum age
    child = profile(birth=date(2025, 1, 10) if action.startswith("CIS") else date(2013, 9, 1))
    start = date(2026, 2, 15) if action.startswith("CIS") else date(2025, 1, 1)
    # RotaTeq (116): a three-dose vaccine, so the two-dose short series does not apply
    given = [
        item(action, start + timedelta(days=28 * n), source=EvidenceSource.IMMUNIZATION, concept="116")
        for n in range(doses)
    ]
    late = item(action, date(2027, 1, 11) if action.startswith("CIS") else date(2026, 9, 2), concept="116")

    def steps(*evidence):
        found = occurrences(MemberView.of(child, (span(),), evidence), PROGRAM.action(action))
        return {step for o in found for step in o.completions}

    # WHEN the series is counted one dose short, complete, and with its last dose after the birthday
    # THEN only the full count inside the window earns the final dose
    assert Step.FINAL_DOSE in steps(*given)
    assert Step.FINAL_DOSE not in steps(*given[:-1], late)
    if doses > 1:
        assert steps(*given[:-1]) == {Step.INITIAL_DOSE}
