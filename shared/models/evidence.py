"""Evidence: one fact from a file that completes a step of an action for a member."""

from __future__ import annotations

import hashlib
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, computed_field

from shared.models.actions import ActionCode, Step

CONDITION_PREFIX = "DX:"
"""Condition facts carry `action=DX:<code set name>` and `step=diagnosis`; they pay nothing."""


def condition_action(code_set: str) -> ActionCode:
    """The action code under which facts of a condition code set are stored."""
    return ActionCode(f"{CONDITION_PREFIX}{code_set}")


class EvidenceSource(StrEnum):
    ATTESTATION = "attestation"
    MEDICAL_CLAIM = "medical_claim"
    PHARMACY_CLAIM = "pharmacy_claim"
    IMMUNIZATION = "immunization"
    LAB = "lab"
    SUPPLEMENTAL = "supplemental"
    """EHR records (FHIR procedures, conditions) a plan accepts as supplemental data (Q14)."""

    @property
    def confirms(self) -> bool:
        """Claims and supplemental data (registry, labs) confirm a service; attestations do not (Q13)."""
        return self is not EvidenceSource.ATTESTATION


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class Evidence(BaseModel):
    """A claim line, a fill, a registry dose, a lab result or an attestation that speaks to one action.

    The id depends only on the source record (claim id + line, fill, file row, or attestation id) and the
    action, so delivering the same file twice, or the same record in two files, yields the same item.
    """

    model_config = ConfigDict(frozen=True)

    member_id: str
    action: ActionCode
    step: Step
    action_date: date
    received_date: date | None = None
    source: EvidenceSource
    file_id: str
    source_row: int
    concept: str | None = None
    claim_id: str | None = None
    claim_line_number: int | None = None
    attestation_id: str | None = None
    attesting_clinic_id: str | None = None
    result_value: str | None = None
    days_supply: int | None = None
    condition: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def evidence_id(self) -> str:
        if self.condition is not None:  # one claim line can recapture several conditions
            return _digest(self.source.value, self.action, self.reference, self.condition)
        return _digest(self.source.value, self.action, self.reference)

    @property
    def reference(self) -> str:
        """Human-readable pointer to the source record, as printed on statements."""
        if self.source is EvidenceSource.MEDICAL_CLAIM:
            return f"claim:{self.claim_id}#{self.claim_line_number}"
        if self.source is EvidenceSource.PHARMACY_CLAIM:
            return f"fill:{self.claim_id}#{self.claim_line_number}"
        if self.source is EvidenceSource.ATTESTATION:
            return f"attestation:{self.attestation_id}"
        # Registry and lab rows have no id of their own: the concept and date identify the fact.
        return f"{self.source.value}:{self.member_id}/{self.concept}/{self.action_date.isoformat()}"

    @property
    def known_date(self) -> date:
        """When the plan learned of it: claims count from receipt (Q15), attestations from their date."""
        return self.received_date or self.action_date

    @property
    def period(self) -> str:
        """The measurement year the evidence counts toward."""
        return str(self.action_date.year)

    @property
    def is_condition(self) -> bool:
        """True for a condition fact (diagnosis or drug class), which no step is paid for."""
        return self.step is Step.DIAGNOSIS
