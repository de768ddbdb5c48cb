"""NCQA's Depression Remission or Response for Adolescents and Adults (DRR-E): an elevated depression
score with a depression diagnosis in the intake period, then a follow-up score, remission and response in
the follow-up window, as three components."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from shared.logic.measures.common import has_hospice
from shared.logic.measures.context import (
    Ctx,
    Window,
    add_months,
    prevalence_starts_by,
    prevalence_starts_within,
    span,
)
from shared.logic.measures.outcome import MeasureOutcome, proportion
from shared.logic.measures.pod import window_day
from shared.programs.measures import DepressionRemission


def scores(ctx: Ctx, d: DepressionRemission) -> list[tuple[date, Fraction]]:
    """The member's numeric scores (PHQ-9 totals) by the day they were taken, in day order."""
    found = []
    for obs in ctx.observations(*d.scores):
        when = span(obs)
        if when is None or when.first is None or obs.value is None:
            continue
        try:
            found.append((when.first, Fraction(obs.value.strip())))
        except ValueError:
            continue
    return sorted(found)


def evaluate(ctx: Ctx, d: DepressionRemission, year: int) -> MeasureOutcome:
    """DRR-E for one member: the first score above `elevated_above` in the intake period (the index
    episode) with a depression diagnosis in the lookback before it, the member in the age band on its
    day; excluded for hospice or an exclusion diagnosis by the period's end. In the follow-up window
    (months after the index day): `follow_up` any score, `remission` the last score below
    `remission_below`, `response` the last score at least `response_reduction_percent` below the index
    score; the group is `follow_up`."""
    found = scores(ctx, d)
    intake = Window(window_day(year, d.intake_start), window_day(year, d.intake_end))
    elevated = Fraction(str(d.elevated_above))
    index = next(((day, s) for day, s in found if intake.holds(day) and s > elevated), None)
    ip = False
    if index is not None:
        lookback = Window(index[0].fromordinal(index[0].toordinal() - d.diagnosis_lookback_days), index[0])
        aged = d.age is None or d.age.holds(ctx.age_at(index[0]))
        diagnosed = any(
            prevalence_starts_within(c, lookback) for c in ctx.conditions(*d.depression_diagnoses)
        )
        ip = aged and diagnosed
    follow: list[tuple[date, Fraction]] = []
    if ip and index is not None:
        first, last = d.follow_up_months
        window = Window(add_months(index[0], first), add_months(index[0], last))
        follow = [(day, s) for day, s in found if window.holds(day)]

    excluded = ip and (
        has_hospice(ctx)
        or any(prevalence_starts_by(c, ctx.last) for c in ctx.conditions(*d.exclusion_diagnoses))
    )
    remission_below = Fraction(str(d.remission_below))
    keep = 1 - Fraction(str(d.response_reduction_percent)) / 100
    parts = {
        "follow_up": proportion(ip, lambda: excluded, lambda: bool(follow)),
        "remission": proportion(
            ip, lambda: excluded, lambda: bool(follow) and follow[-1][1] < remission_below
        ),
        "response": proportion(
            ip,
            lambda: excluded,
            lambda: bool(follow) and index is not None and follow[-1][1] <= index[1] * keep,
        ),
    }
    return MeasureOutcome(d.name, year, (parts["follow_up"],), parts)
