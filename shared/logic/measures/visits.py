"""NCQA's well-care visit measures: Child and Adolescent Well-Care Visits (WCV) and Well-Child Visits in
the First 30 Months of Life (W30), one component per window; the group counts the member in whichever
window it falls (W30's two are exclusive: their anchors are fifteen months apart)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

from shared.logic.measures.common import has_hospice
from shared.logic.measures.context import Ctx, Window, add_months, span
from shared.logic.measures.outcome import NOT_IN_POPULATION, MeasureOutcome, Populations, proportion
from shared.logic.measures.screening import in_age_band
from shared.programs.measures import VisitWindow, WellCareVisits


def visit_days(ctx: Ctx, d: WellCareVisits) -> set[date]:
    """Days with a well-care visit: a finished encounter or claim line coded as one, or a well-care
    diagnosis (a claim's Z00 code) on that day."""
    days = set()
    for record in ctx.encounters(*d.visit_codes) + ctx.procedures(*d.visit_codes):
        found = span(record)
        if found is not None and found.first is not None:
            days.add(found.first)
    days.update(c.start for c in ctx.conditions(*d.visit_codes) if c.start is not None)
    return days


def _window(ctx: Ctx, rule: VisitWindow, birth: date) -> tuple[bool, Window]:
    """Whether the member is in the window's population, and the days its visits count on."""
    if rule.anchor_months is None:
        return True, ctx.period
    anchor = add_months(birth, rule.anchor_months)
    first = birth if rule.from_months is None else add_months(birth, rule.from_months)
    last = anchor if rule.through_months is None else add_months(birth, rule.through_months)
    return ctx.period.holds(anchor), Window(first + timedelta(days=rule.from_days), last)


def evaluate(ctx: Ctx, d: WellCareVisits, year: int) -> MeasureOutcome:
    """One member's windows: in a window's population (the age band, and its anchor birthday in the
    period when it has one), excluded for hospice, met with enough visits on distinct days in it."""
    birth = ctx.birth
    if birth is None or not in_age_band(ctx, d):
        return MeasureOutcome(
            d.name, year, (NOT_IN_POPULATION,), dict.fromkeys(d.components, NOT_IN_POPULATION)
        )
    days = visit_days(ctx, d)
    excluded: list[bool] = []

    def exclusion() -> bool:
        if not excluded:
            excluded.append(has_hospice(ctx))
        return excluded[0]

    components: dict[str, Populations] = {}
    for name, rule in d.windows.items():
        inside, window = _window(ctx, rule, birth)
        met = sum(1 for day in days if window.holds(day)) >= rule.visits
        components[name] = proportion(inside, exclusion, partial(bool, met))
    group = next((c for c in components.values() if c.initial_population), NOT_IN_POPULATION)
    return MeasureOutcome(d.name, year, (group,), components)
