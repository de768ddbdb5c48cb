"""Diabetes measures: glycemic status > 9% (CMS122 GSD), eye exam (CMS131 EED), kidney health (CMS951 KED)."""

from __future__ import annotations

from shared.logic.measures.common import common_exclusions, has_hospice, has_palliative_care
from shared.logic.measures.context import Ctx, during, ends_within, prevalence_overlaps, span
from shared.logic.measures.outcome import MeasureOutcome, proportion
from shared.logic.measures.screening import has_visit, in_age_band
from shared.programs.measures import EyeExam, GlycemicStatus, KidneyHealth, MeasureDefinition


def has_diabetes(ctx: Ctx) -> bool:
    """A diabetes diagnosis overlapping the measurement period."""
    return any(prevalence_overlaps(c, ctx.period) for c in ctx.conditions(ctx.common_oid("diabetes")))


def diabetic_initial_population(ctx: Ctx, definition: MeasureDefinition) -> bool:
    """Age band at period end, diabetes, and a qualifying encounter."""
    return in_age_band(ctx, definition) and has_diabetes(ctx) and has_visit(ctx, definition)


def evaluate_gsd(ctx: Ctx, d: GlycemicStatus, year: int) -> MeasureOutcome:
    """CMS122: the most recent HbA1c/GMI in the period is > 9 %, has no numeric result, or is absent. With
    `glycemic_status_below` (NCQA's GSD <8.0%), instead: the most recent has a numeric result below it."""

    def numerator() -> bool:
        dated = []
        for obs in ctx.observations(d.oid("hba1c_laboratory_test"), d.glucose_management_indicator):
            found = span(obs)
            if found is not None and found.last is not None and ends_within(obs, ctx.period):
                dated.append((found.last, obs))
        below = d.glycemic_status_below
        if not dated:
            return below is None
        latest = max(dated, key=lambda pair: pair[0])[1]
        value = latest.quantity
        if below is not None:
            return value is not None and value < below
        return value is None or value > d.glycemic_status_above

    ip = diabetic_initial_population(ctx, d)
    return MeasureOutcome(d.name, year, (proportion(ip, lambda: common_exclusions(ctx), numerator),))


def evaluate_eed(ctx: Ctx, d: EyeExam, year: int) -> MeasureOutcome:
    """CMS131: a retinal exam in the period, or in the year prior when there is no retinopathy."""

    def numerator() -> bool:
        exams = ctx.observations(d.oid("retinal_or_dilated_eye_exam"))
        if any(ends_within(o, ctx.period) for o in exams):
            return True
        retinopathy = any(
            prevalence_overlaps(c, ctx.period) for c in ctx.conditions(d.oid("diabetic_retinopathy"))
        )
        window = ctx.years_before(d.exam_lookback_years_without_retinopathy)
        return not retinopathy and any(ends_within(o, window) for o in exams)

    ip = diabetic_initial_population(ctx, d)
    return MeasureOutcome(d.name, year, (proportion(ip, lambda: common_exclusions(ctx), numerator),))


def evaluate_ked(ctx: Ctx, d: KidneyHealth, year: int) -> MeasureOutcome:
    """CMS951: both an eGFR and a uACR with results in the period."""

    def exclusion() -> bool:
        kidney = ctx.conditions(ctx.common_oid("esrd"), ctx.common_oid("ckd_stage_5"))
        if any(prevalence_overlaps(c, ctx.period) for c in kidney):
            return True
        return has_hospice(ctx) or has_palliative_care(ctx)

    def resulted(valueset: str) -> bool:
        return any(o.has_value and during(o, ctx.period) for o in ctx.observations(valueset))

    ip = diabetic_initial_population(ctx, d)
    group = proportion(ip, exclusion, lambda: resulted(d.oid("egfr")) and resulted(d.oid("uacr")))
    return MeasureOutcome(d.name, year, (group,))
