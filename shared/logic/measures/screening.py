"""Cancer screenings: breast (CMS125 BCS-E), cervical (CMS124 CCS-E), colorectal (CMS130 COL-E)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from shared.logic.measures.common import (
    Ctx,
    ends_by,
    ends_within,
    has_hospice,
    has_palliative_care,
    is_66_plus_in_nursing_home,
    is_66_plus_with_advanced_illness_and_frailty,
    observation_value,
    prevalence_starts_by,
    to_interval,
)
from shared.logic.measures.definitions import COMMON, load_definition
from shared.logic.measures.fhir import Interval, PatientRecord, Resource, day_interval
from shared.logic.measures.result import PopulationResult, context, proportion
from shared.logic.measures.valuesets import ValueSetIndex

Patient = PatientRecord | Iterable[Resource]
Period = Interval | tuple[date, date]


def encounter_specs(definition: dict[str, Any]) -> list[str]:
    """The qualifying encounter value sets a definition names."""
    return [COMMON["valuesets"][name] for name in definition["qualifying_encounters"]]


def in_age_band(ctx: Ctx, definition: dict[str, Any]) -> bool:
    """Age at the end of the period within the definition's band (and gender, when it names one)."""
    low, high = definition["age_at_end"]
    age = ctx.age_at_end()
    if age is None or not low <= age <= high:
        return False
    return "gender" not in definition or ctx.record.gender == definition["gender"]


def initial_population(ctx: Ctx, definition: dict[str, Any]) -> bool:
    return in_age_band(ctx, definition) and ctx.has_qualifying_encounter(encounter_specs(definition))


def common_exclusions(ctx: Ctx) -> bool:
    """Hospice, 66+ frailty with advanced illness, 66+ in a nursing home, palliative care."""
    return (
        has_hospice(ctx)
        or is_66_plus_with_advanced_illness_and_frailty(ctx)
        or is_66_plus_in_nursing_home(ctx)
        or has_palliative_care(ctx)
    )


# ---- BCS ---------------------------------------------------------------------------------------------
BCS = load_definition("BreastCancerScreeningFHIR")


def _mastectomy(ctx: Ctx, side: str) -> bool:
    vs = BCS["valuesets"]
    status_post = vs[f"status_post_{side}_mastectomy"]
    for condition in ctx.conditions(status_post, vs["unilateral_mastectomy_unspecified"]):
        lateral = ctx.matches(condition.get("code"), [status_post]) or ctx.matches(
            condition.get("bodySite"), [BCS[side]]
        )
        if lateral and prevalence_starts_by(condition, ctx.end):
            return True
    return any(ends_by(p, "performed", ctx.end) for p in ctx.procedures(vs[f"unilateral_mastectomy_{side}"]))


def _bilateral_mastectomy(ctx: Ctx) -> bool:
    vs = BCS["valuesets"]
    if any(prevalence_starts_by(c, ctx.end) for c in ctx.conditions(vs["history_bilateral_mastectomy"])):
        return True
    if any(ends_by(p, "performed", ctx.end) for p in ctx.procedures(vs["bilateral_mastectomy"])):
        return True
    return _mastectomy(ctx, "right") and _mastectomy(ctx, "left")


def evaluate_bcs(patient_resources: Patient, period: Period, valuesets: ValueSetIndex) -> PopulationResult:
    """CMS125 Breast Cancer Screening for one patient."""
    ctx = context(patient_resources, period, valuesets)
    start = BCS["numerator_window_start"]
    window = day_interval(date(ctx.start.year - start["years_before"], start["month"], start["day"]), ctx.end)

    def numerator() -> bool:
        return any(
            ends_within(o, "effective", window) for o in ctx.observations(BCS["valuesets"]["mammography"])
        )

    group = proportion(
        initial_population(ctx, BCS),
        lambda: common_exclusions(ctx) or _bilateral_mastectomy(ctx),
        numerator,
    )
    return PopulationResult((group,))


# ---- CCS ---------------------------------------------------------------------------------------------
CCS = load_definition("CervicalCancerScreeningFHIR")


def _screened(ctx: Ctx, valueset: str, rule: dict[str, Any]) -> bool:
    window = ctx.years_before(rule["years_before"])
    for obs in ctx.observations(valueset):
        found = to_interval(obs, "effective")
        if found is None or found.end is None or observation_value(obs) is None:
            continue
        age = ctx.age_at(found.start_day() if found.start else found.end.date())
        if ends_within(obs, "effective", window) and age is not None and age >= rule["min_age_at_test"]:
            return True
    return False


def evaluate_ccs(patient_resources: Patient, period: Period, valuesets: ValueSetIndex) -> PopulationResult:
    """CMS124 Cervical Cancer Screening for one patient."""
    ctx = context(patient_resources, period, valuesets)
    vs = CCS["valuesets"]

    def exclusion() -> bool:
        if has_hospice(ctx) or has_palliative_care(ctx):
            return True
        if any(
            ends_by(p, "performed", ctx.end) for p in ctx.procedures(vs["hysterectomy_no_residual_cervix"])
        ):
            return True
        return any(prevalence_starts_by(c, ctx.end) for c in ctx.conditions(vs["absence_of_cervix"]))

    def numerator() -> bool:
        return _screened(ctx, vs["pap_test"], CCS["cytology"]) or _screened(ctx, vs["hpv_test"], CCS["hpv"])

    return PopulationResult((proportion(initial_population(ctx, CCS), exclusion, numerator),))


# ---- COL ---------------------------------------------------------------------------------------------
COL = load_definition("ColonCancerScreeningFHIR")


def evaluate_col(patient_resources: Patient, period: Period, valuesets: ValueSetIndex) -> PopulationResult:
    """CMS130 Colorectal Cancer Screening for one patient."""
    ctx = context(patient_resources, period, valuesets)
    vs = COL["valuesets"]

    def exclusion() -> bool:
        if common_exclusions(ctx):
            return True
        if any(prevalence_starts_by(c, ctx.end) for c in ctx.conditions(vs["malignant_neoplasm_colon"])):
            return True
        return any(ends_by(p, "performed", ctx.end) for p in ctx.procedures(vs["total_colectomy"]))

    def numerator() -> bool:
        for rule in COL["screenings"]:
            window = ctx.years_before(rule["years_before"])
            if rule["kind"] == "procedure":
                if any(ends_within(p, "performed", window) for p in ctx.procedures(vs[rule["valueset"]])):
                    return True
                continue
            for obs in ctx.observations(vs[rule["valueset"]]):
                if rule["needs_value"] and observation_value(obs) is None:
                    continue
                if ends_within(obs, "effective", window):
                    return True
        return False

    return PopulationResult((proportion(initial_population(ctx, COL), exclusion, numerator),))
