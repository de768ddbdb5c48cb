"""CMS347 Statin Therapy for the Prevention and Treatment of Cardiovascular Disease (SPC): four groups."""

from __future__ import annotations

from shared.logic.measures.common import has_hospice, has_palliative_care
from shared.logic.measures.context import (
    Ctx,
    authored_within,
    during,
    overlaps,
    prevalence_overlaps,
    prevalence_starts_by,
    span,
    starts_by,
)
from shared.logic.measures.outcome import MeasureOutcome, Populations, proportion
from shared.logic.measures.screening import has_visit
from shared.programs.measures import AgeRange, StatinTherapy


def _age_between(ctx: Ctx, band: AgeRange) -> bool:
    return band.holds(ctx.age_at_start() if band.at == "start" else ctx.age_at_end())


def has_ascvd(ctx: Ctx, d: StatinTherapy) -> bool:
    """Clinical ASCVD diagnosed, or an ASCVD procedure, before the end of the period."""
    diagnoses = ctx.conditions(*d.oids("ascvd_diagnoses"), *d.ascvd_diagnosis_codes)
    if any(prevalence_starts_by(c, ctx.last) for c in diagnoses):
        return True
    return any(starts_by(p, ctx.last) for p in ctx.procedures(*d.oids("ascvd_procedures")))


def has_high_ldl_or_familial(ctx: Ctx, d: StatinTherapy) -> bool:
    """Any LDL-C >= 190 mg/dL, or familial hypercholesterolemia, before the end of the period."""
    for obs in ctx.observations(d.oid("ldl_cholesterol")):
        value = obs.quantity
        if value is not None and value >= d.ldl_at_least_mg_dl and starts_by(obs, ctx.last):
            return True
    familial = ctx.conditions(d.oid("familial_hypercholesterolemia"))
    return any(prevalence_starts_by(c, ctx.last) for c in familial)


def has_diabetes(ctx: Ctx) -> bool:
    """A diabetes diagnosis overlapping the measurement period."""
    return any(prevalence_overlaps(c, ctx.period) for c in ctx.conditions(ctx.common_oid("diabetes")))


def has_high_risk_score(ctx: Ctx, d: StatinTherapy) -> bool:
    """A 10-year ASCVD risk score of 20 % or more in the period."""
    return any(
        (value := obs.quantity) is not None and value >= d.risk_at_least_percent and during(obs, ctx.period)
        for obs in ctx.observations(*d.risk_scores)
    )


def on_statin(ctx: Ctx, d: StatinTherapy) -> bool:
    """A statin ordered, or in use, during the period."""
    return any(
        authored_within(r, ctx.period) or overlaps(r, ctx.period)
        for r in ctx.medication_requests(*d.oids("statins"))
    )


def _statin_not_ordered_for_medical_reason(ctx: Ctx, d: StatinTherapy) -> bool:
    return any(
        r.negated and ctx.matches(r.reasons, [d.oid("medical_reason")]) and authored_within(r, ctx.period)
        for r in ctx.coded(("MedicationRequest",), d.oids("statins"))
    )


def exception(ctx: Ctx, d: StatinTherapy) -> bool:
    """Statin intolerance, hospice or palliative care, liver disease, ESRD, or a medical reason."""
    mp = ctx.period
    for allergy in ctx.coded(("AllergyIntolerance",), [d.oid("statin_allergen")]):
        if span(allergy) is None or overlaps(allergy, mp):
            return True
    if any(overlaps(e, mp) for e in ctx.coded(("AdverseEvent",), [d.oid("statin_allergen")])):
        return True
    conditions = ctx.conditions(
        d.oid("statin_muscle_symptoms"), *d.oids("liver_conditions"), ctx.common_oid("esrd")
    )
    if any(prevalence_overlaps(c, mp) for c in conditions):
        return True
    return has_hospice(ctx) or has_palliative_care(ctx) or _statin_not_ordered_for_medical_reason(ctx, d)


def evaluate(ctx: Ctx, d: StatinTherapy, year: int) -> MeasureOutcome:
    """The four SPC groups; a member counts in the first risk group it meets only."""
    if not has_visit(ctx, d):
        memberships = [False, False, False, False]
    else:
        pop1 = has_ascvd(ctx, d)
        pop2 = not pop1 and _age_between(ctx, d.ldl_age) and has_high_ldl_or_familial(ctx, d)
        pop3 = not (pop1 or pop2) and _age_between(ctx, d.diabetes_age) and has_diabetes(ctx)
        pop4 = not (pop1 or pop2 or pop3) and _age_between(ctx, d.risk_age) and has_high_risk_score(ctx, d)
        memberships = [pop1, pop2, pop3, pop4]

    def exclusion() -> bool:
        conditions = ctx.conditions(d.oid("breastfeeding"), d.oid("rhabdomyolysis"))
        return any(prevalence_overlaps(c, ctx.period) for c in conditions)

    groups: list[Populations] = [
        proportion(member, exclusion, lambda: on_statin(ctx, d), lambda: exception(ctx, d))
        for member in memberships
    ]
    return MeasureOutcome(d.name, year, tuple(groups))
