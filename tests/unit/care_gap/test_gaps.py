from datetime import date

from shared.logic.gaps import build_gap
from shared.models.actions import LineOfBusiness, Step, Track
from shared.models.gaps import GapStatus
from tests.unit.care_gap.factories import BCS, PROGRAM, attestation, claim, profile, span

DEFAULT_SPANS = (span(),)


def gap(evidence=(), spans=DEFAULT_SPANS, member=None, as_of=date(2026, 6, 30)):
    return build_gap(
        profile=member or profile(),
        spans=spans,
        evidence=evidence,
        action=BCS,
        program=PROGRAM,
        period_year=2026,
        as_of=as_of,
        track=Track.FAMILY_ADULT,
    )


def test_open_gap_names_the_next_step_and_what_is_at_stake():
    # GIVEN an eligible member with only the schedule attested
    result = gap([attestation(Step.SCHEDULE, date(2026, 2, 1))])
    # WHEN the gap is built
    # THEN it is open, perform comes next, due at year end, with the remaining steps' SVUs at stake
    assert result.status is GapStatus.OPEN
    assert result.next_action is Step.PERFORM
    assert result.due_date == date(2026, 12, 31)
    remaining = PROGRAM.svu(Track.FAMILY_ADULT, "BCS-E", Step.PERFORM) + PROGRAM.svu(
        Track.FAMILY_ADULT, "BCS-E", Step.CLAIM
    )
    assert result.svu_at_stake == remaining


def test_claim_closes_the_gap_once_received():
    # GIVEN a mammogram claim received on May 10
    evidence = [claim(date(2026, 5, 1), date(2026, 5, 10))]
    # WHEN the gap is built before and after receipt
    # THEN it is open before and closed after, with all steps traced to the claim
    assert gap(evidence, as_of=date(2026, 5, 9)).status is GapStatus.OPEN
    closed = gap(evidence, as_of=date(2026, 5, 10))
    assert closed.status is GapStatus.CLOSED
    assert {s.reference for s in closed.completed_steps} == {"claim:CL1#1"}


def test_not_applicable_and_prospective_gaps():
    # GIVEN a commercial-only member, and a member whose MC span starts in September
    commercial = gap(spans=(span(lob=LineOfBusiness.COMM),))
    later = gap(spans=(span(start=date(2026, 9, 1)),))
    # WHEN the gaps are built mid-year
    # THEN BCS-E does not apply to the first and is prospective for the second
    assert commercial.status is GapStatus.NOT_APPLICABLE
    assert later.status is GapStatus.PROSPECTIVE
