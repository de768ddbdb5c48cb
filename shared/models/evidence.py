"""Evidence: one fact from a file that completes a step of an action for a member."""

from __future__ import annotations

import hashlib
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, computed_field

from shared.models.actions import ActionCode, Step


class EvidenceSource(StrEnum):
    ATTESTATION = "attestation"
    MEDICAL_CLAIM = "medical_claim"


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class Evidence(BaseModel):
    """A claim line or an attestation that speaks to one action of one member.

    The id depends only on the source record (claim id + line, or attestation id) and the action, so
    delivering the same file twice, or the same record in two files, yields the same evidence item.
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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def evidence_id(self) -> str:
        return _digest(self.source.value, self.action, self.reference)

    @property
    def reference(self) -> str:
        """Human-readable pointer to the source record, as printed on statements."""
        if self.source is EvidenceSource.MEDICAL_CLAIM:
            return f"claim:{self.claim_id}#{self.claim_line_number}"
        return f"attestation:{self.attestation_id}"

    @property
    def known_date(self) -> date:
        """When the plan learned of it: claims count from receipt (Q15), attestations from their date."""
        return self.received_date or self.action_date

    @property
    def period(self) -> str:
        """The measurement year the evidence counts toward."""
        return str(self.action_date.year)
