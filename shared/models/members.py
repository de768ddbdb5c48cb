"""Clinics, member profiles and eligibility spans as the gap state holds them."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, model_validator

from shared.models.actions import LineOfBusiness, Sex, Track
from shared.models.evidence import Evidence

CARE_GAP_PROGRAM = "care_gap"


class Clinic(BaseModel):
    """A primary-care clinic and its program enrollment, from the clinics file."""

    model_config = ConfigDict(frozen=True)

    clinic_id: str
    tin: str
    npi: str
    clinic_name: str
    lines_of_business: tuple[LineOfBusiness, ...]
    program: str
    program_enrollment_date: date
    track: Track

    def in_care_gap_on(self, day: date) -> bool:
        """True when the clinic takes part in Care Gap P4P on `day`."""
        return self.program == CARE_GAP_PROGRAM and self.program_enrollment_date <= day


class EligibilitySpan(BaseModel):
    """One roster span: a line of business and an assigned clinic between two dates (end open if None)."""

    model_config = ConfigDict(frozen=True)

    member_id: str
    start: date
    end: date | None = None
    line_of_business: LineOfBusiness
    clinic_id: str

    @model_validator(mode="after")
    def _ordered(self) -> EligibilitySpan:
        if self.end is not None and self.end < self.start:
            raise ValueError("span end before start")
        return self

    def covers(self, day: date) -> bool:
        """True when `day` falls inside the span (both ends inclusive)."""
        return self.start <= day and (self.end is None or day <= self.end)


class MemberProfile(BaseModel):
    """What the engine keeps about a member: demographics for eligibility and the current clinic."""

    model_config = ConfigDict(frozen=True)

    member_id: str
    birth_date: date
    gender: Sex
    clinic_id: str


class MemberFacts(BaseModel):
    """Everything the gap state holds about one member: profile, roster spans and evidence."""

    model_config = ConfigDict(frozen=True)

    profile: MemberProfile
    spans: tuple[EligibilitySpan, ...] = ()
    evidence: tuple[Evidence, ...] = ()
