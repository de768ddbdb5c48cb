"""NCQA's Pharmacotherapy for Opioid Use Disorder (POD): a new OUD medication treatment event, and whether
treatment lasted its days without a longer gap."""

from __future__ import annotations

from datetime import date, timedelta

from shared.logic.measures.amr import dispensed
from shared.logic.measures.common import has_hospice
from shared.logic.measures.context import Ctx, Window, prevalence_starts_within, span
from shared.logic.measures.outcome import MeasureOutcome, proportion
from shared.programs.measures import OpioidPharmacotherapy, WindowStart


def window_day(year: int, start: WindowStart) -> date:
    """The day a window bound names for the measurement year (`years_before` it, its month and day)."""
    return date(year - start.years_before, start.month, start.day)


def treatment(ctx: Ctx, d: OpioidPharmacotherapy) -> list[tuple[date, date]]:
    """Each OUD medication's days covered, first to last: a fill its days' supply (at least its day), an
    administration (a claim line or procedure) its medication's `administration_days`."""
    covered = []
    for medication in d.medications:
        for fill in dispensed(ctx, medication.codes):
            supply = (fill.end - fill.day).days if fill.end is not None else 0
            covered.append((fill.day, fill.day + timedelta(days=max(supply, 1) - 1)))
        for given in ctx.procedures(*medication.codes):
            found = span(given)
            if found is not None and found.first is not None:
                last = found.first + timedelta(days=medication.administration_days - 1)
                covered.append((found.first, last))
    return sorted(covered)


def episode_start(covered: list[tuple[date, date]], intake: Window, history_days: int) -> date | None:
    """The first treatment day in the intake period with no treatment in the `history_days` before it."""
    for first, _ in covered:
        if not intake.holds(first):
            continue
        before = Window(first - timedelta(days=history_days), first - timedelta(days=1))
        if not any(
            a <= before.last and b >= before.first for a, b in covered if before.first and before.last
        ):
            return first
    return None


def continuous_through(covered: list[tuple[date, date]], start: date, gap_days: int) -> date:
    """The last day treatment runs from `start` without a gap longer than `gap_days` days."""
    reached = start - timedelta(days=1)
    for first, last in covered:
        if last < start:
            continue
        if first > reached + timedelta(days=gap_days + 1):
            break
        reached = max(reached, last)
    return reached


def evaluate(ctx: Ctx, d: OpioidPharmacotherapy, year: int) -> MeasureOutcome:
    """POD for one member: a new treatment event in the intake period, the member in the age band on its
    day and with an OUD diagnosis in the lookback before it; excluded for hospice; met when treatment runs
    `treatment_days` from it without a gap over `allowed_gap_days`."""
    covered = treatment(ctx, d)
    intake = Window(window_day(year, d.intake_start), window_day(year, d.intake_end))
    start = episode_start(covered, intake, d.negative_history_days)
    ip = False
    if start is not None:
        lookback = Window(start - timedelta(days=d.diagnosis_lookback_days), start)
        aged = d.age is None or d.age.holds(ctx.age_at(start))
        diagnosed = any(prevalence_starts_within(c, lookback) for c in ctx.conditions(*d.oud_diagnoses))
        ip = aged and diagnosed

    def numerator() -> bool:
        assert start is not None
        needed = start + timedelta(days=d.treatment_days - 1)
        return continuous_through(covered, start, d.allowed_gap_days) >= needed

    return MeasureOutcome(d.name, year, (proportion(ip, lambda: has_hospice(ctx), numerator),))
