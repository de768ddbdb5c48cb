"""Clinics, member profiles and eligibility spans from accepted intake rows."""

from __future__ import annotations

from datetime import date

import polars as pl

from shared.logic.dates import optional_date, required_date
from shared.models.actions import LineOfBusiness, Sex, Track
from shared.models.members import Clinic, EligibilitySpan, MemberProfile


def clinics_from_rows(frame: pl.DataFrame) -> list[Clinic]:
    """One `Clinic` per accepted row of a clinics file."""
    clinics = []
    for row in frame.iter_rows(named=True):
        lobs = tuple(LineOfBusiness(v) for v in str(row["lines_of_business"]).split("|") if v)
        clinics.append(
            Clinic(
                clinic_id=str(row["clinic_id"]),
                tin=str(row["tin"]),
                npi=str(row["npi"]),
                clinic_name=str(row["clinic_name"]),
                lines_of_business=lobs,
                program=str(row["program"]),
                program_enrollment_date=required_date(row["program_enrollment_date"]),
                track=Track(row["track"]),
            )
        )
    return clinics


def roster_from_rows(frame: pl.DataFrame) -> tuple[list[MemberProfile], list[EligibilitySpan]]:
    """Profiles (current clinic = the span that started last in the file) and spans of a roster."""
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
            )
        )
        demographics[member_id] = (required_date(row["birth_date"]), Sex(row["gender"]))
    latest: dict[str, EligibilitySpan] = {}
    for span in spans:
        current = latest.get(span.member_id)
        if current is None or (span.start, span.clinic_id) > (current.start, current.clinic_id):
            latest[span.member_id] = span
    profiles = [
        MemberProfile(member_id=m, birth_date=birth, gender=sex, clinic_id=latest[m].clinic_id)
        for m, (birth, sex) in demographics.items()
    ]
    return profiles, spans
