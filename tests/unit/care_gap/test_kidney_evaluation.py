"""KED as HEDIS counts it: a kidney health evaluation needs BOTH an eGFR and a uACR in the measurement
year; the uACR is a uACR code, or a quantitative urine albumin and a urine creatinine within four days."""

from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic import ValidationError

from shared.logic.awards import member_awards
from shared.logic.gaps import build_gap
from shared.models.actions import LineOfBusiness, Step
from shared.models.evidence import EvidenceSource
from shared.models.gaps import GapStatus
from shared.models.members import MemberFacts
from shared.programs.care_gap import DATA_DIR, parse_program
from tests.unit.care_gap.factories import CATALOG, PROGRAM, attest, clinic, diagnosis, item, profile, span

KED = PROGRAM.action("KED")
CLINICS = {"C1": clinic("C1")}
EGFR_CPT, EGFR_LOINC = "80053", "48642-3"  # metabolic panel; eGFR result
UACR_LOINC = "9318-7"  # albumin/creatinine ratio
ALBUMIN, CREATININE = "82043", "82570"  # quantitative urine albumin; urine creatinine (CPT)


def lab_test(concept: str, day: date, *, received: date | None = None, lab: bool = False):
    source = EvidenceSource.LAB if lab else EvidenceSource.MEDICAL_CLAIM
    return item("KED", day, concept=concept, received=received, source=source)


def facts(*evidence):
    diabetic = diagnosis("Diabetes", date(2026, 1, 10))
    return MemberFacts(
        profile=profile(birth=date(1965, 1, 1)),
        spans=(span(lob=LineOfBusiness.CA),),
        evidence=(diabetic, *evidence),
    )


def gap(member: MemberFacts):
    return build_gap(
        profile=member.profile,
        spans=member.spans,
        evidence=member.evidence,
        action=KED,
        program=PROGRAM,
        period_year=2026,
        as_of=date(2026, 12, 31),
    )


def awards(member: MemberFacts):
    return member_awards(member, clinics=CLINICS, catalog=CATALOG, through_month="2026-12", run_id="r")


@pytest.mark.parametrize(
    "evidence",
    [
        pytest.param((lab_test(EGFR_CPT, date(2026, 3, 1)),), id="eGFR-only"),
        pytest.param((lab_test(UACR_LOINC, date(2026, 3, 1), lab=True),), id="uACR-only"),
        pytest.param(
            (lab_test(ALBUMIN, date(2026, 3, 1)), lab_test(CREATININE, date(2026, 3, 2))),
            id="albumin+creatinine-no-eGFR",
        ),
        pytest.param(
            (
                lab_test(EGFR_CPT, date(2026, 3, 1)),
                lab_test(ALBUMIN, date(2026, 3, 1)),
                lab_test(CREATININE, date(2026, 3, 6)),
            ),
            id="albumin-and-creatinine-five-days-apart",
        ),
        pytest.param(
            (lab_test(EGFR_CPT, date(2025, 12, 20)), lab_test(UACR_LOINC, date(2026, 1, 5), lab=True)),
            id="eGFR-in-the-year-before",
        ),
    ],
)
def test_one_kind_of_kidney_test_alone_leaves_the_gap_open_and_earns_no_claim_step(evidence):
    # GIVEN a diabetic CA member with kidney tests that do not make a whole evaluation in 2026
    member = facts(*evidence)
    # WHEN the gap and the awards are computed
    # THEN the gap stays open on the claim step and nothing is paid
    found = gap(member)
    assert found.status is GapStatus.OPEN and found.next_action is Step.PERFORM
    assert awards(member) == []


@pytest.mark.parametrize(
    "evidence",
    [
        pytest.param(
            (lab_test(EGFR_CPT, date(2026, 3, 1)), lab_test(UACR_LOINC, date(2026, 9, 1), lab=True)),
            id="eGFR+uACR-code",
        ),
        pytest.param(
            (
                lab_test(EGFR_LOINC, date(2026, 3, 1), lab=True),
                lab_test(ALBUMIN, date(2026, 9, 1)),
                lab_test(CREATININE, date(2026, 9, 5)),
            ),
            id="eGFR+albumin-and-creatinine-four-days-apart",
        ),
    ],
)
def test_an_egfr_and_a_uacr_in_the_year_close_the_gap_when_the_second_arrives(evidence):
    # GIVEN a diabetic CA member with an eGFR and a uACR in 2026, the last one received in September
    member = facts(*evidence)
    # WHEN the gap and the awards are computed
    entries = awards(member)
    # THEN the gap is closed, every step is paid once, in the month the test completing the pair came in
    last = max(evidence, key=lambda e: e.known_date)
    assert gap(member).status is GapStatus.CLOSED
    assert {e.step for e in entries} == set(KED.steps)
    assert {(e.earned_month, e.evidence_refs) for e in entries} == {("2026-09", (last.reference,))}


def test_the_clinic_still_earns_its_attested_step_before_the_tests_are_complete():
    # GIVEN the clinic attests the evaluation and only the eGFR has come in
    member = facts(attest("KED", Step.PERFORM, date(2026, 2, 1)), lab_test(EGFR_CPT, date(2026, 2, 3)))
    # WHEN the awards are computed
    # THEN the perform step is paid on the attestation, and the claim step waits for the uACR
    assert [e.step for e in awards(member)] == [Step.PERFORM]
    assert gap(member).next_action is Step.CLAIM


def test_a_required_test_must_name_one_of_the_actions_evidence_sets():
    # GIVEN the shipped program with KED's uACR test pointing at a set KED does not use
    raw = json.loads((DATA_DIR / "care_gap" / "care_gap_2026.json").read_text(encoding="utf-8"))
    ked = next(a for a in raw["actions"] if a["code"] == "KED")
    ked["requires"][1]["any_of"] = ["Glycemic Status"]
    # WHEN it is validated
    # THEN it is refused
    with pytest.raises(ValidationError, match="not an evidence set"):
        parse_program(json.dumps(raw))
