"""NCQA's Immunizations for Adolescents (IMA): each antigen by the 13th birthday, as components; the group
numerator is every antigen (Combination 2 when the antigens are meningococcal, Tdap and HPV)."""

from __future__ import annotations

from datetime import date
from functools import partial

from shared.logic.measures.cis import vaccination_days
from shared.logic.measures.common import has_hospice
from shared.logic.measures.context import Ctx, add_years, prevalence_starts_by
from shared.logic.measures.outcome import NOT_IN_POPULATION, MeasureOutcome, Populations, proportion
from shared.programs.measures import AdolescentAntigen, AdolescentImmunization


def antigen_complete(ctx: Ctx, rule: AdolescentAntigen, birth: date, last: date) -> bool:
    """Enough doses on distinct days from the antigen's birthday through `last`, or the short series (its
    doses, first to last at least the days apart), or a contraindication by `last`."""
    if any(prevalence_starts_by(c, last) for c in ctx.conditions(*rule.contraindications)):
        return True
    first = add_years(birth, rule.from_birthday)
    days = sorted(d for d in vaccination_days(ctx, rule.vaccines) if first <= d <= last)
    if len(days) >= rule.doses:
        return True
    short = rule.short_series
    return (
        short is not None and len(days) >= short.doses and (days[-1] - days[0]).days >= short.min_days_apart
    )


def evaluate(ctx: Ctx, d: AdolescentImmunization, year: int) -> MeasureOutcome:
    """IMA for one member: in the population when the measure's birthday falls in the period; excluded
    for hospice or an exclusion condition (anaphylaxis due to a vaccine) by that birthday; each antigen a
    component, the group met when every antigen is."""
    birth = ctx.birth
    if birth is None:
        return MeasureOutcome(
            d.name, year, (NOT_IN_POPULATION,), dict.fromkeys(d.components, NOT_IN_POPULATION)
        )
    last = add_years(birth, d.birthday)
    ip = ctx.period.holds(last)
    excluded = ip and (
        has_hospice(ctx)
        or any(prevalence_starts_by(c, last) for c in ctx.conditions(*d.exclusion_conditions))
    )
    components: dict[str, Populations] = {
        name: proportion(ip, lambda: excluded, partial(antigen_complete, ctx, rule, birth, last))
        for name, rule in d.antigens.items()
    }
    every = all(c.numerator for c in components.values())
    return MeasureOutcome(d.name, year, (proportion(ip, lambda: excluded, lambda: every),), components)
