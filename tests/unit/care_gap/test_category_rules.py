"""Category rules of the menus: Q15 (a claim awards every remaining step), Q10 (outside providers still
credit the assigned clinic, except medication and diagnosis review, which pay the clinic's own
attestation only), result tiers for CBP/GSD and refill windows."""

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from shared.logic.awards import member_awards
from shared.logic.evidence import pharmacy_evidence
from shared.models.actions import LineOfBusiness, Sex, Step, Track
from shared.models.evidence import EvidenceSource
from shared.models.ledger import LedgerEntry, SvuAward
from shared.models.members import MemberFacts
from tests.unit.care_gap.factories import CATALOG, PROGRAM, attest, clinic, diagnosis, item, profile, span

CLINICS = {"C1": clinic("C1"), "C2": clinic("C2")}


def awards(member_facts, through="2026-12"):
    return member_awards(member_facts, clinics=CLINICS, catalog=CATALOG, through_month=through, run_id="r1")


def facts(*evidence, birth=date(1970, 1, 1), gender=Sex.F, lob=LineOfBusiness.MC):
    return MemberFacts(
        profile=profile(birth=birth, gender=gender), spans=(span(lob=lob),), evidence=tuple(evidence)
    )


def svu_of(entry: LedgerEntry) -> Decimal:
    assert isinstance(entry.basis, SvuAward)
    return entry.basis.svu


def svu(action, step):
    return PROGRAM.svu(Track.FAMILY_ADULT, action, step)


@pytest.mark.parametrize(
    ("action", "birth", "concept"),
    [
        ("WCV", date(2016, 1, 1), "99393"),  # Annual/Wellness Visits
        ("CHL", date(2005, 1, 1), "87491"),  # 2-Step
        ("COL-E", date(1970, 1, 1), "82274"),  # 3-Step
        ("CIS MMR", date(2025, 1, 1), "90707"),  # Immunizations: a one-dose series completes
    ],
)
def test_a_claim_completing_the_action_awards_every_remaining_step(action, birth, concept):
    # GIVEN only a claim (nothing attested), rendered by an outside provider, received in April
    claim = item(action, date(2026, 3, 20), concept=concept, received=date(2026, 4, 2))
    # WHEN the awards are computed
    entries = awards(facts(claim, birth=birth))
    # THEN every step is earned in April by the assigned clinic, traced to the claim (Q15 + Q10)
    assert {e.step for e in entries} == set(PROGRAM.action(action).steps)
    assert {(e.clinic_id, e.earned_month) for e in entries} == {("C1", "2026-04")}
    assert {e.evidence_refs for e in entries} == {(claim.reference,)}


def test_a_dose_that_does_not_complete_the_series_earns_only_the_initial_dose():
    # GIVEN a baby's first DTaP dose on a claim
    entries = awards(facts(item("CIS DTaP", date(2026, 3, 1), concept="90700"), birth=date(2026, 1, 1)))
    # WHEN the awards are computed
    # THEN only the initial dose is paid
    assert [e.step for e in entries] == [Step.INITIAL_DOSE]


def _spc_member(*evidence):
    return facts(diagnosis("ASCVD", date(2025, 11, 1)), *evidence, birth=date(1960, 1, 1), gender=Sex.M)


def _fill(day, days_supply=30):
    return item(
        "SPC",
        day,
        step=Step.DISPENSE,
        source=EvidenceSource.PHARMACY_CLAIM,
        concept="00071015523",
        days_supply=days_supply,
    )


def test_medication_management_pays_only_the_assigned_clinics_own_attestation():
    # GIVEN statin fills with no attestation, with another clinic's attestation, and with C1's own
    fill = _fill(date(2026, 3, 5))
    alone = awards(_spc_member(fill))
    other = awards(_spc_member(fill, attest("SPC", Step.PRESCRIBE, date(2026, 3, 1), clinic_id="C2")))
    own = awards(_spc_member(fill, attest("SPC", Step.PRESCRIBE, date(2026, 3, 1), clinic_id="C1")))
    # WHEN the awards are computed
    # THEN the pharmacy claim alone pays nothing (Q15), another clinic's attestation pays nothing (Q10),
    # and C1's own prescription pays prescribe and the dispense its fill confirms
    assert alone == [] and other == []
    assert {(e.step, e.clinic_id) for e in own} == {(Step.PRESCRIBE, "C1"), (Step.DISPENSE, "C1")}


def test_diagnosis_review_pays_the_claim_only_after_the_clinics_assessment():
    # GIVEN heart failure diagnosed in 2025 and recaptured on a 2026 claim, with and without C1's assessment
    history = diagnosis("HCC Heart Failure", date(2025, 6, 1))
    claim = item("HCC-DX", date(2026, 4, 1), concept="I509", condition="HCC Heart Failure")
    assessed = attest("HCC-DX", Step.ASSESS, date(2026, 4, 1), result_value="HCC Heart Failure")
    # WHEN the awards are computed (a CareAdvantage member)
    claim_only = awards(facts(history, claim, lob=LineOfBusiness.CA))
    both = awards(facts(history, claim, assessed, lob=LineOfBusiness.CA))
    # THEN the claim alone earns nothing; with the assessment both steps are paid for that condition
    assert claim_only == []
    assert {(e.step, e.period) for e in both} == {
        (Step.ASSESS, "2026/HCC Heart Failure"),
        (Step.CLAIM, "2026/HCC Heart Failure"),
    }


def test_cbp_award_varies_with_the_result_tier_and_improvement():
    # GIVEN a hypertensive member: uncontrolled in February, controlled in May (CPT II codes on claims)
    history = diagnosis("Essential Hypertension", date(2025, 5, 1))
    feb = [item("CBP", date(2026, 2, 3), concept=c) for c in ("3077F", "3080F")]
    may = [item("CBP", date(2026, 5, 4), concept=c) for c in ("3074F", "3078F")]
    # WHEN the awards are computed
    entries = {(e.period, e.step): e for e in awards(facts(history, *feb, *may))}
    # THEN each date of service earns once; the claim step adds the tier's SVUs, and May the improvement
    base = svu("CBP", Step.CLAIM)
    tier = PROGRAM.result_svu
    assert svu_of(entries[("2026-02-03", Step.CLAIM)]) == base + tier(
        Track.FAMILY_ADULT, "CBP", "uncontrolled"
    )
    assert svu_of(entries[("2026-05-04", Step.CLAIM)]) == base + tier(
        Track.FAMILY_ADULT, "CBP", "controlled"
    ) + tier(Track.FAMILY_ADULT, "CBP", "improved")
    assert svu_of(entries[("2026-05-04", Step.PERFORM)]) == svu("CBP", Step.PERFORM)


def test_cbp_does_not_apply_without_hypertension():
    # GIVEN a BP reading for a member with no hypertension diagnosis
    # WHEN the awards are computed
    # THEN nothing is earned
    assert awards(facts(item("CBP", date(2026, 2, 3), concept="3074F"))) == []


def test_fills_go_to_the_refill_action_of_their_duration_and_mark_the_drug_class():
    # GIVEN a 30-day and a 90-day statin fill, and a reversed one
    fills = pl.DataFrame(
        {
            "claim_id": ["R1", "R2", "R3"],
            "fill_number": ["0", "0", "0"],
            "claim_status": ["paid", "paid", "reversed"],
            "member_id": ["M1", "M1", "M1"],
            "dispensing_date": ["2026-02-01", "2026-04-01", "2026-05-01"],
            "ndc_code": ["00071015523", "00071015523", "00071015523"],
            "days_supply": ["30", "90", "30"],
            "paid_date": ["2026-02-03", "2026-04-03", None],
        }
    )
    # WHEN evidence is extracted
    found = pharmacy_evidence(fills, PROGRAM.actions, file_id="rx")
    by_action = {(e.action, e.claim_id) for e in found}
    # THEN 30-day fills evidence STA-RFL-30, 90-day ones STA-RFL-90, both the statin actions and the class
    assert ("STA-RFL-30", "R1") in by_action and ("STA-RFL-90", "R1") not in by_action
    assert ("STA-RFL-90", "R2") in by_action and ("STA-RFL-30", "R2") not in by_action
    assert {("SPC", "R1"), ("SPD", "R2"), ("DX:Statins", "R1")} <= by_action
    assert not any(e.claim_id == "R3" for e in found)


def test_refills_earn_once_per_window():
    # GIVEN a CareAdvantage member on statins with two 30-day renewals attested in March and one in April
    history = diagnosis("Statins", date(2026, 1, 15))
    march = [attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 3, d)) for d in (2, 28)]
    april = attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 4, 2))
    # WHEN the awards are computed
    entries = awards(facts(history, *march, april, lob=LineOfBusiness.CA))
    # THEN the prescribe step is paid once for March and once for April
    assert sorted(e.period for e in entries) == ["2026-03", "2026-04"]


def test_an_award_is_paid_by_the_payer_the_members_span_names_on_the_action_date():
    # GIVEN a member with the deploying plan until June and with a second plan (PLAN2) from July
    first = span().model_copy(update={"end": date(2026, 6, 30)})
    second = span().model_copy(update={"start": date(2026, 7, 1), "payer_id": "PLAN2"})
    march = item("COL-E", date(2026, 3, 20), concept="82274", received=date(2026, 4, 2))
    member = MemberFacts(profile=profile(), spans=(first, second), evidence=(march,))
    later = MemberFacts(
        profile=profile(),
        spans=(first, second),
        evidence=(
            march.model_copy(update={"action_date": date(2026, 8, 20), "received_date": date(2026, 9, 2)}),
        ),
    )
    # WHEN the awards are computed with the deploying plan as the default payer
    before = member_awards(
        member, clinics=CLINICS, catalog=CATALOG, through_month="2026-12", run_id="r1", payer="HPSM"
    )
    after = member_awards(
        later, clinics=CLINICS, catalog=CATALOG, through_month="2026-12", run_id="r1", payer="HPSM"
    )
    # THEN the March screening is the deploying plan's and the August one PLAN2's, with ids of their own
    assert {e.payer for e in before} == {"HPSM"} and {e.payer for e in after} == {"PLAN2"}
    assert not {e.entry_id for e in before} & {e.entry_id for e in after}
