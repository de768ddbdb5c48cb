"""CMS153 Chlamydia Screening in Women (CHL)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from shared.logic.measures.common import (
    Ctx,
    authored_within,
    has_hospice,
    observation_value,
    overlapping,
    prevalence_overlaps,
    within,
)
from shared.logic.measures.definitions import load_definition
from shared.logic.measures.fhir import Interval, PatientRecord, Resource, day_interval, parse_datetime
from shared.logic.measures.result import PopulationResult, context, proportion
from shared.logic.measures.screening import initial_population
from shared.logic.measures.valuesets import ValueSetIndex

CHL = load_definition("ChlamydiaScreeninginWomenFHIR")
VS = CHL["valuesets"]


def other_sexual_activity(ctx: Ctx) -> bool:
    """Evidence of sexual activity in the period other than a pregnancy test."""
    mp = ctx.period
    if any(prevalence_overlaps(c, mp) for c in ctx.conditions(*VS["sexual_activity_diagnoses"])):
        return True
    if any(authored_within(s, mp) for s in ctx.service_requests(*VS["sexual_activity_orders"])):
        return True
    if any(overlapping(p, "performed", mp) for p in ctx.procedures(VS["sexual_activity_procedures"])):
        return True
    if any(authored_within(m, mp) for m in ctx.medication_requests(VS["contraceptive_medications"])):
        return True
    return any(
        ctx.matches(observation_value(o), CHL["yes_answers"]) and overlapping(o, "effective", mp)
        for o in ctx.observations(CHL["sexual_activity_question"])
    )


def _pregnancy_test_days(ctx: Ctx) -> list[date]:
    days = []
    for request in ctx.service_requests(VS["pregnancy_test"]):
        authored = parse_datetime(request.get("authoredOn"))
        if authored is not None and authored_within(request, ctx.period):
            days.append(authored.date())
    return days


def pregnancy_test_exclusion(ctx: Ctx) -> bool:
    """Eligible only through a pregnancy test followed within six days by an x-ray or isotretinoin order."""
    if other_sexual_activity(ctx):
        return False
    orders = ctx.service_requests(VS["xray_study"]) + ctx.medication_requests(VS["isotretinoin"])
    for day in _pregnancy_test_days(ctx):
        window = day_interval(day, day + timedelta(days=CHL["pregnancy_test_follow_up_days"]))
        if any(authored_within(order, window) for order in orders):
            return True
    return False


def evaluate(
    patient_resources: PatientRecord | Iterable[Resource],
    period: Interval | tuple[date, date],
    valuesets: ValueSetIndex,
) -> PopulationResult:
    """CMS153 for one patient."""
    ctx = context(patient_resources, period, valuesets)
    active = other_sexual_activity(ctx) or bool(_pregnancy_test_days(ctx))
    ip = initial_population(ctx, CHL) and active

    def numerator() -> bool:
        return any(
            observation_value(o) is not None and within(o, "effective", ctx.period)
            for o in ctx.observations(VS["chlamydia_screening"])
        )

    return PopulationResult(
        (proportion(ip, lambda: has_hospice(ctx) or pregnancy_test_exclusion(ctx), numerator),)
    )
