from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.logic.awards import member_awards
from shared.logic.money import amount_cents
from shared.models.actions import Sex, Step, Track
from shared.models.ledger import SvuAward
from tests.unit.care_gap.factories import CATALOG, PROGRAM, attestation, claim, clinic, facts, profile, span

CLINICS = {"C1": clinic("C1"), "C2": clinic("C2", enrolled=date(2026, 6, 1))}


def awards(member, through="2026-12", clinics=CLINICS):
    return member_awards(member, clinics=clinics, catalog=CATALOG, through_month=through, run_id="r1")


def by_step(entries):
    return {e.step: e for e in entries}


def expected_cents(step, day, clinic_id="C1", track=Track.FAMILY_ADULT):
    c = CLINICS[clinic_id]
    return amount_cents(
        svu=PROGRAM.svu(track, "BCS-E", step),
        multiplier=PROGRAM.multiplier("BCS-E", clinic_id, day),
        bonus_rate=PROGRAM.bonus_rate(c.program_enrollment_date, day),
        dollar_rate=PROGRAM.svu_dollar_rate,
    )


def test_attested_steps_earn_in_the_month_of_their_date():
    # GIVEN a schedule attested in February and a screening attested in March
    member = facts(attestation(Step.SCHEDULE, date(2026, 2, 10)), attestation(Step.PERFORM, date(2026, 3, 3)))
    # WHEN the awards through March are computed
    entries = by_step(awards(member, "2026-03"))
    # THEN each step earns once, in its own month, and the claim step stays unearned
    assert set(entries) == {Step.SCHEDULE, Step.PERFORM}
    assert entries[Step.SCHEDULE].earned_month == "2026-02"
    assert entries[Step.PERFORM].earned_month == "2026-03"
    assert entries[Step.PERFORM].amount_cents == expected_cents(Step.PERFORM, date(2026, 3, 3))


def test_claim_awards_every_remaining_step_in_the_month_it_is_received():
    # GIVEN only a mammogram claim for a February service, received in March (nothing attested; Q15)
    member = facts(claim(date(2026, 2, 20), date(2026, 3, 5)))
    # WHEN February and March are computed
    february, march = awards(member, "2026-02"), by_step(awards(member, "2026-03"))
    # THEN nothing is earned in February and all three steps are earned in March, traced to the claim line
    assert february == []
    assert set(march) == {Step.SCHEDULE, Step.PERFORM, Step.CLAIM}
    assert {e.earned_month for e in march.values()} == {"2026-03"}
    assert {e.evidence_refs for e in march.values()} == {("claim:CL1#1",)}


def test_claim_after_attestations_awards_only_the_claim_step():
    # GIVEN schedule and perform attested, then the claim received
    member = facts(
        attestation(Step.SCHEDULE, date(2026, 1, 5)),
        attestation(Step.PERFORM, date(2026, 1, 20)),
        claim(date(2026, 1, 20), date(2026, 2, 14)),
    )
    # WHEN the year is computed
    entries = by_step(awards(member))
    # THEN each step is earned exactly once, the claim step in the month received
    assert len(awards(member)) == 3
    assert entries[Step.CLAIM].earned_month == "2026-02"
    assert entries[Step.SCHEDULE].evidence_refs[0].startswith("attestation:")


def test_credit_goes_to_the_clinic_assigned_on_the_action_date_even_for_outside_providers():
    # GIVEN a member assigned to C1 until April then C2 (enrolled June), and a claim rendered elsewhere
    spans = (span("C1", start=date(2026, 1, 1), end=date(2026, 4, 30)), span("C2", start=date(2026, 5, 1)))
    member = facts(
        attestation(Step.SCHEDULE, date(2026, 4, 2), clinic_id="C1"),
        claim(date(2026, 4, 28), date(2026, 6, 10)),
        spans=spans,
    )
    # WHEN the year is computed
    entries = awards(member)
    # THEN everything goes to C1, the clinic on the action dates, though the claim arrived after the move
    assert {e.clinic_id for e in entries} == {"C1"}
    assert len(entries) == 3


def test_no_award_when_the_clinic_was_not_in_care_gap_on_the_action_date():
    # GIVEN a member of C2, which enrolled on June 1, screened in May
    member = facts(claim(date(2026, 5, 15), date(2026, 5, 30)), spans=(span("C2", start=date(2026, 1, 1)),))
    # WHEN the year is computed
    # THEN nothing is earned
    assert awards(member) == []


def test_ineligible_members_earn_nothing():
    # GIVEN a man and a member outside any span, each with a mammogram claim
    man = facts(claim(date(2026, 3, 1), date(2026, 3, 9)), member=profile(gender=Sex.M))
    unassigned = facts(claim(date(2026, 3, 1), date(2026, 3, 9)), spans=())
    # WHEN awards are computed
    # THEN neither earns
    assert awards(man) == [] and awards(unassigned) == []


def test_multiplier_and_bonus_in_force_on_the_action_date_apply():
    # GIVEN an early adopter's screening attested during the spring multiplier window
    day = next(m.start for m in PROGRAM.multipliers if m.action == "BCS-E")
    member = facts(attestation(Step.PERFORM, day))
    # WHEN awarded
    entry = awards(member)[0]
    # THEN svu x multiplier x (1 + bonus) is paid, each recorded on the entry's SVU basis
    svu = PROGRAM.svu(Track.FAMILY_ADULT, "BCS-E", Step.PERFORM)
    bonus = PROGRAM.early_adoption_bonus
    basis = entry.basis
    assert bonus is not None and isinstance(basis, SvuAward)
    assert basis.svu == svu and basis.multiplier > 1 and basis.bonus_rate == bonus.rate
    assert (
        Decimal(entry.amount_cents)
        == svu * basis.multiplier * (1 + bonus.rate) * PROGRAM.svu_dollar_rate * 100
    )


def test_a_second_attestation_of_the_same_step_is_not_awarded_again():
    # GIVEN the same step attested twice in the year, and a second claim later
    member = facts(
        attestation(Step.SCHEDULE, date(2026, 1, 5), attestation_id="A1"),
        attestation(Step.SCHEDULE, date(2026, 8, 5), attestation_id="A2"),
        claim(date(2026, 2, 1), date(2026, 2, 20), claim_id="CL1"),
        claim(date(2026, 9, 1), date(2026, 9, 20), claim_id="CL2"),
    )
    # WHEN the year is computed
    entries = awards(member)
    # THEN each step is earned once, from the first evidence
    assert sorted(e.step for e in entries) == sorted(Step(s) for s in ("schedule", "perform", "claim"))
    assert {e.entry_id for e in entries} == {e.entry_id for e in awards(member)}


def test_attestation_cannot_stand_in_for_the_claim():
    # GIVEN a clinic attesting the claim step without a claim
    member = facts(attestation(Step.CLAIM, date(2026, 3, 1)))
    # WHEN the year is computed
    # THEN the claim step waits for a received claim
    assert awards(member) == []


_days = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))


@st.composite
def _evidence(draw):
    items = []
    for number in range(draw(st.integers(min_value=0, max_value=3))):
        step = draw(st.sampled_from([Step.SCHEDULE, Step.PERFORM]))
        items.append(attestation(step, draw(_days), attestation_id=f"A{number}"))
    for number in range(draw(st.integers(min_value=0, max_value=2))):
        service = draw(_days)
        lag = draw(st.integers(min_value=0, max_value=60))
        received = date.fromordinal(min(service.toordinal() + lag, date(2026, 12, 31).toordinal()))
        items.append(claim(service, received, claim_id=f"CL{number}"))
    return items


@settings(max_examples=60, deadline=None)
@given(_evidence(), st.randoms(use_true_random=False))
def test_awards_do_not_depend_on_the_order_evidence_arrives_in(items, rng):
    # GIVEN any evidence of one year, in two different orders
    shuffled = list(items)
    rng.shuffle(shuffled)
    # WHEN awards are computed from each
    first, second = awards(facts(*items)), awards(facts(*shuffled))
    # THEN they are the same entries, at most one per step, and monthly totals add up to the year exactly
    assert sorted(e.model_dump_json() for e in first) == sorted(e.model_dump_json() for e in second)
    assert len({e.step for e in first}) == len(first) <= 3
    monthly = sum(
        e.amount_cents
        for m in range(1, 13)
        for e in awards(facts(*items), f"2026-{m:02d}")
        if e.earned_month == f"2026-{m:02d}"
    )
    assert monthly == sum(e.amount_cents for e in first)
