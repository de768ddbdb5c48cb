"""CMS117 Childhood Immunization Status (CIS): all ten vaccine series by the second birthday."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import partial

from shared.logic.measures.common import has_hospice
from shared.logic.measures.context import Ctx, Window, add_years, prevalence_starts_by, span
from shared.logic.measures.outcome import NOT_IN_POPULATION, MeasureOutcome, Populations, proportion
from shared.logic.measures.screening import has_visit
from shared.programs.measures import ChildhoodImmunization, Rotavirus, VaccineSeries


def vaccination_days(ctx: Ctx, specs: tuple[str, ...]) -> set[date]:
    """Days on which a completed immunization or vaccine-administration procedure in the specs happened."""
    days = set()
    for record in ctx.immunizations(*specs) + ctx.procedures(*specs):
        found = span(record)
        if found is not None and found.first is not None:
            days.add(found.first)
    return days


def _days_between(days: set[date], first: date, last: date) -> set[date]:
    return {d for d in days if first <= d <= last}


def _condition_by(ctx: Ctx, specs: tuple[str, ...], day: date) -> bool:
    return any(prevalence_starts_by(c, day) for c in ctx.conditions(*specs))


def series_complete(ctx: Ctx, rule: VaccineSeries, birth: date, second: date) -> bool:
    """One vaccine series: enough doses on distinct days in its window, or a contraindication or history."""
    if _condition_by(ctx, rule.contraindications, second):
        return True
    if rule.any_history and _condition_by(ctx, rule.any_history, second):
        return True
    if rule.all_histories and all(_condition_by(ctx, (spec,), second) for spec in rule.all_histories):
        return True
    first = add_years(birth, 1) if rule.from_first_birthday else birth + timedelta(days=rule.from_days)
    days = _days_between(vaccination_days(ctx, rule.vaccines), first, second)
    if rule.newborn is not None:
        newborn = vaccination_days(ctx, rule.newborn.codes)
        days |= _days_between(newborn, birth, birth + timedelta(days=rule.newborn.within_days))
    if rule.on_second_birthday and second in vaccination_days(ctx, rule.on_second_birthday):
        days.add(second)
    return len(days) >= rule.doses


def rotavirus_complete(ctx: Ctx, rule: Rotavirus, birth: date, second: date) -> bool:
    """Two 2-dose, three 3-dose, or one 2-dose plus two 3-dose rotavirus vaccinations, on distinct days."""
    if _condition_by(ctx, rule.contraindications, second):
        return True
    first = birth + timedelta(days=rule.from_days)
    two = _days_between(vaccination_days(ctx, rule.two_dose), first, second)
    three = _days_between(vaccination_days(ctx, rule.three_dose), first, second)
    return len(two) >= 2 or len(three) >= 3 or (len(two) >= 1 and len(three - two) >= 2)


def evaluate(ctx: Ctx, d: ChildhoodImmunization, year: int) -> MeasureOutcome:
    """CMS117 for one member: the combination numerator, and each series as a component."""
    birth = ctx.birth
    if birth is None:
        return MeasureOutcome(
            d.name, year, (NOT_IN_POPULATION,), dict.fromkeys(d.components, NOT_IN_POPULATION)
        )
    second = add_years(birth, 2)
    ip = Window(ctx.first, ctx.last).holds(second) and has_visit(ctx, d)

    def exclusion() -> bool:
        return has_hospice(ctx) or _condition_by(ctx, d.exclusion_conditions, second)

    series: dict[str, Callable[[], bool]] = {
        name: partial(series_complete, ctx, rule, birth, second) for name, rule in d.vaccines.items()
    }
    series["rotavirus"] = partial(rotavirus_complete, ctx, d.rotavirus, birth, second)
    components: dict[str, Populations] = {}
    if ip:
        excluded = exclusion()
        components = {name: proportion(ip, lambda: excluded, check) for name, check in series.items()}
        met = all(c.numerator for c in components.values())
        group = proportion(ip, lambda: excluded, lambda: met)
    else:
        group = proportion(False, lambda: False, lambda: False)
        components = dict.fromkeys(series, group)
    return MeasureOutcome(d.name, year, (group,), components)
