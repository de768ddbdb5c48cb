"""CMS153 Chlamydia Screening in Women (CHL)."""

from __future__ import annotations

from datetime import date, timedelta

from shared.logic.measures.common import has_hospice, value_is
from shared.logic.measures.context import Ctx, Window, authored_within, during, overlaps, prevalence_overlaps
from shared.logic.measures.outcome import MeasureOutcome, proportion
from shared.logic.measures.screening import initial_population
from shared.programs.measures import ChlamydiaScreening


def other_sexual_activity(ctx: Ctx, d: ChlamydiaScreening) -> bool:
    """Evidence of sexual activity in the period other than a pregnancy test."""
    mp = ctx.period
    if any(prevalence_overlaps(c, mp) for c in ctx.conditions(*d.oids("sexual_activity_diagnoses"))):
        return True
    if any(authored_within(s, mp) for s in ctx.service_requests(*d.oids("sexual_activity_orders"))):
        return True
    if any(overlaps(p, mp) for p in ctx.procedures(d.oid("sexual_activity_procedures"))):
        return True
    if any(authored_within(m, mp) for m in ctx.medication_requests(d.oid("contraceptive_medications"))):
        return True
    return any(
        value_is(ctx, o, list(d.yes_answers)) and overlaps(o, mp)
        for o in ctx.observations(d.sexual_activity_question)
    )


def _pregnancy_test_days(ctx: Ctx, d: ChlamydiaScreening) -> list[date]:
    return [r.day for r in ctx.service_requests(d.oid("pregnancy_test")) if authored_within(r, ctx.period)]


def pregnancy_test_exclusion(ctx: Ctx, d: ChlamydiaScreening) -> bool:
    """Eligible only through a pregnancy test followed within six days by an x-ray or isotretinoin order."""
    if other_sexual_activity(ctx, d):
        return False
    orders = ctx.service_requests(d.oid("xray_study")) + ctx.medication_requests(d.oid("isotretinoin"))
    for day in _pregnancy_test_days(ctx, d):
        window = Window(day, day + timedelta(days=d.pregnancy_test_follow_up_days))
        if any(authored_within(order, window) for order in orders):
            return True
    return False


def evaluate(ctx: Ctx, d: ChlamydiaScreening, year: int) -> MeasureOutcome:
    """CMS153 for one member: sexually active women 16-24 with a chlamydia test resulted in the period."""
    active = other_sexual_activity(ctx, d) or bool(_pregnancy_test_days(ctx, d))
    ip = initial_population(ctx, d) and active

    def numerator() -> bool:
        return any(
            o.has_value and during(o, ctx.period) for o in ctx.observations(d.oid("chlamydia_screening"))
        )

    return MeasureOutcome(
        d.name,
        year,
        (proportion(ip, lambda: has_hospice(ctx) or pregnancy_test_exclusion(ctx, d), numerator),),
    )
