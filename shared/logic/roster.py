"""Clinics, providers, member profiles and eligibility spans from accepted intake rows."""

from __future__ import annotations

from datetime import date

import polars as pl

from shared.logic.clinics import ClinicRow, merge_clinic_rows
from shared.logic.dates import month_end, optional_date, required_date
from shared.models.actions import LineOfBusiness, Sex, Track
from shared.models.files import Coverage
from shared.models.members import (
    HISTORY_START,
    ApcPaymentTrack,
    Clinic,
    EligibilitySpan,
    MemberProfile,
    PayerTrack,
    PracticeType,
    ProviderAffiliation,
)


def clinic_rows(frame: pl.DataFrame) -> list[ClinicRow]:
    """Each accepted row of a clinics file, in file order: the practice it describes and the APC track it
    puts the practice on, with the row's payer (None: the practice's own track)."""
    found = []
    for row in frame.iter_rows(named=True):
        lobs = tuple(LineOfBusiness(v) for v in str(row["lines_of_business"]).split("|") if v)
        payer = _optional(row.get("payer_id"))
        track = PayerTrack(
            payer_id=payer,
            track=ApcPaymentTrack(row["apc_payment_track"]),
            start=optional_date(row.get("apc_track_start_date")) or HISTORY_START,
        )
        clinic = Clinic(
            clinic_id=str(row["clinic_id"]),
            tin=str(row["tin"]),
            npi=str(row["npi"]),
            clinic_name=str(row["clinic_name"]),
            lines_of_business=lobs,
            program=str(row["program"]),
            program_enrollment_date=required_date(row["program_enrollment_date"]),
            track=Track(row["track"]),
            practice_type=PracticeType(row["practice_type"]),
            # A payer's row speaks for that payer's track only: the practice's own track is not the row's.
            apc_payment_track=track.track if payer is None else ApcPaymentTrack.NONE,
            hpi_decile=int(row["hpi_decile"]) if row.get("hpi_decile") not in (None, "") else None,
            apc_tracks=(track,),
        )
        found.append(ClinicRow(clinic=clinic, track=track))
    return found


def clinics_from_rows(frame: pl.DataFrame) -> list[Clinic]:
    """One `Clinic` per clinic of a clinics file, its rows for every payer applied (`merge_clinic_rows`)."""
    return merge_clinic_rows({}, clinic_rows(frame))


def _optional(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def providers_from_rows(frame: pl.DataFrame) -> list[ProviderAffiliation]:
    """One affiliation per accepted row of a providers file."""
    return [
        ProviderAffiliation(
            npi=str(row["npi"]),
            practice_id=str(row["practice_id"]),
            taxonomy_code=_optional(row.get("taxonomy_code")),
            specialty=_optional(row.get("specialty")),
            primary_care=row["primary_care"] == "true",
            effective_date=required_date(row["effective_date"]),
            termination_date=optional_date(row.get("termination_date")),
            payer_id=_optional(row.get("payer_id")),
        )
        for row in frame.iter_rows(named=True)
    ]


def roster_from_rows(frame: pl.DataFrame) -> tuple[list[MemberProfile], list[EligibilitySpan]]:
    """Profiles (current clinic, product and payer = the span that started last in the file) and spans of
    a roster; a missing product or payer stays None (the payer then is the deploying plan)."""
    spans: list[EligibilitySpan] = []
    demographics: dict[str, tuple[date, Sex]] = {}
    for row in frame.iter_rows(named=True):
        member_id = str(row["member_id"])
        spans.append(
            EligibilitySpan(
                member_id=member_id,
                start=required_date(row["enrollment_start_date"]),
                end=optional_date(row.get("enrollment_end_date")),
                line_of_business=LineOfBusiness(row["line_of_business"]),
                clinic_id=str(row["assigned_clinic_id"]),
                product=_optional(row.get("product")),
                payer_id=_optional(row.get("payer_id")),
            )
        )
        demographics[member_id] = (required_date(row["birth_date"]), Sex(row["gender"]))
    latest: dict[str, EligibilitySpan] = {}
    for span in spans:
        current = latest.get(span.member_id)
        if current is None or (span.start, span.clinic_id) > (current.start, current.clinic_id):
            latest[span.member_id] = span
    profiles = [
        MemberProfile(
            member_id=m,
            birth_date=birth,
            gender=sex,
            clinic_id=latest[m].clinic_id,
            product=latest[m].product,
            payer_id=latest[m].payer_id,
        )
        for m, (birth, sex) in demographics.items()
    ]
    return profiles, spans


def _dates(column: pl.Series) -> pl.Series:
    return column if column.dtype == pl.Date else column.cast(pl.String).str.to_date("%Y-%m-%d")


def roster_coverage(rows: pl.DataFrame, received: date) -> Coverage | None:
    """The days an accepted roster speaks for (`Coverage`): from its earliest enrollment start to its
    latest end, where an open span, or an end after it, stops at the end of the month the roster was
    received in. None when the roster has no row, or starts after that month."""
    bounds = coverage_bounds(rows, received)
    return coverage_of([bounds] if bounds else [], received)


def coverage_bounds(rows: pl.DataFrame, received: date) -> tuple[date, date] | None:
    """A part of a roster's earliest enrollment start and latest end (open or later ends stop at the end
    of the month it was received in); None when it has no row. The parts of one file combine in
    `coverage_of` to the file's coverage."""
    if rows.is_empty():
        return None
    horizon = month_end(received.strftime("%Y-%m"))
    starts = _dates(rows["enrollment_start_date"])
    ends = _dates(rows["enrollment_end_date"]).fill_null(horizon).clip(upper_bound=horizon)
    first, last = starts.min(), ends.max()
    assert isinstance(first, date) and isinstance(last, date)
    return first, last


def coverage_of(bounds: list[tuple[date, date]], received: date) -> Coverage | None:
    """A roster's coverage from its parts' bounds (`coverage_bounds`)."""
    if not bounds:
        return None
    first, last = min(b[0] for b in bounds), max(b[1] for b in bounds)
    if first > month_end(received.strftime("%Y-%m")):
        return None
    return Coverage(first_day=first, last_day=max(first, last))
