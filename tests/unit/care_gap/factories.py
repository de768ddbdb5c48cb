"""Small builders for care-gap logic tests; defaults describe one eligible BCS-E member at clinic C1."""

from __future__ import annotations

from datetime import date

from shared.models.actions import ActionCode, LineOfBusiness, Sex, Step, Track
from shared.models.evidence import Evidence, EvidenceSource
from shared.models.members import Clinic, EligibilitySpan, MemberFacts, MemberProfile
from shared.programs.care_gap import load_catalog

CATALOG = load_catalog()
PROGRAM = CATALOG.in_force(date(2026, 6, 1))
BCS = PROGRAM.action("BCS-E")
BCS_CODE = ActionCode("BCS-E")


def clinic(
    clinic_id: str = "C1",
    *,
    enrolled: date = date(2026, 1, 1),
    track: Track = Track.FAMILY_ADULT,
    program: str = "care_gap",
) -> Clinic:
    return Clinic(
        clinic_id=clinic_id,
        tin="123456789",
        npi="1234567893",
        clinic_name=f"Clinic {clinic_id}",
        lines_of_business=(LineOfBusiness.MC, LineOfBusiness.CA),
        program=program,
        program_enrollment_date=enrolled,
        track=track,
    )


def profile(member_id: str = "M1", *, birth: date = date(1960, 5, 5), gender: Sex = Sex.F) -> MemberProfile:
    return MemberProfile(member_id=member_id, birth_date=birth, gender=gender, clinic_id="C1")


def span(
    clinic_id: str = "C1",
    *,
    start: date = date(2025, 1, 1),
    end: date | None = None,
    lob: LineOfBusiness = LineOfBusiness.MC,
    member_id: str = "M1",
) -> EligibilitySpan:
    return EligibilitySpan(
        member_id=member_id, start=start, end=end, line_of_business=lob, clinic_id=clinic_id
    )


def attestation(
    step: Step, day: date, *, attestation_id: str | None = None, clinic_id: str = "C1", member_id: str = "M1"
) -> Evidence:
    return Evidence(
        member_id=member_id,
        action=BCS_CODE,
        step=step,
        action_date=day,
        source=EvidenceSource.ATTESTATION,
        file_id="f-att",
        source_row=1,
        attestation_id=attestation_id or f"A-{step.value}-{day.isoformat()}",
        attesting_clinic_id=clinic_id,
    )


def claim(
    service: date, received: date, *, claim_id: str = "CL1", line: int = 1, member_id: str = "M1"
) -> Evidence:
    return Evidence(
        member_id=member_id,
        action=BCS_CODE,
        step=Step.CLAIM,
        action_date=service,
        received_date=received,
        source=EvidenceSource.MEDICAL_CLAIM,
        file_id="f-clm",
        source_row=1,
        concept="77067",
        claim_id=claim_id,
        claim_line_number=line,
    )


def facts(
    *evidence: Evidence, spans: tuple[EligibilitySpan, ...] | None = None, member: MemberProfile | None = None
) -> MemberFacts:
    return MemberFacts(
        profile=member or profile(), spans=spans if spans is not None else (span(),), evidence=evidence
    )


_counter = iter(range(1, 10**9))


def item(
    action: str,
    day: date,
    *,
    step: Step | None = None,
    source: EvidenceSource = EvidenceSource.MEDICAL_CLAIM,
    received: date | None = None,
    concept: str | None = None,
    clinic_id: str = "C1",
    member_id: str = "M1",
    days_supply: int | None = None,
    result_value: str | None = None,
    condition: str | None = None,
) -> Evidence:
    """Any evidence item: a claim line by default; attestations name their step and clinic."""
    n = next(_counter)
    attested = source is EvidenceSource.ATTESTATION
    return Evidence(
        member_id=member_id,
        action=ActionCode(action),
        step=step or (Step.CLAIM if not attested else Step.PERFORM),
        action_date=day,
        received_date=None if attested else (received or day),
        source=source,
        file_id="f",
        source_row=n,
        concept=concept,
        claim_id=None if attested else f"CL{n}",
        claim_line_number=None if attested else 1,
        attestation_id=f"A{n}" if attested else None,
        attesting_clinic_id=clinic_id if attested else None,
        days_supply=days_supply,
        result_value=result_value,
        condition=condition,
    )


def attest(
    action: str,
    step: Step,
    day: date,
    *,
    clinic_id: str = "C1",
    concept: str | None = None,
    result_value: str | None = None,
) -> Evidence:
    """An attestation of one step by a clinic."""
    return item(
        action,
        day,
        step=step,
        source=EvidenceSource.ATTESTATION,
        clinic_id=clinic_id,
        concept=concept,
        result_value=result_value,
    )


def diagnosis(code_set: str, day: date, *, member_id: str = "M1") -> Evidence:
    """A condition fact (a diagnosis or a fill of a drug class) of a program code set."""
    return item(f"DX:{code_set}", day, step=Step.DIAGNOSIS, member_id=member_id, concept="X")
