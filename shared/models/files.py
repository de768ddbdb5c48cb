"""File kinds and the per-file accounting shared by intake, the ingest service and the CLI."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FileKind(StrEnum):
    """What a landed file holds; it comes from the key prefix `landing/<kind>/`."""

    CLINICS = "clinics"
    ELIGIBILITY = "eligibility"
    MEDICAL_CLAIMS = "medical_claims"
    PHARMACY_CLAIMS = "pharmacy_claims"
    IMMUNIZATIONS = "immunizations"
    LABS = "labs"
    ATTESTATIONS = "attestations"
    TA_ENGAGEMENT = "ta_engagement"
    PROVIDERS = "providers"
    FHIR = "fhir"


class FileStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    """Every accepted row's evidence and gap state are applied."""
    QUARANTINED = "QUARANTINED"
    DUPLICATE = "DUPLICATE"
    """The same bytes were already applied from another key (`duplicate_of`)."""
    FAILED = "FAILED"
    """Applying the file kept failing (`failure_reason`); `p4p files retry KEY` applies it again."""


class Coverage(BaseModel):
    """The first and last day an eligibility file speaks for: from its earliest enrollment start to its
    latest end, where an open span (and any later end) stops at the end of the month the file arrived in,
    because a roster cannot speak for a month that had not begun."""

    model_config = ConfigDict(frozen=True)

    first_day: date
    last_day: date

    def overlaps(self, first: date, last: date) -> bool:
        """True when the coverage shares a day with [first, last]."""
        return self.first_day <= last and first <= self.last_day


class FileSubmission(BaseModel):
    """An accepted file as the registry knows it: its kind, the day its accepted processing began (UTC) and
    its row counts; what a reporting phase's data-submission rules read."""

    model_config = ConfigDict(frozen=True)

    kind: FileKind
    received_on: date
    rows_read: int = Field(ge=0)
    rejected: int = Field(ge=0)


class FileManifest(BaseModel):
    """Accounting for one file: every row read is accepted, rejected, a duplicate or superseded."""

    model_config = ConfigDict(frozen=True)

    file_id: str = Field(description="sha256 of the file's bytes")
    kind: FileKind
    source_key: str
    status: FileStatus
    rows_read: int = Field(ge=0)
    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    duplicate: int = Field(ge=0)
    superseded: int = Field(ge=0)
    quarantine_reason: str | None = None
    quarantine_detail: str | None = Field(
        default=None, description="what the whole-file reason found: columns, counts, line numbers, no value"
    )
    failure_reason: str | None = Field(default=None, description="FAILED: the error's type, no value")
    duplicate_of: str | None = Field(default=None, description="DUPLICATE: the key of the applied file")
    rejects_key: str | None = None
    curated_keys: tuple[str, ...] = ()
    coverage: Coverage | None = Field(
        default=None, description="eligibility files: the days their spans speak for (runs check it)"
    )

    @model_validator(mode="after")
    def _rows_add_up(self) -> FileManifest:
        if self.rows_read != self.accepted + self.rejected + self.duplicate + self.superseded:
            raise ValueError("rows_read must equal accepted + rejected + duplicate + superseded")
        return self
