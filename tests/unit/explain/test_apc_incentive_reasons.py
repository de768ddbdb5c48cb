"""APC Element 3's part: how the annual APC run's own counter (`apc_tally`, from `ApcCounter`) took a member
at a practice for one incentive measure, and what the run paid the practice; each case is worked by hand
from the seed's Element 3 (table 3's measures by practice type, three months of data runout, one payout)
and the packaged program (BCS-E: women 50-74 with a mammogram; runout to 31 March 2027)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from shared.logic.explain import explain_apc_incentive
from shared.models.actions import Sex
from shared.models.explain import ProgramExplanation
from shared.models.ledger import LedgerEntry, PerformanceIncentive, PerformanceLine
from shared.models.members import ApcPaymentTrack, Clinic, MemberFacts, PayerTrack, PracticeType
from shared.models.runs import Run, RunKind
from shared.programs.apc import ApcProgram
from shared.programs.catalog import load_programs
from shared.services.explain import apc_tally
from tests.unit.care_gap.factories import claim, clinic, facts, profile, span
from tests.unit.explain.scenarios import codes, covers, run

PROGRAMS = load_programs()
APC: ApcProgram = PROGRAMS.apc.in_force(date(2026, 12, 31))
CARE_GAP = PROGRAMS.care_gap.in_force(date(2026, 12, 31))
SCREENED = claim(date(2026, 3, 5), date(2026, 3, 20))
CLOSED = (run("2026", kind=RunKind.ANNUAL),)


def practice(clinic_id: str = "A1", practice_type: PracticeType = PracticeType.ADULT) -> Clinic:
    tracks = (PayerTrack(payer_id=None, track=ApcPaymentTrack.FFS_PLUS),)
    update = {
        "apc_payment_track": ApcPaymentTrack.FFS_PLUS,
        "apc_tracks": tracks,
        "practice_type": practice_type,
    }
    return clinic(clinic_id).model_copy(update=update)


A1 = practice()


def woman(*evidence, spans=None, gender: Sex = Sex.F) -> MemberFacts:
    # 61 on 31 December 2026: in BCS-E's ages (50-74), the female 60-64 band.
    return facts(
        *evidence, member=profile(birth=date(1965, 4, 10), gender=gender), spans=spans or (span("A1"),)
    )


def part(
    member: MemberFacts,
    measure: str = "BCS-E",
    at: Clinic = A1,
    *,
    runs: tuple[Run, ...] = (),
    entries: tuple[LedgerEntry, ...] = (),
) -> ProgramExplanation:
    found = explain_apc_incentive(
        member,
        clinic=at,
        measure=measure,
        year=2026,
        program=APC,
        count=apc_tally(CARE_GAP, at, 2026),
        runs={r.run_id: r for r in runs},
        entries=entries,
    )
    assert found is not None
    return found


@covers("apc_e3_counted", "apc_e3_run_not_closed")
def test_a_screened_woman_attributed_all_year_counts_and_the_annual_run_is_not_started():
    # GIVEN a woman of 61 on A1's roster (FFS+, adult) all 2026, her mammogram claimed in March
    found = part(woman(SCREENED))
    # THEN the run has not started, and she is in A1's BCS-E denominator and numerator
    assert codes(found.reasons) == ["apc_e3_run_not_closed", "apc_e3_counted"]
    waiting = found.reasons[0]
    assert (waiting.facts["run_id"], waiting.facts["status"], waiting.facts["known_by"]) == (
        "annual-2026-final",
        "not started",
        "2027-03-31",
    )
    assert (found.program, found.measure, found.version) == ("apc", "BCS-E", APC.version)


@covers("apc_e3_not_applicable")
def test_a_pediatric_practice_is_not_paid_on_breast_cancer_screening():
    # GIVEN A1 as a pediatric practice (table 3: AMR, CIS, DSF-E, IMA, TCOC)
    found = part(woman(SCREENED), at=practice(practice_type=PracticeType.PEDIATRIC), runs=CLOSED)
    # THEN the measure does not apply to it, before anything of the member is counted
    reason = found.reasons[0]
    assert reason.code == "apc_e3_not_applicable" and reason.stops
    assert (reason.facts["practice_type"], reason.facts["applies"]) == ("pediatric", "mixed, adult")


@covers("apc_e3_not_attributed")
def test_a_member_on_another_practices_roster_all_year_is_not_counted_here():
    # GIVEN a screened woman on A2's roster all year, asked about at A1
    found = part(woman(SCREENED, spans=(span("A2"),)))
    # THEN A1 counted no month of hers, and A2 is never named
    assert codes(found.reasons)[1:] == ["apc_e3_not_attributed"]
    assert "A2" not in found.model_dump_json()


@covers("apc_e3_quality_elsewhere")
def test_a_member_who_moved_counts_in_the_quality_rates_of_the_latest_months_practice():
    # GIVEN a screened woman at A1 January to June, then at A2 July to December
    spans = (span("A1", end=date(2026, 6, 30)), span("A2", start=date(2026, 7, 1)))
    found = part(woman(SCREENED, spans=spans))
    # THEN her BCS-E counts at December's practice, not A1: A1 is told its own last month, never A2's id
    reason = found.reasons[1]
    assert (reason.code, reason.facts["last"]) == ("apc_e3_quality_elsewhere", "2026-06")
    assert "A2" not in found.model_dump_json()


@covers("apc_e3_not_in_denominator")
def test_a_man_is_outside_breast_cancer_screenings_population():
    # GIVEN a man at A1 all year with a mammogram code on a claim
    found = part(woman(SCREENED, gender=Sex.M))
    # THEN he is in no BCS-E denominator, for being outside the population
    reason = found.reasons[1]
    assert reason.code == "apc_e3_not_in_denominator"
    assert reason.facts["why"].startswith("outside its population")


@covers("apc_e3_after_runout", "apc_e3_not_in_numerator")
def test_a_mammogram_received_after_the_runout_and_no_mammogram_at_all():
    # GIVEN one woman screened in December whose claim came on 1 April 2027 (runout ends 31 March), one never
    late = part(woman(claim(date(2026, 12, 1), date(2027, 4, 1))))
    never = part(woman())
    # THEN the first is out of the numerator for the runout (counting again without it puts her in), the
    # second for want of a mammogram
    assert (late.reasons[1].code, late.reasons[1].facts["known_by"]) == ("apc_e3_after_runout", "2027-03-31")
    assert codes(never.reasons)[1:] == ["apc_e3_not_in_numerator"]


@covers("apc_e3_contribution")
def test_a_member_attributed_all_year_adds_twelve_member_months_to_total_cost_of_care():
    # GIVEN a woman of 60-61 at A1 all year (female 60-64 factor 1.3670 in every month)
    found = part(woman(SCREENED), "TCOC")
    # THEN she adds 12 member-months and 12 x 1.3670 = 16.4040 factor-months to A1's TCOC, and her cost
    reason = found.reasons[1]
    assert reason.code == "apc_e3_contribution" and not reason.stops
    assert (reason.facts["member_months"], reason.facts["factor_months"]) == ("12", "16.4040")
    assert reason.facts["counted"].startswith("standardized cost ")


def _entry(lines: tuple[PerformanceLine, ...], cents: int) -> LedgerEntry:
    basis = PerformanceIncentive(
        scheme="apc_element3",
        practice_type="adult",
        member_months=50,
        max_pmpm=Decimal("6.00"),
        maximum_cents=30000,
        applicable_measures=9,
        valid_measures=9,
        target=Decimal(1),
        scale=Decimal("0.9950248756"),
        measures=lines,
    )
    return LedgerEntry(
        program="apc",
        clinic_id="A1",
        member_id="",
        period="2026",
        basis=basis,
        amount_cents=cents,
        rule_version=APC.version,
        action_date=date(2026, 12, 31),
        earned_month="2027-06",
        run_id="annual-2026-final",
    )


@covers("apc_e3_paid", "apc_e3_no_payment")
def test_what_the_annual_run_paid_the_practice_for_the_measure():
    # GIVEN the 2026 run closed, paying A1 165.57 with BCS-E at 3 of 4 (75%), improvement, 0.00; and the
    # same run having paid A1 nothing
    bcs = PerformanceLine(
        measure="BCS-E",
        unit="percent",
        denominator=4,
        numerator=3,
        rate=Decimal("75.0000"),
        mpt=Decimal(70),
        threshold=Decimal(76),
        gold=Decimal(80),
        category="improvement",
        share=Decimal(0),
        amount_cents=0,
    )
    paid = part(woman(SCREENED), runs=CLOSED, entries=(_entry((bcs,), 16557),))
    unpaid = part(woman(SCREENED), runs=CLOSED)
    # THEN the part shows the entry and the measure's line in it; without one, that nothing was paid
    assert codes(paid.reasons) == ["apc_e3_counted", "apc_e3_paid"]
    line = paid.reasons[1]
    assert (line.facts["amount"], line.facts["payer"], line.facts["member_months"]) == (
        "165.57",
        "plan",
        "50",
    )
    assert line.facts["line"] == "75.0000% (3 of 4), no baseline, improvement, 0.00"
    assert [e.amount_cents for e in paid.entries] == [16557]
    assert codes(unpaid.reasons) == ["apc_e3_counted", "apc_e3_no_payment"]


def test_no_part_for_a_tracking_measure_or_a_clinic_on_no_apc_track():
    # GIVEN WCV (a tracking measure, never paid) at A1, and BCS-E at C1 (no APC track)
    args = {"year": 2026, "program": APC, "runs": {}, "entries": ()}
    tracking = explain_apc_incentive(
        woman(), clinic=A1, measure="WCV", count=apc_tally(CARE_GAP, A1, 2026), **args
    )
    c1 = clinic("C1")
    outside = explain_apc_incentive(
        woman(spans=(span("C1"),)), clinic=c1, measure="BCS-E", count=apc_tally(CARE_GAP, c1, 2026), **args
    )
    # THEN neither has an Element 3 part
    assert (tracking, outside) == (None, None)
