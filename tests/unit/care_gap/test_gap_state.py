"""Gap state per member: open / closed / not-applicable / prospective, next action, due date, at stake."""

from datetime import date, timedelta

from shared.logic.gaps import member_gaps
from shared.logic.occurrences import MemberView
from shared.models.actions import LineOfBusiness, Sex, Step, Track
from shared.models.evidence import EvidenceSource
from shared.models.gaps import GapStatus
from tests.unit.care_gap.factories import PROGRAM, attest, diagnosis, item, profile, span

TRACK = Track.FAMILY_ADULT


def gaps(*evidence, birth, as_of, gender=Sex.F, spans=None, only=None):
    member = MemberView.of(profile(birth=birth, gender=gender), spans or (span(),), evidence)
    found = member_gaps(member, PROGRAM, as_of=as_of, track=TRACK, actions=only)
    return {(g.action, g.period): g for g in found}


def svu(action, *steps):
    return sum(PROGRAM.svu(TRACK, action, s) for s in steps)


def test_an_infant_series_in_progress_is_open_until_the_second_birthday():
    # GIVEN a baby born in January 2026 with two DTaP doses by July
    birth = date(2026, 1, 5)
    doses = [
        item("CIS DTaP", birth + timedelta(days=d), source=EvidenceSource.IMMUNIZATION, concept="20")
        for d in (62, 125)
    ]
    # WHEN the gap is built on July 1
    gap = gaps(*doses, birth=birth, as_of=date(2026, 7, 1), only=["CIS DTaP"])[("CIS DTaP", "2028")]
    # THEN it is open for the final dose, due on the second birthday, with the final dose's SVUs at stake
    assert gap.status is GapStatus.OPEN
    assert (gap.next_action, gap.due_date) == (Step.FINAL_DOSE, date(2028, 1, 5))
    assert gap.svu_at_stake == svu("CIS DTaP", Step.FINAL_DOSE)


def test_an_adolescent_window_is_prospective_shortly_before_it_opens_and_not_applicable_long_before():
    # GIVEN a child whose 11th birthday is March 1, 2027 (meningococcal counts from then)
    birth = date(2016, 3, 1)
    # WHEN the gap is built in October 2026 and in January 2027
    october = gaps(birth=birth, as_of=date(2026, 10, 1), only=["IMA MEN"])
    january = gaps(birth=birth, as_of=date(2027, 1, 15), only=["IMA MEN"])
    # THEN it does not apply yet in October and is prospective (due soon) in January
    assert october[("IMA MEN", "2029")].status is GapStatus.NOT_APPLICABLE
    assert january[("IMA MEN", "2029")].status is GapStatus.PROSPECTIVE


def test_newly_enrolled_medi_cal_adults_carry_the_iha_tag_due_in_120_days():
    # GIVEN an adult whose Medi-Cal enrollment starts March 1, 2026
    spans = (span(start=date(2026, 3, 1)),)
    # WHEN the AAP gap is built in April
    gap = gaps(birth=date(1990, 1, 1), as_of=date(2026, 4, 1), spans=spans, only=["AAP"])[("AAP", "2026")]
    # THEN it is open, tagged IHA, due 120 days after enrollment
    assert gap.status is GapStatus.OPEN and gap.tags == ("IHA",)
    assert gap.due_date == date(2026, 3, 1) + timedelta(days=120)


def test_osteoporosis_management_is_due_180_days_after_the_fracture():
    # GIVEN a 70-year-old CareAdvantage woman with a hip fracture on March 1, 2026
    spans = (span(lob=LineOfBusiness.CA),)
    fracture = diagnosis("Fracture", date(2026, 3, 1))
    # WHEN the OMW gap is built
    gap = gaps(fracture, birth=date(1956, 1, 1), as_of=date(2026, 4, 1), spans=spans, only=["OMW"])
    # THEN it is open and due 180 days after the fracture; without a fracture it does not apply
    assert gap[("OMW", "2026")].due_date == date(2026, 8, 28)
    none = gaps(birth=date(1956, 1, 1), as_of=date(2026, 4, 1), spans=spans, only=["OMW"])
    assert none[("OMW", "2026")].status is GapStatus.NOT_APPLICABLE


def _statin(day, supply):
    return item(
        "SPD",
        day,
        step=Step.DISPENSE,
        source=EvidenceSource.PHARMACY_CLAIM,
        concept="00071015523",
        days_supply=supply,
    )


def test_statin_adherence_closes_at_80_percent_of_days_covered():
    # GIVEN a diabetic woman with monthly fills, and one who skipped two months
    diabetic = diagnosis("Diabetes", date(2025, 12, 1))
    steady = [_statin(date(2026, m, 1), 31) for m in range(1, 7)]
    patchy = [_statin(date(2026, m, 1), 31) for m in (1, 2, 5, 6)]
    # WHEN the SPD gap is built at the end of June
    kept = gaps(diabetic, *steady, birth=date(1970, 1, 1), as_of=date(2026, 6, 30), only=["SPD"])
    lapsed = gaps(diabetic, *patchy, birth=date(1970, 1, 1), as_of=date(2026, 6, 30), only=["SPD"])
    # THEN the steady one is closed; the patchy one stays open with its PDC shown, next action a prescription
    assert kept[("SPD", "2026")].status is GapStatus.CLOSED
    gap = lapsed[("SPD", "2026")]
    assert gap.status is GapStatus.OPEN and gap.next_action is Step.PRESCRIBE
    assert gap.detail is not None and gap.detail.startswith("PDC ")


def test_blood_pressure_gap_closes_on_a_controlled_latest_reading():
    # GIVEN a hypertensive member with an uncontrolled reading, and one whose latest reading is controlled
    hypertension = diagnosis("Essential Hypertension", date(2025, 6, 1))
    high = [item("CBP", date(2026, 2, 1), concept=c) for c in ("3077F", "3080F")]
    low = [item("CBP", date(2026, 4, 1), concept=c) for c in ("3074F", "3078F")]
    # WHEN the CBP gaps are built
    still_high = gaps(hypertension, *high, birth=date(1960, 1, 1), as_of=date(2026, 5, 1), only=["CBP"])
    now_low = gaps(hypertension, *high, *low, birth=date(1960, 1, 1), as_of=date(2026, 5, 1), only=["CBP"])
    # THEN the first is open with the best tier and the improvement at stake; the second is closed
    gap = still_high[("CBP", "2026")]
    assert gap.status is GapStatus.OPEN and gap.result_tier == "uncontrolled"
    tier = PROGRAM.result_svu(TRACK, "CBP", "controlled") + PROGRAM.result_svu(TRACK, "CBP", "improved")
    assert gap.svu_at_stake == svu("CBP", Step.PERFORM, Step.CLAIM) + tier
    assert now_low[("CBP", "2026")].status is GapStatus.CLOSED


def test_each_historical_condition_is_its_own_recapture_gap():
    # GIVEN a CareAdvantage member with diabetes and COPD on 2025 claims, diabetes already recaptured
    spans = (span(lob=LineOfBusiness.CA),)
    evidence = (
        diagnosis("HCC Diabetes", date(2025, 2, 1)),
        diagnosis("HCC COPD", date(2024, 8, 1)),
        attest("HCC-DX", Step.ASSESS, date(2026, 3, 1), result_value="E119"),
        item("HCC-DX", date(2026, 3, 1), concept="E119", condition="HCC Diabetes"),
    )
    # WHEN the HCC-DX gaps are built
    found = gaps(*evidence, birth=date(1950, 1, 1), as_of=date(2026, 6, 1), spans=spans, only=["HCC-DX"])
    # THEN diabetes is closed and COPD is open for assessment
    assert found[("HCC-DX", "2026/HCC Diabetes")].status is GapStatus.CLOSED
    copd = found[("HCC-DX", "2026/HCC COPD")]
    assert copd.status is GapStatus.OPEN and copd.next_action is Step.ASSESS


def test_well_child_visits_left_are_all_at_stake():
    # GIVEN a baby with two well visits so far
    birth = date(2026, 1, 5)
    visits = [item("W30-1", date(2026, m, 10), concept="99391") for m in (2, 4)]
    # WHEN the gap is built in June
    gap = gaps(*visits, birth=birth, as_of=date(2026, 6, 1), only=["W30-1"])[("W30-1", "2027")]
    # THEN four visits remain, each worth all its steps, due at 15 months
    assert gap.status is GapStatus.OPEN and gap.next_action is Step.SCHEDULE
    assert gap.svu_at_stake == 4 * svu("W30-1", Step.SCHEDULE, Step.PERFORM, Step.CLAIM)
    assert gap.due_date == date(2027, 4, 5)


def test_refill_gap_is_the_current_window():
    # GIVEN a CareAdvantage member with a prior statin fill
    spans = (span(lob=LineOfBusiness.CA),)
    history = diagnosis("Statins", date(2026, 1, 10))
    # WHEN the 90-day refill gap is built in May
    found = gaps(history, birth=date(1950, 1, 1), as_of=date(2026, 5, 20), spans=spans, only=["STA-RFL-90"])
    # THEN it is the second quarter's, open, due at quarter end
    gap = found[("STA-RFL-90", "2026-Q2")]
    assert gap.status is GapStatus.OPEN and gap.due_date == date(2026, 6, 30)


def test_statin_gap_shows_the_quarter_a_90_day_prescription_opened():
    # GIVEN a diabetic woman short of 80 % adherence, whose clinic attests a 90-day statin prescription
    diabetic = diagnosis("Diabetes", date(2025, 12, 1))
    prescription = attest("SPD", Step.PRESCRIBE, date(2026, 3, 18)).model_copy(update={"days_supply": 90})
    evidence = (diabetic, _statin(date(2026, 1, 1), 30), prescription)
    # WHEN the SPD gap is built two days later
    gap = gaps(*evidence, birth=date(1970, 1, 1), as_of=date(2026, 3, 20), only=["SPD"])[("SPD", "2026")]
    # THEN the quarter's prescription is done and its dispense comes next
    assert gap.status is GapStatus.OPEN and gap.next_action is Step.DISPENSE
    assert [s.step for s in gap.completed_steps] == [Step.PRESCRIBE]
