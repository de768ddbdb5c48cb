"""CMS165 Controlling High Blood Pressure (CBP)."""

from __future__ import annotations

from datetime import date, timedelta

from shared.logic.measures.common import (
    has_advanced_illness_or_dementia_meds,
    has_frailty,
    has_hospice,
    has_palliative_care,
    is_66_plus_in_nursing_home,
)
from shared.logic.measures.context import (
    Ctx,
    Window,
    add_months,
    during,
    prevalence_overlaps,
    prevalence_starts_by,
    span,
    starts_by,
)
from shared.logic.measures.outcome import MeasureOutcome, proportion
from shared.logic.measures.records import Record
from shared.logic.measures.screening import initial_population
from shared.programs.measures import ControllingBloodPressure


def has_hypertension_early(ctx: Ctx, d: ControllingBloodPressure) -> bool:
    """Essential hypertension starting before, or in the first six months of, the period."""
    first = Window(ctx.first, add_months(ctx.first, d.hypertension_window_months) - timedelta(days=1))
    return any(prevalence_overlaps(c, first) for c in ctx.conditions(d.oid("essential_hypertension")))


def has_kidney_failure(ctx: Ctx, d: ControllingBloodPressure) -> bool:
    """ESRD, CKD stage 5, kidney transplant or dialysis before the end of the period."""
    diagnoses = ctx.conditions(
        ctx.common_oid("esrd"), ctx.common_oid("ckd_stage_5"), d.oid("kidney_transplant_recipient")
    )
    if any(prevalence_starts_by(c, ctx.last) for c in diagnoses):
        return True
    procedures = ctx.procedures(d.oid("kidney_transplant"), d.oid("dialysis_services"))
    if any(starts_by(p, ctx.last) for p in procedures):
        return True
    return any(starts_by(e, ctx.last) for e in ctx.encounters(d.oid("esrd_monthly_outpatient")))


def exclusion(ctx: Ctx, d: ControllingBloodPressure) -> bool:
    """CBP's denominator exclusions."""
    if has_hospice(ctx) or has_palliative_care(ctx) or is_66_plus_in_nursing_home(ctx):
        return True
    if has_kidney_failure(ctx, d):
        return True
    if any(prevalence_overlaps(c, ctx.period) for c in ctx.conditions(d.oid("pregnancy"))):
        return True
    age = ctx.age_at_end()
    if age is None or age < d.frailty_with_advanced_illness.min or not has_frailty(ctx):
        return False
    if d.frailty_only.holds(age):
        return True
    return has_advanced_illness_or_dementia_meds(ctx)


def _in_acute_setting(ctx: Ctx, d: ControllingBloodPressure, reading: Record) -> bool:
    if reading.encounter_id is None:
        return False
    inpatient = [ctx.common_oid("encounter_inpatient")]
    for encounter in ctx.of("Encounter"):
        if encounter.record_id == reading.encounter_id:
            return encounter.setting in d.blood_pressure.excluded_encounter_classes or ctx.matches(
                encounter.codes, inpatient
            )
    return False


def numerator(ctx: Ctx, d: ControllingBloodPressure) -> bool:
    """The most recent day's lowest systolic and diastolic readings are below 140 / 90."""
    rules = d.blood_pressure
    by_day: dict[date, list[Record]] = {}
    for reading in ctx.observations(rules.systolic, rules.diastolic):
        found = span(reading)
        if found is None or not during(reading, ctx.period) or reading.quantity is None:
            continue
        if _in_acute_setting(ctx, d, reading):
            continue
        by_day.setdefault(found.last or reading.day, []).append(reading)
    if not by_day:
        return False
    readings = by_day[max(by_day)]
    systolic = [
        r.quantity for r in readings if ctx.matches(r.codes, [rules.systolic]) and r.quantity is not None
    ]
    diastolic = [
        r.quantity for r in readings if ctx.matches(r.codes, [rules.diastolic]) and r.quantity is not None
    ]
    return (
        bool(systolic and diastolic)
        and min(systolic) < rules.systolic_below
        and min(diastolic) < rules.diastolic_below
    )


def evaluate(ctx: Ctx, d: ControllingBloodPressure, year: int) -> MeasureOutcome:
    """CMS165 Controlling High Blood Pressure for one member."""
    ip = initial_population(ctx, d) and has_hypertension_early(ctx, d)
    return MeasureOutcome(
        d.name, year, (proportion(ip, lambda: exclusion(ctx, d), lambda: numerator(ctx, d)),)
    )
