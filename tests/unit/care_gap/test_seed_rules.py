"""Frequencies, windows and ages of the seed's action tables that no other test file pins down."""

from datetime import date

from shared.logic.awards import member_awards
from shared.logic.gaps import member_gaps
from shared.logic.occurrences import MemberView
from shared.models.actions import Step, Track
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
