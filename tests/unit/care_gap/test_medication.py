"""Medication Management: a window (a calendar month or quarter) earns once, on the assigned clinic's own
attested prescription, and the fill that confirms that prescription earns its dispense step when it is
dispensed within the prescription's window, whichever month or quarter the fill falls in (Q10, Q15)."""

from datetime import date

import polars as pl

from shared.logic.awards import member_awards
from shared.logic.evidence import attestation_evidence
from shared.models.actions import LineOfBusiness, Sex, Step
from shared.models.evidence import EvidenceSource
from shared.models.members import MemberFacts
from tests.unit.care_gap.factories import CATALOG, PROGRAM, attest, clinic, diagnosis, item, profile, span

CLINICS = {"C1": clinic("C1"), "C2": clinic("C2")}
STATIN = "00071015523"


def awards(*evidence, through="2026-12", spans=None):
    member = MemberFacts(
        profile=profile(birth=date(1955, 1, 1), gender=Sex.M),
        spans=spans or (span(lob=LineOfBusiness.CA),),
        evidence=(diagnosis("Statins", date(2026, 1, 15)), *evidence),
    )
    return member_awards(member, clinics=CLINICS, catalog=CATALOG, through_month=through, run_id="r1")


def fill(action, day, supply, *, paid=None):
    return item(
        action,
        day,
        step=Step.DISPENSE,
        source=EvidenceSource.PHARMACY_CLAIM,
        received=paid or day,
        concept=STATIN,
        days_supply=supply,
    )


def earned(entries):
    return sorted((e.period, e.step.value, e.earned_month) for e in entries)


def test_a_fill_early_next_month_confirms_a_renewal_attested_late_this_month():
    # GIVEN C1's 30-day statin renewal attested on March 28, filled on April 2 and paid on April 3
    renewal = attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 3, 28))
    dispensed = fill("STA-RFL-30", date(2026, 4, 2), 30, paid=date(2026, 4, 3))
    # WHEN the awards through April are computed
    entries = awards(renewal, dispensed, through="2026-04")
    # THEN March's window earns both steps: the prescription in March, its dispense in April
    assert earned(entries) == [("2026-03", "dispense", "2026-04"), ("2026-03", "prescribe", "2026-03")]
    assert {e.clinic_id for e in entries} == {"C1"}


def test_a_fill_early_next_quarter_confirms_a_90_day_renewal_attested_late_this_quarter():
    # GIVEN C1's 90-day renewal attested on March 30 and its 90-day fill on April 6
    renewal = attest("STA-RFL-90", Step.PRESCRIBE, date(2026, 3, 30))
    dispensed = fill("STA-RFL-90", date(2026, 4, 6), 90)
    # WHEN the awards are computed
    entries = awards(renewal, dispensed)
    # THEN the first quarter's window earns both steps
    assert earned(entries) == [("2026-Q1", "dispense", "2026-04"), ("2026-Q1", "prescribe", "2026-03")]


def test_a_fill_confirms_one_prescription_only():
    # GIVEN renewals attested on March 28 and April 1, and one fill on April 2 that either could match
    march = attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 3, 28))
    april = attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 4, 1))
    first = fill("STA-RFL-30", date(2026, 4, 2), 30)
    # WHEN the awards are computed with that fill, then with a second fill on April 25
    one = awards(march, april, first)
    two = awards(march, april, first, fill("STA-RFL-30", date(2026, 4, 25), 30))
    # THEN the one fill earns one dispense (the earlier window's); a second fill confirms the other window
    assert [e.period for e in one if e.step is Step.DISPENSE] == ["2026-03"]
    assert sorted(e.period for e in two if e.step is Step.DISPENSE) == ["2026-03", "2026-04"]
    assert sorted(e.period for e in one if e.step is Step.PRESCRIBE) == ["2026-03", "2026-04"]


def test_a_window_earns_once_however_many_prescriptions_and_fills_it_holds():
    # GIVEN two renewals attested in March and fills on March 29 and April 2, nothing attested in April
    renewals = [attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 3, d)) for d in (2, 28)]
    fills = [fill("STA-RFL-30", date(2026, 3, 29), 30), fill("STA-RFL-30", date(2026, 4, 2), 30)]
    # WHEN the awards are computed
    entries = awards(*renewals, *fills)
    # THEN March earns each step once, and the spare fill earns nothing in April
    assert [(e.period, e.step.value) for e in sorted(entries, key=lambda e: e.step.value)] == [
        ("2026-03", "dispense"),
        ("2026-03", "prescribe"),
    ]


def test_a_fill_without_the_assigned_clinics_prior_prescription_earns_nothing():
    # GIVEN a fill alone, a fill after another clinic's prescription, and a fill before C1's prescription
    dispensed = fill("STA-RFL-30", date(2026, 4, 2), 30)
    alone = awards(dispensed)
    other = awards(dispensed, attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 3, 28), clinic_id="C2"))
    before = awards(dispensed, attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 4, 5)))
    # WHEN the awards are computed
    # THEN nothing is paid for the fill (Q15, Q10); C1's later prescription earns only its own step
    assert alone == [] and other == []
    assert earned(before) == [("2026-04", "prescribe", "2026-04")]


def test_a_fill_after_the_prescriptions_window_does_not_confirm_it():
    # GIVEN a 30-day renewal attested on March 1 and a fill 35 days later
    renewal = attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 3, 1))
    late = fill("STA-RFL-30", date(2026, 4, 5), 30)
    # WHEN the awards are computed
    # THEN only the prescription is paid
    assert earned(awards(renewal, late)) == [("2026-03", "prescribe", "2026-03")]


def spc(*evidence):
    return awards(diagnosis("ASCVD", date(2025, 11, 1)), *evidence)


def test_statin_therapy_earns_once_a_quarter_for_90_day_prescriptions_and_once_a_month_for_30_day_ones():
    # GIVEN C1's SPC prescriptions on January 10 and February 10, filled two days later, 90- or 30-day
    def member(supply):
        return [
            e
            for day in (date(2026, 1, 10), date(2026, 2, 10))
            for e in (attest("SPC", Step.PRESCRIBE, day), fill("SPC", day.replace(day=12), supply))
        ]

    # WHEN the awards are computed
    quarterly, monthly = spc(*member(90)), spc(*member(30))
    # THEN the 90-day ones earn each step once in the quarter, the 30-day ones once in each month
    assert earned(quarterly) == [("2026-Q1", "dispense", "2026-01"), ("2026-Q1", "prescribe", "2026-01")]
    assert sorted({e.period for e in monthly}) == ["2026-01", "2026-02"] and len(monthly) == 4


def test_a_90_day_prescription_counts_quarterly_from_the_attestation_before_its_fill_is_known():
    # GIVEN C1's SPC prescription attested with a 90-day supply on March 30, its fill not yet known
    prescription = attest("SPC", Step.PRESCRIBE, date(2026, 3, 30)).model_copy(update={"days_supply": 90})
    # WHEN the awards are computed, and again once its fill of May 29 (60 days later) is known
    before = spc(prescription)
    after = spc(prescription, fill("SPC", date(2026, 5, 29), 90))
    # THEN it earns in the first quarter, and the fill, inside a 90-day window, is that quarter's dispense
    assert earned(before) == [("2026-Q1", "prescribe", "2026-03")]
    assert earned(after) == [("2026-Q1", "dispense", "2026-05"), ("2026-Q1", "prescribe", "2026-03")]


def test_a_30_day_prescription_inside_a_90_day_ones_quarter_earns_nothing_more():
    # GIVEN a 30-day SPC prescription in January, a 90-day one in February and a 30-day one in March
    evidence = [
        attest("SPC", Step.PRESCRIBE, date(2026, 1, 5)),
        fill("SPC", date(2026, 1, 6), 30),
        attest("SPC", Step.PRESCRIBE, date(2026, 2, 5)),
        fill("SPC", date(2026, 2, 6), 90),
        attest("SPC", Step.PRESCRIBE, date(2026, 3, 5)),
        fill("SPC", date(2026, 3, 6), 30),
    ]
    # WHEN the awards are computed
    entries = spc(*evidence)
    # THEN January's month and February's quarter earn; March's falls inside that quarter and earns nothing
    assert sorted({e.period for e in entries}) == ["2026-01", "2026-Q1"] and len(entries) == 4


def test_an_attested_prescription_carries_the_days_supply_the_app_sends():
    # GIVEN two SPC prescribe attestations, one stating a 90-day supply
    rows = pl.DataFrame(
        {
            "attestation_id": ["A1", "A2"],
            "clinic_id": ["C1", "C1"],
            "member_id": ["M1", "M1"],
            "action_code": ["SPC", "SPC"],
            "step": ["prescribe", "prescribe"],
            "action_date": [date(2026, 3, 30), date(2026, 3, 30)],
            "days_supply": [90, None],
        }
    )
    # WHEN evidence is extracted
    found = attestation_evidence(rows, PROGRAM.actions, file_id="att")
    # THEN the stated supply is kept (it decides the prescription's window), the other has none
    assert [(e.attestation_id, e.days_supply) for e in found] == [("A1", 90), ("A2", None)]
