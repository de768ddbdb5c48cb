"""The first rule that stopped each step of a Care Gap gap, one small member per rule; the expected rule is
derived by hand from the seed's menus and FAQ (the reasons table of docs/explain.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from shared.models.actions import LineOfBusiness, Sex, Step
from shared.models.evidence import EvidenceSource
from shared.models.explain import StepStatus
from shared.models.members import MemberFacts
from shared.programs.care_gap import ProgramCatalog
from tests.unit.care_gap.factories import (
    BCS_CODE,
    CATALOG,
    attest,
    attestation,
    claim,
    clinic,
    diagnosis,
    facts,
    item,
    profile,
    span,
)
from tests.unit.explain.scenarios import (
    CLINICS,
    codes,
    covers,
    evidence,
    explain,
    recorded,
    run,
    step,
    stop,
    stopped,
)

STATIN = "00071015523"


def member(*found, birth=date(1960, 5, 5), gender=Sex.F, lob=LineOfBusiness.MC, spans=None) -> MemberFacts:
    return facts(
        *found,
        member=profile(birth=birth, gender=gender),
        spans=spans or (span(lob=lob, start=date(2025, 1, 1)),),
    )


@covers("completed", "paid", "not_done")
def test_each_step_names_its_evidence_and_the_run_that_paid_it_and_the_claim_not_yet_received():
    # GIVEN a schedule attested on 10 February and a screening on 3 March at C1, each paid by its month's
    # run; no claim yet
    m = member(attestation(Step.SCHEDULE, date(2026, 2, 10)), attestation(Step.PERFORM, date(2026, 3, 3)))
    february = recorded(m, "2026-02")
    march = [e for e in recorded(m, "2026-03") if e.step is Step.PERFORM]
    # WHEN C1 asks about BCS-E 2026
    found = explain(m, history=february + march, runs=[run("2026-02"), run("2026-03")])
    # THEN schedule and perform are paid by their month's runs on their attestations: 10 and 30 SVUs on
    # the family track, +20 % early-adoption bonus, $1 an SVU; the claim step waits for a claim
    schedule, perform, claim_step = (step(found, "2026", s) for s in ("schedule", "perform", "claim"))
    assert (schedule.status, perform.status, claim_step.status) == (
        StepStatus.PAID,
        StepStatus.PAID,
        StepStatus.NOT_PAID,
    )
    assert codes(schedule.reasons) == ["completed", "paid"]
    assert [(e.run_id, e.amount_cents, e.evidence_refs) for e in schedule.entries] == [
        ("monthly-2026-02-final", 1200, ("attestation:A-schedule-2026-02-10",))
    ]
    assert [(e.run_id, e.amount_cents) for e in perform.entries] == [("monthly-2026-03-final", 3600)]
    assert schedule.reasons[1].text.startswith("paid 12.00 by run monthly-2026-02-final (CALCULATED)")
    assert claim_step.stopped_by is not None and claim_step.stopped_by.code == "not_done"
    assert found.net_paid_cents == 4800 and schedule.program_version == "care_gap-2026.1"


@covers("frequency_used")
def test_a_second_screening_in_the_year_finds_the_frequency_used_by_the_first():
    # GIVEN two mammogram claims in 2026, the first paid by April's run
    first, second = (
        claim(date(2026, 3, 5), date(2026, 4, 2)),
        claim(date(2026, 6, 5), date(2026, 6, 20), claim_id="CL2"),
    )
    m = member(first, second)
    history = recorded(member(first), "2026-04")
    # WHEN C1 asks about BCS-E 2026
    found = explain(m, history=history, runs=[run("2026-04")])
    # THEN the second claim completed nothing: BCS-E earns up to once a calendar year, and the first claim
    # completed its claim step (paid by April's run)
    (reason,) = evidence(found, "claim:CL2#1").reasons
    (claim_entry,) = [e for e in history if e.step is Step.CLAIM]
    assert reason.text == (
        "up to once a calendar year: already used by claim:CL1#1 (2026), paid by run monthly-2026-04-final "
        f"(entry {claim_entry.entry_id[:12]})"
    )
    assert {s.status for s in found.steps} == {StepStatus.PAID}


@covers("age_window")
def test_a_member_outside_the_seeds_ages_on_december_31():
    # GIVEN a woman of 36 on 31 December 2026 with a mammogram claim (BCS-E: 50-74, read at year end)
    m = member(claim(date(2026, 3, 5), date(2026, 3, 20)), birth=date(1990, 2, 2))
    # WHEN C1 asks
    found = explain(m)
    # THEN every step is stopped by the population rule, read on 31 December
    assert set(stopped(found).values()) == {"age_window"}
    assert stop(found, "2026", "claim").text == "outside BCS-E's population on 2026-12-31: women 50-74 years"


@covers("condition_missing")
def test_a_blood_pressure_reading_of_a_member_without_hypertension():
    # GIVEN a reading attested on 10 March for a man of 66 with no hypertension on file (CBP: with
    # hypertension, in the year or the one before)
    m = member(attest("CBP", Step.PERFORM, date(2026, 3, 10)), gender=Sex.M)
    # WHEN C1 asks about CBP
    found = explain(m, "CBP")
    # THEN the reading's date of service is stopped by the missing condition
    reason = step(found, "2026-03-10", "perform").stopped_by
    assert reason is not None and reason.code == "condition_missing"
    assert reason.text == "CBP is for members with Essential Hypertension: none on file for 2025-2026"


@covers("condition_excluded")
def test_a_statin_for_a_diabetic_woman_with_ascvd_is_spc_not_spd():
    # GIVEN a woman of 66 with diabetes (2026) and ASCVD (2025), and C1's 30-day statin prescription for SPD
    prescription = item(
        "SPD", date(2026, 2, 10), step=Step.PRESCRIBE, source=EvidenceSource.ATTESTATION, days_supply=30
    )
    m = member(diagnosis("Diabetes", date(2026, 1, 10)), diagnosis("ASCVD", date(2025, 5, 1)), prescription)
    # WHEN C1 asks about SPD
    found = explain(m, "SPD")
    # THEN February's window is stopped by SPD's exclusion, not by a missing condition
    reason = step(found, "2026-02", "prescribe").stopped_by
    assert reason is not None and reason.code == "condition_excluded"
    assert reason.text == "SPD leaves out members with ASCVD, which is on file for 2025-2026"


@covers("not_assigned")
def test_a_screening_while_the_member_was_assigned_to_another_clinic():
    # GIVEN a member at C2 until 30 April and at C1 from 1 May, screened on 5 March (claim received in March)
    spans = (span("C2", end=date(2026, 4, 30)), span("C1", start=date(2026, 5, 1)))
    m = member(claim(date(2026, 3, 5), date(2026, 3, 20)), spans=spans)
    # WHEN C1 asks
    found = explain(m)
    # THEN the credit goes to the clinic assigned on the action date: every step is stopped for C1
    assert set(stopped(found).values()) == {"not_assigned"}
    assert {s.stopped_by.facts["date"] for s in found.steps if s.stopped_by} == {"2026-03-05"}


@covers("line_of_business")
def test_an_annual_wellness_visit_of_a_medi_cal_member():
    # GIVEN a Medi-Cal member of 76 whose schedule of an AWV (CareAdvantage only) C1 attested on 1 April
    m = member(attest("AWV", Step.SCHEDULE, date(2026, 4, 1)), birth=date(1950, 1, 1))
    # WHEN C1 asks about AWV
    found = explain(m, "AWV")
    # THEN the schedule is stopped by the line of business on its date, and the steps nobody did would be
    # too (probed on the last day C1 had the member, 1 December)
    schedule = step(found, "2026", "schedule").stopped_by
    assert (
        schedule is not None
        and schedule.text == "on 2026-04-01 the member's line of business was MC; AWV is offered for CA"
    )
    assert stop(found, "2026", "perform").facts == {
        "date": "2026-12-01",
        "line": "MC",
        "action": "AWV",
        "lines": "CA",
    }


@covers("not_in_care_gap")
def test_a_schedule_attested_before_the_clinic_joined_care_gap():
    # GIVEN C3, in Benchmark P4P until it joined Care Gap on 1 June, and its schedule attested on 1 March
    clinics = CLINICS | {"C3": clinic("C3", enrolled=date(2026, 6, 1))}
    m = member(attestation(Step.SCHEDULE, date(2026, 3, 1), clinic_id="C3"), spans=(span("C3"),))
    # WHEN C3 asks
    found = explain(m, clinic_id="C3", clinics=clinics)
    # THEN the schedule is stopped by the clinic's program on that date
    reason = step(found, "2026", "schedule").stopped_by
    assert reason is not None
    assert reason.text == "the clinic was not in Care Gap P4P on 2026-03-01 (it was in Benchmark P4P then)"


@covers("attestation_missing")
def test_a_diagnosis_claim_without_the_clinics_assessment_and_another_clinics_prescription():
    # GIVEN heart failure diagnosed in 2025 and a claim recapturing it in April 2026, never assessed by C1;
    # and a statin renewal of a CareAdvantage member attested by C2 while the member is C1's
    recapture = item("HCC-DX", date(2026, 4, 1), concept="I509", condition="HCC Heart Failure")
    hcc = member(diagnosis("HCC Heart Failure", date(2025, 6, 1)), recapture, lob=LineOfBusiness.CA)
    renewal = attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 3, 2), clinic_id="C2")
    statin = member(diagnosis("Statins", date(2026, 1, 15)), renewal, lob=LineOfBusiness.CA)
    # WHEN C1 asks about HCC-DX and STA-RFL-30
    dx, refill = explain(hcc, "HCC-DX"), explain(statin, "STA-RFL-30")
    # THEN both need C1's own in-App attestation (Q10, Q15): the assessment was never attested, the claim
    # came without it, and C2's prescription is not C1's
    period = "2026/HCC Heart Failure"
    assess, claimed = step(dx, period, "assess").stopped_by, step(dx, period, "claim").stopped_by
    assert assess is not None and claimed is not None
    assert (assess.code, claimed.code) == ("attestation_missing", "attestation_missing")
    assert (
        claimed.facts["what"]
        == f"{recapture.reference} came without the clinic's own attestation of {period}"
    )
    (other,) = evidence(refill, renewal.reference).reasons
    assert other.code == "attestation_missing" and other.facts["what"].endswith(
        "was attested by another clinic"
    )


@covers("attestation_not_accepted")
def test_an_attested_claim_step_completes_nothing():
    # GIVEN C1 attesting the claim step of a screening (a claim confirms it, never an attestation)
    attested = attestation(Step.CLAIM, date(2026, 5, 1))
    found = explain(member(attested))
    # THEN the attestation completed nothing, and the claim step is still not done
    (reason,) = evidence(found, attested.reference).reasons
    assert reason.code == "attestation_not_accepted"
    assert stop(found, "2026", "claim").code == "not_done"


@covers("outside_age_window")
def test_a_lead_test_after_the_second_birthday():
    # GIVEN a child born 1 March 2024 with a lead test on 1 May 2026 (LSC: by the 2nd birthday)
    test = item("LSC", date(2026, 5, 1), concept="10368-9", source=EvidenceSource.LAB)
    found = explain(member(test, birth=date(2024, 3, 1)), "LSC")
    # THEN the test is outside the age window, and so would any step done now be
    (reason,) = evidence(found, test.reference).reasons
    assert (
        reason.text == "dated 2026-05-01, outside LSC's age window (from 0 months through 24 months of age)"
    )
    assert set(stopped(found).values()) == {"outside_age_window"}
    assert "2024-03-01" not in found.model_dump_json()


@covers("after_condition_window")
def test_a_bone_density_test_more_than_180_days_after_the_fracture():
    # GIVEN a woman of 70 (CareAdvantage) with a fracture on 10 January and a test on 1 September (the
    # window closed on 9 July)
    test = item("OMW", date(2026, 9, 1), concept="G0130")
    m = member(diagnosis("Fracture", date(2026, 1, 10)), test, birth=date(1956, 3, 3), lob=LineOfBusiness.CA)
    found = explain(m, "OMW")
    # THEN the test counts for no fracture
    (reason,) = evidence(found, test.reference).reasons
    assert reason.text == (
        "dated 2026-09-01: OMW counts a test or treatment only within 180 days after a Fracture "
        "(Fracture dates on file: 2026-01-10)"
    )


@covers("no_prescription_window")
def test_a_fill_dispensed_after_the_prescriptions_window():
    # GIVEN C1's 30-day statin renewal attested on 1 March and a 30-day fill on 15 May (75 days later)
    renewal = attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 3, 1))
    fill = item(
        "STA-RFL-30",
        date(2026, 5, 15),
        step=Step.DISPENSE,
        source=EvidenceSource.PHARMACY_CLAIM,
        concept=STATIN,
        days_supply=30,
    )
    m = member(diagnosis("Statins", date(2026, 1, 15)), renewal, fill, lob=LineOfBusiness.CA, gender=Sex.M)
    found = explain(m, "STA-RFL-30")
    # THEN the fill confirms no prescription, and March's dispense step waits for one that does
    (reason,) = evidence(found, fill.reference).reasons
    assert reason.code == "no_prescription_window" and reason.facts == {"days": "30", "date": "2026-05-15"}
    assert step(found, "2026-03", "prescribe").status is StepStatus.DUE
    dispense = step(found, "2026-03", "dispense").stopped_by
    assert dispense is not None and dispense.code == "not_done" and "up to 30 days after" in dispense.text


@covers("no_historical_condition")
def test_an_assessment_of_a_member_with_no_historical_diagnosis():
    # GIVEN C1's diagnosis assessment of a CareAdvantage member with nothing diagnosed in 2024-2025
    assessed = attest("HCC-DX", Step.ASSESS, date(2026, 4, 1))
    found = explain(member(assessed, lob=LineOfBusiness.CA), "HCC-DX")
    # THEN there is no condition to reassess: the assessment and every step of the year stop there
    (reason,) = evidence(found, assessed.reference).reasons
    assert reason.text == "HCC-DX reassesses conditions diagnosed in the 2 years before 2026: none on file"
    assert set(stopped(found).values()) == {"no_historical_condition"}


@covers("tests_incomplete", "test_counted")
def test_a_kidney_evaluation_needs_both_an_egfr_and_a_uacr():
    # GIVEN a diabetic CareAdvantage member with an eGFR on 1 March; later a uACR on 1 April
    egfr = item("KED", date(2026, 3, 1), concept="48642-3", source=EvidenceSource.LAB)
    uacr = item("KED", date(2026, 4, 1), concept="13705-9", source=EvidenceSource.LAB)
    base = (diagnosis("Diabetes", date(2026, 1, 5)), egfr)
    alone = explain(member(*base, lob=LineOfBusiness.CA), "KED")
    paired = explain(member(*base, uacr, lob=LineOfBusiness.CA), "KED")
    # THEN with the eGFR alone the claim step waits for a uACR; once it comes, the eGFR counted toward it
    reason = step(alone, "2026", "claim").stopped_by
    assert reason is not None and reason.code == "tests_incomplete" and reason.facts["found"] == "eGFR"
    (counted,) = evidence(paired, egfr.reference).reasons
    assert (counted.code, counted.stops, counted.facts["by"]) == ("test_counted", False, uacr.reference)


@covers("series_incomplete", "dose_counted")
def test_two_of_four_dtap_doses():
    # GIVEN a child born 1 January 2026 with DTaP doses on 1 March and 1 May (four complete the series by
    # the 2nd birthday; the series' period is the year it closes, 2028)
    doses = [
        item("CIS DTaP", day, step=Step.FINAL_DOSE, concept="90700", source=EvidenceSource.IMMUNIZATION)
        for day in (date(2026, 3, 1), date(2026, 5, 1))
    ]
    found = explain(member(*doses, birth=date(2026, 1, 1)), "CIS DTaP", year=2028)
    # THEN the first dose earned the initial dose, the second counted, and the final dose waits for two more
    assert step(found, "2028", "initial_dose").status is StepStatus.DUE
    final = step(found, "2028", "final_dose").stopped_by
    assert (
        final is not None
        and final.text == "the series completes with 4 doses in the age window; 2 counted so far"
    )
    (second,) = evidence(found, doses[1].reference).reasons
    assert (second.code, second.stops, second.facts) == ("dose_counted", False, {"n": "2", "doses": "4"})


@covers("no_svu")
def test_a_step_the_rate_card_does_not_price():
    # GIVEN a version whose family card prices BCS-E's schedule at 0 SVUs, and a schedule attested
    program = CATALOG.in_force(date(2026, 6, 1))
    cards = tuple(
        c.model_copy(update={"svu": c.svu | {BCS_CODE: c.svu[BCS_CODE] | {Step.SCHEDULE: Decimal(0)}}})
        for c in program.rate_cards
    )
    catalog = ProgramCatalog((program.model_copy(update={"rate_cards": cards}),))
    found = explain(member(attestation(Step.SCHEDULE, date(2026, 2, 10))), catalog=catalog)
    # THEN the schedule is completed but earns nothing
    reason = step(found, "2026", "schedule").stopped_by
    assert (
        reason is not None
        and reason.text == "the family_adult rate card of care_gap-2026.1 pays no SVUs for schedule"
    )


@covers("no_program")
def test_a_screening_before_any_care_gap_version():
    # GIVEN a schedule attested on 1 June 2025 (the first version is in force from 1 January 2026)
    found = explain(member(attestation(Step.SCHEDULE, date(2025, 6, 1))), year=2025)
    # THEN no version was in force on its date
    reason = step(found, "2025", "schedule").stopped_by
    assert reason is not None and reason.text == "no Care Gap P4P program version was in force on 2025-06-01"
    assert found.program_version is None


@covers("frequency_used")
def test_a_seventh_well_child_visit_in_the_first_15_months():
    # GIVEN a child born 1 October 2025 with seven well-child visits in 2026 (W30-1: up to six by 15 months,
    # so through 1 January 2027, the year the visits' periods take)
    visits = [item("W30-1", date(2026, month, 3), concept="99381") for month in range(1, 8)]
    found = explain(member(*visits, birth=date(2025, 10, 1)), "W30-1")
    # THEN the seventh takes no slot: the six before it used every visit of the window
    (reason,) = evidence(found, visits[6].reference).reasons
    assert reason.code == "frequency_used"
    assert reason.facts["by"] == ", ".join(v.reference for v in visits[:6])
    assert reason.facts["period"] == "2027/visit-1 to 2027/visit-6"
    assert reason.text.startswith("up to 6 visits in the age window: already used by ")
    # AND asked about 2026, the six visits' steps are listed under their periods, with no "2027" gap
    assert {s.period for s in found.steps} == {f"2027/visit-{n}" for n in range(1, 7)}


@covers("phase_pays_no_svu")
def test_a_step_dated_in_a_phase_that_pays_no_svus():
    # GIVEN a version in its participation phase through February, pay for performance after
    program = CATALOG.in_force(date(2026, 6, 1))
    phases = (
        {"phase": "participation", "effective_from": "2026-01-01", "effective_through": "2026-02-28"},
        {"phase": "performance", "effective_from": "2026-03-01", "effective_through": "2026-12-31"},
    )
    body = program.model_dump(mode="json") | {
        "phases": [p | ({"per_clinic_month": "0"} if p["phase"] == "participation" else {}) for p in phases]
    }
    catalog = ProgramCatalog((type(program).model_validate(body),))
    # WHEN C1 asks about a schedule attested on 10 February and a screening on 3 March
    m = member(attestation(Step.SCHEDULE, date(2026, 2, 10)), attestation(Step.PERFORM, date(2026, 3, 3)))
    found = explain(m, catalog=catalog)
    # THEN the schedule was stopped by the phase in force on its date; the screening was not
    assert (
        stop(found, "2026", "schedule").text
        == "care_gap-2026.1 was in its participation phase on 2026-02-10, which pays no SVUs for BCS-E"
    )
    assert stopped(found)[("2026", "perform")] != "phase_pays_no_svu"
