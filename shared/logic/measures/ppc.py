"""NCQA's Prenatal and Postpartum Care (PPC): deliveries in the year's delivery window, a prenatal visit in
the first trimester and a postpartum visit after the delivery, as two components."""

from __future__ import annotations

from datetime import date, timedelta

from shared.logic.measures.common import has_hospice
from shared.logic.measures.context import Ctx, Window, span
from shared.logic.measures.outcome import MeasureOutcome, proportion
from shared.logic.measures.pod import window_day
from shared.logic.measures.screening import in_age_band
from shared.programs.measures import PrenatalPostpartumCare


def service_days(ctx: Ctx, specs: tuple[str, ...]) -> set[date]:
    """Days with a finished encounter, a procedure or claim line, or a diagnosis (its onset) coded in the
    specs."""
    days = set()
    for record in ctx.encounters(*specs) + ctx.procedures(*specs):
        found = span(record)
        if found is not None and found.first is not None:
            days.add(found.first)
    days.update(c.start for c in ctx.conditions(*specs) if c.start is not None)
    return days


def _between(days: set[date], window: Window) -> bool:
    return any(window.holds(day) for day in days)


def evaluate(ctx: Ctx, d: PrenatalPostpartumCare, year: int) -> MeasureOutcome:
    """PPC for one member: her first delivery in the window; excluded for hospice; `prenatal` met by a
    prenatal visit the given days before it, `postpartum` by a postpartum visit the given days after it;
    the group met when both are."""
    window = Window(window_day(year, d.delivery_from), window_day(year, d.delivery_through))
    deliveries = sorted(day for day in service_days(ctx, d.deliveries) if window.holds(day))
    delivery = deliveries[0] if deliveries else None
    ip = delivery is not None and in_age_band(ctx, d)
    early, late = d.prenatal_days_before_delivery
    after, until = d.postpartum_days_after_delivery

    def prenatal() -> bool:
        assert delivery is not None
        span_ = Window(delivery - timedelta(days=early), delivery - timedelta(days=late))
        return _between(service_days(ctx, d.prenatal_visits), span_)

    def postpartum() -> bool:
        assert delivery is not None
        span_ = Window(delivery + timedelta(days=after), delivery + timedelta(days=until))
        return _between(service_days(ctx, d.postpartum_visits), span_)

    excluded = ip and has_hospice(ctx)
    parts = {
        "prenatal": proportion(ip, lambda: excluded, prenatal),
        "postpartum": proportion(ip, lambda: excluded, postpartum),
    }
    both = all(p.numerator for p in parts.values())
    return MeasureOutcome(d.name, year, (proportion(ip, lambda: excluded, lambda: both),), parts)
