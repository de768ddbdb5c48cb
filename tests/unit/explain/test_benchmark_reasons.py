"""Benchmark P4P's part (and the earnings guarantee's): whether the member counted for the clinic's rate of
a measure, from the annual run's own count (`annual_tally`), and the first rule that kept it out; each case
is worked by hand from the seed's FAQ Q1.6, Q1.7, Q2, the timeline and the example program."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from shared.logic.explain import explain_benchmark
from shared.logic.explain.benchmark import Tally
from shared.models.actions import LineOfBusiness, Sex, Step
from shared.models.explain import ProgramExplanation
from shared.models.ledger import GuaranteeTopUp, LedgerEntry, MeasureIncentive, MeasureLine
from shared.models.members import Clinic, MemberFacts, PracticeType
from shared.models.runs import Run, RunKind
from shared.programs.benchmark import BenchmarkProgram
from shared.programs.care_gap import CareGapProgram
from shared.programs.catalog import load_programs
from shared.services.explain import annual_tally
from shared.services.kinds.annual import rated_clinics
from tests.unit.care_gap.factories import attestation, claim, clinic, facts, profile, span
from tests.unit.explain.scenarios import codes, covers, run

PROGRAMS = load_programs()
BENCHMARK: BenchmarkProgram = PROGRAMS.benchmark.in_force(date(2026, 12, 31))
CARE_GAP: CareGapProgram = PROGRAMS.care_gap.in_force(date(2026, 12, 31))
B1 = clinic("B1", program="benchmark", enrolled=date(2025, 1, 1))
C1 = clinic("C1")
SCREENED = claim(date(2026, 3, 5), date(2026, 3, 20))


def woman(*found, spans=None, gender=Sex.F) -> MemberFacts:
    return facts(*found, member=profile(birth=date(1965, 4, 10), gender=gender), spans=spans or (span("B1"),))


def explained(
    member: MemberFacts,
    at: Clinic = B1,
    *,
    program: BenchmarkProgram = BENCHMARK,
    guarantee: bool = True,
    runs: tuple[Run, ...] = (),
    entries: tuple[LedgerEntry, ...] = (),
    tally: Tally | None = None,
) -> ProgramExplanation:
    care_gap = CARE_GAP.model_copy(update={"earnings_guarantee": guarantee})
    rated = {c.clinic_id for c in rated_clinics([at], 2026, care_gap)}
    found = explain_benchmark(
        member,
        clinic=at,
        measure="BCS-E",
        program=program,
        rated=at.clinic_id in rated,
        tally=tally or annual_tally(care_gap, at),
        runs={r.run_id: r for r in runs},
        entries=entries,
    )
    assert found is not None
    return found


def line_codes(found: ProgramExplanation) -> dict[str, list[str]]:
    return {line.line_of_business: codes(line.reasons) for line in found.lines}


@covers("annual_counted", "annual_run_not_closed")
def test_a_screened_member_of_a_benchmark_clinic_counts_and_the_run_is_not_closed():
    # GIVEN a woman of 61 at B1 (Benchmark since 2025) all year under MC, screened in March
    found = explained(woman(SCREENED))
    # THEN she is in the MC BCS-E rate's denominator and numerator; the 2026 run has not been started
    assert line_codes(found) == {"MC": ["annual_counted"]}
    assert (found.lines[0].denominator, found.lines[0].numerator, found.lines[0].months_assigned) == (
        True,
        True,
        12,
    )
    assert codes(found.reasons) == ["annual_run_not_closed"]
    assert found.reasons[0].facts["finalization"] == "2027-06-01"


@covers("annual_clinic_not_rated")
def test_a_care_gap_clinic_in_a_year_without_a_guarantee_is_not_rated():
    # GIVEN C1 in Care Gap P4P from 1 January, in a year whose Care Gap version guarantees nothing
    found = explained(woman(SCREENED, spans=(span("C1"),)), C1, guarantee=False)
    # THEN Benchmark P4P does not rate C1 (Q2: one program at a time)
    assert found.reasons[0].text == (
        "Benchmark P4P does not rate the clinic for 2026: in Care Gap P4P from 2026-01-01, "
        "with no earnings guarantee that year"
    )


@covers("annual_guarantee")
def test_a_care_gap_clinic_of_a_guaranteed_year_is_rated_as_if_it_had_stayed():
    # GIVEN C1 in Care Gap from 1 January 2026, a guaranteed year
    found = explained(woman(SCREENED, spans=(span("C1"),)), C1)
    # THEN its members count as Benchmark counts them, for the prorated bonus and make-whole
    assert codes(found.reasons)[0] == "annual_guarantee" and found.reasons[0].facts == {"date": "2026-01-01"}
    assert line_codes(found) == {"MC": ["annual_counted"]}


@covers("annual_assignment_months")
def test_a_member_assigned_eight_months_does_not_count():
    # GIVEN a screened woman at B1 from 1 May (May-December: 8 months; the rule is 9 of 12)
    found = explained(woman(SCREENED, spans=(span("B1", start=date(2026, 5, 1)),)))
    # THEN she is not in B1's panel
    assert line_codes(found) == {"MC": ["annual_assignment_months"]}
    assert found.lines[0].reasons[0].facts == {"line": "MC", "months": "8", "year": "2026", "minimum": "9"}


@covers("annual_line_not_offered")
def test_a_healthworx_member_never_counts():
    # GIVEN a screened HealthWorx member at B1 all year (Q1.6, Q1.7)
    found = explained(woman(SCREENED, spans=(span("B1", lob=LineOfBusiness.HW),)))
    # THEN Benchmark P4P is not offered for her line
    assert found.lines[0].reasons[0].text == "Benchmark P4P is not offered for HW members"


@covers("annual_not_in_metric_set")
def test_a_pediatric_practice_is_not_rated_on_breast_cancer_screening():
    # GIVEN B1 as a pediatric practice (BCS-E is in the adult and mixed metric sets)
    pediatric = B1.model_copy(update={"practice_type": PracticeType.PEDIATRIC})
    found = explained(woman(SCREENED), pediatric)
    # THEN the measure is not in its metric set for MC
    assert found.lines[0].reasons[0].text == "BCS-E is not in the pediatric metric set for MC"


@covers("annual_not_in_denominator")
def test_a_man_is_not_in_the_breast_cancer_screening_denominator():
    # GIVEN a man at B1 all year with a mammogram code on a claim
    found = explained(woman(SCREENED, gender=Sex.M))
    # THEN he counts in B1's panel, not in BCS-E's denominator
    assert line_codes(found) == {"MC": ["annual_not_in_denominator"]}


@covers("annual_after_deadline", "annual_not_in_numerator")
def test_a_claim_received_after_the_submission_deadline_and_no_screening_at_all():
    # GIVEN one woman screened in December whose claim came on 27 March 2027 (the deadline is 26 March),
    # and one never screened
    late = explained(woman(claim(date(2026, 12, 1), date(2027, 3, 27))))
    never = explained(woman())
    # THEN the first is out of the numerator for the deadline, the second for want of a screening
    assert late.lines[0].reasons[0].text == (
        "the evidence that would meet BCS-E was received after the submission deadline, 2027-03-26"
    )
    assert line_codes(never) == {"MC": ["annual_not_in_numerator"]}


@covers("annual_attestation_not_allowed", "annual_attestation_outside_window")
def test_an_attestation_for_a_measure_that_takes_none_and_one_dated_outside_the_attestation_period():
    # GIVEN a screening attested on 10 April 2027 (in the attestation period, after the deadline) for BCS-E,
    # which takes no attestations; and one attested on 10 May 2027 where BCS-E takes them (April only)
    tally = annual_tally(CARE_GAP, B1)  # the annual run's own count: window attestations meet a measure
    april = explained(woman(attestation(Step.PERFORM, date(2027, 4, 10), clinic_id="B1")), tally=tally)
    allowing = BENCHMARK.model_copy(
        update={
            "measures": tuple(
                m.model_copy(update={"attestation_allowed": m.code == "BCS-E" or m.attestation_allowed})
                for m in BENCHMARK.measures
            )
        }
    )
    may = explained(
        woman(attestation(Step.PERFORM, date(2027, 5, 10), clinic_id="B1")), program=allowing, tally=tally
    )
    # THEN the first is refused by the measure, the second by the attestation period
    assert line_codes(april) == {"MC": ["annual_attestation_not_allowed"]}
    assert may.lines[0].reasons[0].text == (
        "the attestation that would meet BCS-E is dated outside the attestation period "
        "(2027-04-01 to 2027-04-30)"
    )


def _entry(clinic_id: str, basis: MeasureIncentive | GuaranteeTopUp, cents: int) -> LedgerEntry:
    return LedgerEntry(
        program="benchmark" if isinstance(basis, MeasureIncentive) else "care_gap",
        clinic_id=clinic_id,
        member_id="",
        period="2026",
        basis=basis,
        amount_cents=cents,
        rule_version="benchmark-2026.1",
        action_date=date(2026, 12, 31),
        earned_month="2027-06",
        run_id="annual-2026-final",
    )


@covers("annual_paid", "annual_no_payment")
def test_what_the_annual_run_paid_the_clinic_for_the_line():
    # GIVEN the 2026 run closed, paying B1 1,200.00 for MC with BCS-E at 30 of 40 met by the benchmark; and
    # the same run having paid B1 nothing for MC
    closed = (run("2026", kind=RunKind.ANNUAL),)
    measure = MeasureLine(measure="BCS-E", denominator=40, numerator=30, counted=True, met_by="benchmark")
    basis = MeasureIncentive(
        scheme="benchmark",
        line_of_business="MC",
        assigned_members=200,
        amount_per_member=Decimal("6.00"),
        composite=Decimal(1),
        measures=(measure,),
    )
    paid = explained(woman(SCREENED), runs=closed, entries=(_entry("B1", basis, 120000),))
    unpaid = explained(woman(SCREENED), runs=closed)
    # THEN the line shows the payment and the measure's rate; without an entry, that nothing was paid
    assert paid.lines[0].reasons[1].text == (
        "the clinic's MC Benchmark P4P payment: 1200.00 by run annual-2026-final (CALCULATED); "
        "BCS-E 30 of 40, 75.0000%, met by benchmark"
    )
    assert codes(unpaid.lines[0].reasons) == ["annual_counted", "annual_no_payment"]
    assert paid.reasons == () and [e.amount_cents for e in paid.entries] == [120000]


@covers("annual_guarantee_paid")
def test_what_the_guarantee_paid_a_care_gap_clinic():
    # GIVEN the 2026 run closed, paying C1 a make-whole top-up of 650.00
    basis = GuaranteeTopUp(
        component="make_whole",
        year=2026,
        enrollment_date=date(2026, 1, 1),
        days_before=0,
        days_on_care_gap=365,
        benchmark_full_year_cents=365000,
        care_gap_earnings_cents=300000,
        equivalent_benchmark_cents=365000,
    )
    found = explained(
        woman(SCREENED, spans=(span("C1"),)),
        C1,
        runs=(run("2026", kind=RunKind.ANNUAL),),
        entries=(_entry("C1", basis, 65000),),
    )
    # THEN the clinic-level reasons say what the guarantee paid
    assert found.reasons[1].text == (
        "the clinic's earnings guarantee, make whole: 650.00 by run annual-2026-final (CALCULATED)"
    )
