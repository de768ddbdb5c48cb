"""CMS347 Statin Therapy for the Prevention and Treatment of Cardiovascular Disease (SPC): four groups."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from shared.logic.measures.common import (
    Ctx,
    authored_within,
    has_hospice,
    has_palliative_care,
    medication_period,
    prevalence_overlaps,
    prevalence_starts_by,
    quantity_value,
    starts_by,
    to_interval,
    within,
)
from shared.logic.measures.definitions import COMMON, load_definition
from shared.logic.measures.fhir import Interval, PatientRecord, Resource
from shared.logic.measures.result import GroupResult, PopulationResult, context, proportion
from shared.logic.measures.valuesets import ValueSetIndex

SPC = load_definition("StatinTherapyforthePreventionandTreatmentofCardiovascularDiseaseFHIR")
VS: dict[str, Any] = SPC["valuesets"]


def _age_between(ctx: Ctx, band: list[int]) -> bool:
    age = ctx.age_at_start()
    return age is not None and band[0] <= age <= band[1]


def has_ascvd(ctx: Ctx) -> bool:
    """Clinical ASCVD diagnosed, or an ASCVD procedure, before the end of the period."""
    diagnoses = ctx.conditions(*VS["ascvd_diagnoses"], *SPC["ascvd_diagnosis_codes"])
    if any(prevalence_starts_by(c, ctx.end) for c in diagnoses):
        return True
    return any(starts_by(p, "performed", ctx.end) for p in ctx.procedures(*VS["ascvd_procedures"]))


def has_high_ldl_or_familial(ctx: Ctx) -> bool:
    """Any LDL-C >= 190 mg/dL, or familial hypercholesterolemia, before the end of the period."""
    for obs in ctx.observations(VS["ldl_cholesterol"]):
        value = quantity_value(obs)
        if value is not None and value >= SPC["ldl_at_least_mg_dl"] and starts_by(obs, "effective", ctx.end):
            return True
    return any(prevalence_starts_by(c, ctx.end) for c in ctx.conditions(VS["familial_hypercholesterolemia"]))


def has_diabetes(ctx: Ctx) -> bool:
    return any(prevalence_overlaps(c, ctx.period) for c in ctx.conditions(COMMON["valuesets"]["diabetes"]))


def has_high_risk_score(ctx: Ctx) -> bool:
    """A 10-year ASCVD risk score of 20 % or more in the period."""
    for obs in ctx.observations(*SPC["risk_scores"]):
        value = quantity_value(obs)
        if (
            value is not None
            and value >= SPC["risk_at_least_percent"]
            and within(obs, "effective", ctx.period)
        ):
            return True
    return False


def on_statin(ctx: Ctx) -> bool:
    """A statin ordered, or in use, during the period."""
    for request in ctx.medication_requests(*VS["statins"]):
        found = medication_period(request)
        if authored_within(request, ctx.period) or (found is not None and found.overlaps_days(ctx.period)):
            return True
    return False


def _statin_not_ordered_for_medical_reason(ctx: Ctx) -> bool:
    for request in ctx.record.of("MedicationRequest"):
        if (
            request.get("doNotPerform") is True
            and ctx.matches(request.get("medicationCodeableConcept"), VS["statins"])
            and ctx.matches(request.get("reasonCode"), [VS["medical_reason"]])
            and authored_within(request, ctx.period)
        ):
            return True
    return False


def exception(ctx: Ctx) -> bool:
    """Statin intolerance, hospice or palliative care, liver disease, ESRD, or a medical reason."""
    mp = ctx.period
    for allergy in ctx.record.of("AllergyIntolerance"):
        found = to_interval(allergy, "onset")
        if ctx.matches(allergy.get("code"), [VS["statin_allergen"]]) and (
            found is None or found.overlaps_days(mp)
        ):
            return True
    for event in ctx.record.of("AdverseEvent"):
        recorded = to_interval(event, "recorded")
        if (
            ctx.matches(event.get("event"), [VS["statin_allergen"]])
            and recorded
            and recorded.overlaps_days(mp)
        ):
            return True
    conditions = ctx.conditions(
        VS["statin_muscle_symptoms"], *VS["liver_conditions"], COMMON["valuesets"]["esrd"]
    )
    if any(prevalence_overlaps(c, mp) for c in conditions):
        return True
    return has_hospice(ctx) or has_palliative_care(ctx) or _statin_not_ordered_for_medical_reason(ctx)


def evaluate(
    patient_resources: PatientRecord | Iterable[Resource],
    period: Interval | tuple[date, date],
    valuesets: ValueSetIndex,
) -> PopulationResult:
    """The four SPC groups; a patient counts in the first risk group it meets only."""
    ctx = context(patient_resources, period, valuesets)
    encounter_specs = [COMMON["valuesets"].get(n) or VS[n] for n in SPC["qualifying_encounters"]]
    if not ctx.has_qualifying_encounter(encounter_specs):
        memberships = [False, False, False, False]
    else:
        pop1 = has_ascvd(ctx)
        pop2 = not pop1 and _age_between(ctx, SPC["ldl_age_at_start"]) and has_high_ldl_or_familial(ctx)
        pop3 = not (pop1 or pop2) and _age_between(ctx, SPC["diabetes_age_at_start"]) and has_diabetes(ctx)
        pop4 = (
            not (pop1 or pop2 or pop3)
            and _age_between(ctx, SPC["risk_age_at_start"])
            and has_high_risk_score(ctx)
        )
        memberships = [pop1, pop2, pop3, pop4]

    def exclusion() -> bool:
        conditions = ctx.conditions(VS["breastfeeding"], VS["rhabdomyolysis"])
        return any(prevalence_overlaps(c, ctx.period) for c in conditions)

    groups: list[GroupResult] = [
        proportion(member, exclusion, lambda: on_statin(ctx), lambda: exception(ctx))
        for member in memberships
    ]
    return PopulationResult(tuple(groups))
