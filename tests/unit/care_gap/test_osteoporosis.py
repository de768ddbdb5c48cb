"""OMW: only a bone density test or osteoporosis treatment on the day of the fracture or in the 180 days
after it earns; one before the fracture or later than 180 days after it does not."""

from datetime import date

from shared.logic.awards import member_awards
from shared.logic.gaps import member_gaps
from shared.logic.occurrences import MemberView
from shared.models.actions import LineOfBusiness, Step, Track
from shared.models.gaps import GapStatus
from shared.models.members import MemberFacts
from tests.unit.care_gap.factories import CATALOG, PROGRAM, attest, clinic, diagnosis, item, profile, span

CLINICS = {"C1": clinic("C1")}
FRACTURE = date(2026, 3, 1)


def awards(*evidence):
    member = MemberFacts(
        profile=profile(birth=date(1956, 1, 1)), spans=(span(lob=LineOfBusiness.CA),), evidence=evidence
    )
    return member_awards(member, clinics=CLINICS, catalog=CATALOG, through_month="2026-12", run_id="r1")


def bone_density(day):
    return item("OMW", day, concept="77080", received=day)


def test_only_a_test_in_the_180_days_after_the_fracture_earns():
    # GIVEN a hip fracture on March 1 and a bone density scan before it, 180 days after it, or 181 days after
    fracture = diagnosis("Fracture", FRACTURE)
    # WHEN the awards are computed for each
    before = awards(fracture, bone_density(date(2026, 2, 1)))
    on_the_180th_day = awards(fracture, bone_density(date(2026, 8, 28)))
    too_late = awards(fracture, bone_density(date(2026, 8, 29)))
    # THEN only the scan inside the window earns (all three steps, Q15)
    assert before == [] and too_late == []
    assert {e.step for e in on_the_180th_day} == {Step.SCHEDULE, Step.PERFORM, Step.CLAIM}


def test_a_referral_before_the_fracture_is_not_the_fractures_referral():
    # GIVEN a referral attested in January, a fracture on March 1 and a referral attested in April
    evidence = (
        attest("OMW", Step.SCHEDULE, date(2026, 1, 15)),
        diagnosis("Fracture", FRACTURE),
        attest("OMW", Step.SCHEDULE, date(2026, 4, 2)),
    )
    # WHEN the awards are computed
    entries = awards(*evidence)
    # THEN the April referral earns the schedule step
    assert [(e.step, e.action_date) for e in entries] == [(Step.SCHEDULE, date(2026, 4, 2))]


def test_a_late_year_fracture_is_closed_by_a_test_early_next_year():
    # GIVEN a fracture on November 20, 2025 and a bone density scan on February 10, 2026 (82 days later)
    evidence = (diagnosis("Fracture", date(2025, 11, 20)), bone_density(date(2026, 2, 10)))
    # WHEN the awards are computed
    entries = awards(*evidence)
    # THEN the 2025 fracture's gap earns every step, in February 2026
    assert {(e.period, e.step, e.earned_month) for e in entries} == {
        ("2025", step, "2026-02") for step in (Step.SCHEDULE, Step.PERFORM, Step.CLAIM)
    }


def test_a_late_year_fractures_gap_stays_open_into_the_next_year_until_its_window_closes():
    # GIVEN a fracture on November 20, 2025 and no test yet
    fracture = diagnosis("Fracture", date(2025, 11, 20))
    # WHEN the OMW gaps are built in February 2026 and in June 2026
    february, june = (gaps(fracture, as_of=d) for d in (date(2026, 2, 1), date(2026, 6, 1)))
    # THEN February shows the 2025 gap open, due 180 days after the fracture; by June it is gone
    assert february["2025"].status is GapStatus.OPEN and february["2025"].due_date == date(2026, 5, 19)
    assert february["2026"].status is GapStatus.NOT_APPLICABLE
    assert set(june) == {"2026"}


def gaps(*evidence, as_of):
    view = MemberView.of(profile(birth=date(1956, 1, 1)), (span(lob=LineOfBusiness.CA),), evidence)
    return {
        g.period: g
        for g in member_gaps(view, PROGRAM, as_of=as_of, track=Track.FAMILY_ADULT, actions=["OMW"])
    }
