"""Clinics, their providers, member profiles and eligibility spans as the gap state holds them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.models.actions import LineOfBusiness, Sex, Track
from shared.models.evidence import Evidence

CARE_GAP_PROGRAM = "care_gap"
BENCHMARK_PROGRAM = "benchmark"
HISTORY_START = date(2000, 1, 1)
"""Where a clinic's history begins when its file gives no earlier date: before any program of this engine."""


class PracticeType(StrEnum):
    """Which patients a practice serves: the Benchmark metric sets and APC's applicable measures follow it."""

    ADULT = "adult"
    PEDIATRIC = "pediatric"
    MIXED = "mixed"


class ApcPaymentTrack(StrEnum):
    """The APC Element 1 direct-services track a practice is on with the plan."""

    FFS_PLUS = "ffs_plus"
    BASIC_CAPITATION = "basic_capitation"
    INTERMEDIATE_CAPITATION = "intermediate_capitation"
    NONE = "none"


class PayerTrack(BaseModel):
    """The APC track a practice is on with one payer from `start` until that payer's next track starts.
    `payer_id` None: the practice's own track (a clinics row without a payer), which holds with every payer
    that has put the practice on no track of its own."""

    model_config = ConfigDict(frozen=True)

    payer_id: str | None
    track: ApcPaymentTrack
    start: date = HISTORY_START


class ProgramEnrollment(BaseModel):
    """One stretch of a clinic's history in one program, both ends inclusive (end open if None)."""

    model_config = ConfigDict(frozen=True)

    program: str
    start: date
    end: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def overlaps_year(self, year: int) -> bool:
        return self.start <= date(year, 12, 31) and (self.end is None or self.end >= date(year, 1, 1))


def enrollment_history(program: str, enrolled_on: date) -> tuple[ProgramEnrollment, ...]:
    """The history a clinics row implies: in `program` from `enrolled_on`; a Care Gap clinic was in
    Benchmark P4P until the day before it joined (the program Care Gap replaces)."""
    if program == CARE_GAP_PROGRAM and enrolled_on > HISTORY_START:
        before = ProgramEnrollment(
            program=BENCHMARK_PROGRAM, start=HISTORY_START, end=enrolled_on - timedelta(1)
        )
        return (before, ProgramEnrollment(program=program, start=enrolled_on))
    return (ProgramEnrollment(program=program, start=enrolled_on),)


class Clinic(BaseModel):
    """A primary-care clinic: payee details, tracks, the APC fields, and its program enrollments over time.

    `program` and `program_enrollment_date` are the current enrollment, as the latest clinics file says;
    `enrollments` is the history kept across files (`shared/logic/clinics.py`)."""

    model_config = ConfigDict(frozen=True)

    clinic_id: str
    tin: str
    npi: str
    clinic_name: str
    lines_of_business: tuple[LineOfBusiness, ...]
    program: str
    program_enrollment_date: date
    track: Track
    practice_type: PracticeType = PracticeType.MIXED
    apc_payment_track: ApcPaymentTrack = ApcPaymentTrack.NONE
    hpi_decile: int | None = Field(default=None, ge=1, le=10)
    enrollments: tuple[ProgramEnrollment, ...] = ()
    apc_tracks: tuple[PayerTrack, ...] = ()
    """The practice's APC tracks over time, its own (payer None) and each payer's, in (payer, start) order;
    `apc_payment_track` is its own track as the latest clinics row without a payer says."""

    @model_validator(mode="after")
    def _history(self) -> Clinic:
        if not self.enrollments:
            object.__setattr__(
                self, "enrollments", enrollment_history(self.program, self.program_enrollment_date)
            )
        if not self.apc_tracks:
            own = PayerTrack(payer_id=None, track=self.apc_payment_track)
            object.__setattr__(self, "apc_tracks", (own,))
        return self

    def apc_track_on(self, payer: str, day: date) -> ApcPaymentTrack:
        """The practice's APC track with `payer` (a resolved id) on `day`: the payer's own track in force
        then, else the practice's own track in force then, else none."""
        found = self._track_of(payer, day) or self._track_of(None, day)
        return found or ApcPaymentTrack.NONE

    def in_apc_on(self, day: date) -> bool:
        """True when the practice is on an APC track with some payer (its own track included) on `day`."""
        payers = {t.payer_id for t in self.apc_tracks}
        return any(self._track_of(p, day) not in (None, ApcPaymentTrack.NONE) for p in payers)

    def _track_of(self, payer: str | None, day: date) -> ApcPaymentTrack | None:
        stretches = [t for t in self.apc_tracks if t.payer_id == payer and t.start <= day]
        return max(stretches, key=lambda t: t.start).track if stretches else None

    def enrollment_on(self, day: date) -> ProgramEnrollment | None:
        """The enrollment in force on `day`, if any."""
        return next((e for e in reversed(self.enrollments) if e.covers(day)), None)

    def in_care_gap_on(self, day: date) -> bool:
        """True when the clinic takes part in Care Gap P4P on `day`."""
        current = self.enrollment_on(day)
        return current is not None and current.program == CARE_GAP_PROGRAM

    def care_gap_start(self, year: int) -> date | None:
        """The first day the clinic was in Care Gap P4P up to the end of `year` and still in it during
        `year` (an earlier year's date for a clinic enrolled before), or None."""
        stretches = [e for e in self.enrollments if e.program == CARE_GAP_PROGRAM and e.overlaps_year(year)]
        return min((e.start for e in stretches), default=None)

    def in_benchmark_for(self, year: int) -> bool:
        """True when Benchmark P4P pays the clinic for `year`: enrolled in it during the year, and never in
        Care Gap during it (joining Care Gap opts a clinic out of Benchmark for the rest of the year; the
        guarantee prorates its Benchmark bonus instead)."""
        benchmark = any(e.program == BENCHMARK_PROGRAM and e.overlaps_year(year) for e in self.enrollments)
        return benchmark and self.care_gap_start(year) is None


class ProviderAffiliation(BaseModel):
    """A rendering provider's affiliation with a practice, from a providers file: from `effective_date` to
    `termination_date` (both inclusive; open if None), whether the provider is primary care there, and the
    payer whose roster it is (None: the deploying plan)."""

    model_config = ConfigDict(frozen=True)

    npi: str
    practice_id: str
    taxonomy_code: str | None = None
    specialty: str | None = None
    primary_care: bool
    effective_date: date
    termination_date: date | None = None
    payer_id: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ProviderAffiliation:
        if self.termination_date is not None and self.termination_date < self.effective_date:
            raise ValueError("termination before effective date")
        return self

    def active_on(self, day: date) -> bool:
        """True when the affiliation holds on `day`."""
        return self.effective_date <= day and (self.termination_date is None or day <= self.termination_date)


def affiliations_on(affiliations: Iterable[ProviderAffiliation], day: date) -> dict[str, ProviderAffiliation]:
    """Each provider's affiliation in force on `day`, by NPI, in NPI order; of two at once, the one that
    took effect last (then the higher practice id), as a roster's later span wins."""
    active = sorted(
        (a for a in affiliations if a.active_on(day)), key=lambda a: (a.effective_date, a.practice_id)
    )
    return dict(sorted({a.npi: a for a in active}.items()))


class EligibilitySpan(BaseModel):
    """One roster span: a line of business and an assigned clinic between two dates (end open if None),
    with the member's product and the payer the span is with (None: the deploying plan)."""

    model_config = ConfigDict(frozen=True)

    member_id: str
    start: date
    end: date | None = None
    line_of_business: LineOfBusiness
    clinic_id: str
    product: str | None = None
    """The member's product with the payer (`commercial_hmo`, `medi_cal`…); None if the roster gives none."""
    payer_id: str | None = None
    """The payer the span is with; None: the deploying plan (`payer`)."""

    def payer(self, plan_payer: str) -> str:
        """The span's payer, `plan_payer` (the deploying plan's id) when the roster named none."""
        return self.payer_id or plan_payer

    @model_validator(mode="after")
    def _ordered(self) -> EligibilitySpan:
        if self.end is not None and self.end < self.start:
            raise ValueError("span end before start")
        return self

    def covers(self, day: date) -> bool:
        """True when `day` falls inside the span (both ends inclusive)."""
        return self.start <= day and (self.end is None or day <= self.end)


class MemberProfile(BaseModel):
    """What the engine keeps about a member: demographics for eligibility and the current clinic, product
    and payer (those of the span that started last; the payer None for the deploying plan)."""

    model_config = ConfigDict(frozen=True)

    member_id: str
    birth_date: date
    gender: Sex
    clinic_id: str
    product: str | None = None
    payer_id: str | None = None


class MonthCoverage(BaseModel):
    """A member-month as one roster span gives it: the clinic, line of business, product and payer (the
    deploying plan's id where the roster named none)."""

    model_config = ConfigDict(frozen=True)

    member_id: str
    month: str
    clinic_id: str
    line_of_business: LineOfBusiness
    product: str | None
    payer_id: str


class MemberFacts(BaseModel):
    """Everything the gap state holds about one member: profile, roster spans and evidence."""

    model_config = ConfigDict(frozen=True)

    profile: MemberProfile
    spans: tuple[EligibilitySpan, ...] = ()
    evidence: tuple[Evidence, ...] = ()
