"""CMS165 Controlling High Blood Pressure (CBP)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from shared.logic.measures.common import (
    Ctx,
    add_months,
    has_advanced_illness_or_dementia_meds,
    has_frailty,
    has_hospice,
    has_palliative_care,
    is_66_plus_in_nursing_home,
    prevalence,
    prevalence_overlaps,
    prevalence_starts_by,
    starts_by,
    to_interval,
)
from shared.logic.measures.definitions import COMMON, load_definition
from shared.logic.measures.fhir import Interval, PatientRecord, Resource, day_interval, has_code
from shared.logic.measures.result import PopulationResult, context, proportion
from shared.logic.measures.screening import initial_population
from shared.logic.measures.valuesets import ValueSetIndex

CBP = load_definition("ControllingHighBloodPressureFHIR")
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def has_hypertension_early(ctx: Ctx) -> bool:
    """Essential hypertension starting before, or in the first six months of, the period."""
    months = CBP["hypertension_window_months"]
    first = day_interval(ctx.start, add_months(ctx.start, months) - timedelta(days=1))
    for condition in ctx.conditions(CBP["valuesets"]["essential_hypertension"]):
        found = prevalence(condition)
        if found is not None and found.overlaps_days(first):
            return True
    return False


def has_kidney_failure(ctx: Ctx) -> bool:
    """ESRD, CKD stage 5, kidney transplant or dialysis before the end of the period."""
    vs = CBP["valuesets"]
    shared = COMMON["valuesets"]
    diagnoses = ctx.conditions(shared["esrd"], shared["ckd_stage_5"], vs["kidney_transplant_recipient"])
    if any(prevalence_starts_by(c, ctx.end) for c in diagnoses):
        return True
    procedures = ctx.procedures(vs["kidney_transplant"], vs["dialysis_services"])
    if any(starts_by(p, "performed", ctx.end) for p in procedures):
        return True
    return any(starts_by(e, "period", ctx.end) for e in ctx.encounters(vs["esrd_monthly_outpatient"]))


def exclusion(ctx: Ctx) -> bool:
    """CBP's denominator exclusions."""
    if has_hospice(ctx) or has_palliative_care(ctx) or is_66_plus_in_nursing_home(ctx):
        return True
    if has_kidney_failure(ctx):
        return True
    if any(prevalence_overlaps(c, ctx.period) for c in ctx.conditions(CBP["valuesets"]["pregnancy"])):
        return True
    age = ctx.age_at_end()
    if age is None or age < CBP["frailty_with_advanced_illness_ages"][0] or not has_frailty(ctx):
        return False
    if age >= CBP["frailty_only_from_age"]:
        return True
    return has_advanced_illness_or_dementia_meds(ctx)


def _component(observation: Resource, spec: str) -> float | None:
    system, code = spec.split("|", 1)
    for component in observation.get("component", []):
        quantity = component.get("valueQuantity", {})
        if has_code(component.get("code"), system, code) and isinstance(quantity.get("value"), int | float):
            return float(quantity["value"])
    return None


def _in_acute_setting(ctx: Ctx, observation: Resource) -> bool:
    encounter = ctx.record.resolve(observation.get("encounter"))
    if encounter is None:
        return False
    classes = CBP["blood_pressure"]["excluded_encounter_classes"]
    inpatient = COMMON["valuesets"]["encounter_inpatient"]
    return any(has_code(encounter.get("class"), ACT_CODE, c) for c in classes) or ctx.matches(
        encounter.get("type"), [inpatient]
    )


def numerator(ctx: Ctx) -> bool:
    """The most recent day's lowest systolic and diastolic readings are below 140 / 90."""
    rules = CBP["blood_pressure"]
    by_day: dict[date, list[Resource]] = {}
    for obs in ctx.observations(rules["panel"]):
        found = to_interval(obs, "effective")
        if found is None or not found.during_days(ctx.period) or _in_acute_setting(ctx, obs):
            continue
        if _component(obs, rules["systolic"]) is None and _component(obs, rules["diastolic"]) is None:
            continue
        by_day.setdefault(found.end_day(), []).append(obs)
    if not by_day:
        return False
    readings = by_day[max(by_day)]
    systolic = [v for o in readings if (v := _component(o, rules["systolic"])) is not None]
    diastolic = [v for o in readings if (v := _component(o, rules["diastolic"])) is not None]
    return (
        bool(systolic and diastolic)
        and min(systolic) < rules["systolic_below"]
        and min(diastolic) < rules["diastolic_below"]
    )


def evaluate(
    patient_resources: PatientRecord | Iterable[Resource],
    period: Interval | tuple[date, date],
    valuesets: ValueSetIndex,
) -> PopulationResult:
    """CMS165 Controlling High Blood Pressure for one patient."""
    ctx = context(patient_resources, period, valuesets)
    ip = initial_population(ctx, CBP) and has_hypertension_early(ctx)
    return PopulationResult((proportion(ip, lambda: exclusion(ctx), lambda: numerator(ctx)),))
