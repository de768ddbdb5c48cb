"""Diabetes measures: glycemic status > 9% (CMS122 GSD), eye exam (CMS131 EED), kidney health (CMS951 KED)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from shared.logic.measures.common import (
    Ctx,
    ends_within,
    has_hospice,
    has_palliative_care,
    observation_value,
    prevalence_overlaps,
    quantity_value,
    to_interval,
    within,
)
from shared.logic.measures.definitions import COMMON, load_definition
from shared.logic.measures.fhir import Interval, PatientRecord, Resource
from shared.logic.measures.result import PopulationResult, context, proportion
from shared.logic.measures.screening import common_exclusions, in_age_band
from shared.logic.measures.valuesets import ValueSetIndex

Patient = PatientRecord | Iterable[Resource]
Period = Interval | tuple[date, date]

GSD = load_definition("DiabetesGlycemicStatusAssessmentGreaterThan9PercentFHIR")
EED = load_definition("DiabetesEyeExamFHIR")
KED = load_definition("KidneyHealthEvaluationFHIR")


def has_diabetes(ctx: Ctx) -> bool:
    """A diabetes diagnosis overlapping the measurement period."""
    return any(prevalence_overlaps(c, ctx.period) for c in ctx.conditions(COMMON["valuesets"]["diabetes"]))


def _specs(definition: dict[str, Any]) -> list[str]:
    specs = []
    for name in definition["qualifying_encounters"]:
        specs.append(COMMON["valuesets"].get(name) or definition["valuesets"][name])
    return specs


def diabetic_initial_population(ctx: Ctx, definition: dict[str, Any]) -> bool:
    """Age band at period end, diabetes, and a qualifying encounter."""
    return (
        in_age_band(ctx, definition)
        and has_diabetes(ctx)
        and ctx.has_qualifying_encounter(_specs(definition))
    )


def evaluate_gsd(patient_resources: Patient, period: Period, valuesets: ValueSetIndex) -> PopulationResult:
    """CMS122: the most recent HbA1c/GMI in the period is > 9 %, has no numeric result, or is absent."""
    ctx = context(patient_resources, period, valuesets)

    def numerator() -> bool:
        assessments = ctx.observations(
            GSD["valuesets"]["hba1c_laboratory_test"], GSD["glucose_management_indicator"]
        )
        dated = []
        for obs in assessments:
            found = to_interval(obs, "effective")
            if found is not None and found.end is not None and ends_within(obs, "effective", ctx.period):
                dated.append((found.end, obs))
        if not dated:
            return True
        latest = max(dated, key=lambda pair: pair[0])[1]
        value = quantity_value(latest)
        return value is None or value > GSD["glycemic_status_above"]

    ip = diabetic_initial_population(ctx, GSD)
    return PopulationResult((proportion(ip, lambda: common_exclusions(ctx), numerator),))


def evaluate_eed(patient_resources: Patient, period: Period, valuesets: ValueSetIndex) -> PopulationResult:
    """CMS131: a retinal exam in the period, or in the year prior when there is no retinopathy."""
    ctx = context(patient_resources, period, valuesets)
    vs = EED["valuesets"]

    def numerator() -> bool:
        exams = ctx.observations(vs["retinal_or_dilated_eye_exam"])
        if any(ends_within(o, "effective", ctx.period) for o in exams):
            return True
        retinopathy = any(
            prevalence_overlaps(c, ctx.period) for c in ctx.conditions(vs["diabetic_retinopathy"])
        )
        window = ctx.years_before(EED["exam_lookback_years_without_retinopathy"])
        return not retinopathy and any(ends_within(o, "effective", window) for o in exams)

    ip = diabetic_initial_population(ctx, EED)
    return PopulationResult((proportion(ip, lambda: common_exclusions(ctx), numerator),))


def evaluate_ked(patient_resources: Patient, period: Period, valuesets: ValueSetIndex) -> PopulationResult:
    """CMS951: both an eGFR and a uACR with results in the period."""
    ctx = context(patient_resources, period, valuesets)
    vs = KED["valuesets"]

    def exclusion() -> bool:
        kidney = ctx.conditions(COMMON["valuesets"]["esrd"], COMMON["valuesets"]["ckd_stage_5"])
        if any(prevalence_overlaps(c, ctx.period) for c in kidney):
            return True
        return has_hospice(ctx) or has_palliative_care(ctx)

    def resulted(valueset: str) -> bool:
        return any(
            observation_value(o) is not None and within(o, "effective", ctx.period)
            for o in ctx.observations(valueset)
        )

    ip = diabetic_initial_population(ctx, KED)
    return PopulationResult(
        (proportion(ip, exclusion, lambda: resulted(vs["egfr"]) and resulted(vs["uacr"])),)
    )
