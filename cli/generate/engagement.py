"""Synthetic technical-assistance engagement (`ta_engagement`), as the TA coaches would report it for each
practice on an APC payment track, from the APC program's own requirements (the activity names it reads).

Onboarding is completed in the fourth quarter before the plan's year; then every ongoing requirement is met
in its months (two coaching sessions a month, work-plan progress, the quarterly webinar, the assessments in
the months the program names) on working days. One practice in three misses one month's second coaching
session (reported `missed`), so TA gating has a month to refuse.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from cli.generate.clinics import Clinic
from cli.generate.rng import Draws
from shared.programs.apc import ApcProgram, TaRequirement, load_apc

ENGAGEMENT_COLUMNS = ("practice_id", "activity", "activity_date", "status", "payer_id")
COMPLETED = "completed"
MISSED = "missed"


def _program(year: int) -> ApcProgram:
    catalog = load_apc()
    return catalog.for_year(year) or catalog.latest()


def _workday(day: date) -> date:
    """The day, or when it falls on a weekend the nearest working day in its month (the Monday after it in
    the first half of the month, the Friday before it in the second)."""
    if day.weekday() < 5:
        return day
    if day.day <= 15:
        return day + timedelta(days=7 - day.weekday())
    return day - timedelta(days=day.weekday() - 4)


def _months(requirement: TaRequirement, year: int) -> list[int]:
    """The months of `year` a requirement asks for activities in: the months it names (by their month in
    the year, so a program written for another year still applies), else every month or every quarter's
    middle month."""
    if requirement.months:
        return sorted({int(m[5:7]) for m in requirement.months})
    return list(range(2, 13, 3)) if requirement.per == "quarter" else list(range(1, 13))


def engagement_frame(clinics: list[Clinic], year: int, draws: Draws) -> pl.DataFrame:
    """Every activity of every APC practice, columns as in docs/file-specs.md, in date order."""
    ta = _program(year).population_health.technical_assistance
    rows: list[tuple[str, str, date, str]] = []
    apc = [c for c in clinics if c.apc_payment_track != "none"]
    days = iter(draws.integers("ta_day", 256 * max(1, len(apc)), 2, 12).to_list())
    for i, clinic in enumerate(apc):
        for k, activity in enumerate(ta.onboarding_activities):
            rows.append((clinic.clinic_id, activity, _workday(date(year - 1, 10, 1 + 3 * k)), COMPLETED))
        missed_month = 1 + (i * 5) % 12 if i % 3 == 2 else None
        for requirement in ta.ongoing:
            for month in _months(requirement, year):
                first = next(days)
                for n in range(requirement.count):
                    # A fortnight apart: the second of a month's two sessions never lands on the first's day.
                    day = _workday(date(year, month, min(28, first + 14 * n)))
                    late = requirement.activity == "coaching_session" and month == missed_month and n == 1
                    rows.append((clinic.clinic_id, requirement.activity, day, MISSED if late else COMPLETED))
    frame = pl.DataFrame(
        rows,
        schema={
            "practice_id": pl.String,
            "activity": pl.String,
            "activity_date": pl.Date,
            "status": pl.String,
        },
        orient="row",
    )
    frame = frame.sort("activity_date", "practice_id", "activity", maintain_order=True)
    return frame.with_columns(payer_id=pl.lit(None, pl.String)).select(ENGAGEMENT_COLUMNS)
