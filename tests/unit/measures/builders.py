"""Small builders of a member's evidence as ingest keeps it, and of the APC rates' results for one member."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import count
from typing import Any

from shared.logic.measures.apc import ApcMemberYear, apc_member_year, apc_rated_measures, apc_valuesets
from shared.models.actions import Sex, Step
from shared.models.evidence import Evidence, EvidenceSource, record_action
from shared.models.members import MemberFacts, MemberProfile
from shared.programs.apc import load_apc
from shared.programs.measures import RatedMeasure
from tests.unit.care_gap.factories import PROGRAM as CARE_GAP

YEAR = 2026
APC = load_apc().latest()
RATED = apc_rated_measures(APC)
VALUESETS = apc_valuesets(CARE_GAP)
EVERY_MONTH = tuple(f"{YEAR}-{m:02d}" for m in range(1, 13))
_ROWS = count(1)


def rated(*codes: str) -> list[RatedMeasure]:
    """The APC rates of the codes."""
    return [r for r in RATED if r.rate.rate in codes]


def _base(day: date, source: EvidenceSource, action: str, **fields: Any) -> Evidence:
    row = next(_ROWS)
    return Evidence(
        member_id="M1",
        action=action,
        step=Step.PERFORM,
        action_date=day,
        received_date=fields.pop("received", day),
        source=source,
        file_id="f",
        source_row=row,
        **fields,
    )


def fill(ndc: str, day: date, supply: int = 30) -> Evidence:
    """A paid pharmacy fill kept as a record."""
    row = next(_ROWS)
    return _base(
        day,
        EvidenceSource.PHARMACY_CLAIM,
        record_action("MedicationDispense"),
        concept=ndc,
        days_supply=supply,
        claim_id=f"RX{row}",
        claim_line_number=0,
    )


def diagnosis(code: str, day: date) -> Evidence:
    """A claim diagnosis kept as a condition record."""
    row = next(_ROWS)
    return _base(
        day,
        EvidenceSource.MEDICAL_CLAIM,
        record_action("Condition"),
        concept=code,
        condition=code,
        claim_id=f"DX{row}",
        claim_line_number=1,
    )


def service(
    code: str | None, day: date, *, claim_id: str | None = None, line: int = 1, **details: Any
) -> Evidence:
    """A claim line kept as a record (its code, its facility and cost details)."""
    row = next(_ROWS)
    details.setdefault("claim_type", "professional")
    if "allowed_amount" in details and details["allowed_amount"] is not None:
        details["allowed_amount"] = Decimal(details["allowed_amount"])
    return _base(
        day,
        EvidenceSource.MEDICAL_CLAIM,
        record_action("Claim"),
        concept=code,
        claim_id=claim_id or f"CL{row}",
        claim_line_number=line,
        **details,
    )


def dose(cvx: str, day: date) -> Evidence:
    """A registry dose."""
    return _base(day, EvidenceSource.IMMUNIZATION, record_action("Immunization"), concept=cvx)


def lab(loinc: str, day: date, value: str | None) -> Evidence:
    """A lab result."""
    return _base(day, EvidenceSource.LAB, record_action("Observation"), concept=loinc, result_value=value)


def member(*evidence: Evidence, birth: date, gender: Sex = Sex.F) -> MemberFacts:
    return MemberFacts(
        profile=MemberProfile(member_id="M1", birth_date=birth, gender=gender, clinic_id="P1"),
        evidence=evidence,
    )


def results(
    facts: MemberFacts, *codes: str, months: tuple[str, ...] = EVERY_MONTH, year: int = YEAR, **options: Any
) -> ApcMemberYear:
    """The member's APC results for the rates of the codes (all when none are named)."""
    chosen = rated(*codes) if codes else list(RATED)
    return apc_member_year(
        facts, chosen, year=year, months=months, program=APC, valuesets=VALUESETS, **options
    )
