"""NCQA's Asthma Medication Ratio (AMR): members with persistent asthma whose controller medications are
at least half of their asthma medications, in units, from what was dispensed."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

from shared.logic.measures.common import has_hospice
from shared.logic.measures.context import (
    Ctx,
    Window,
    add_years,
    prevalence_starts_by,
    prevalence_starts_within,
)
from shared.logic.measures.outcome import MeasureOutcome, proportion
from shared.logic.measures.records import Record
from shared.logic.measures.screening import in_age_band
from shared.programs.measures import AsthmaMedication, AsthmaMedicationRatio


def dispensed(ctx: Ctx, specs: tuple[str, ...]) -> list[Record]:
    """Medications dispensed (pharmacy fills, completed FHIR dispenses) coded in the specs; orders are not
    dispensings."""
    return [
        r
        for r in ctx.coded(("MedicationDispense",), specs)
        if r.tabular or (r.status == "completed" and not r.negated)
    ]


def units(record: Record, medication: AsthmaMedication, oral_days_per_unit: int) -> int:
    """A dispensing's units: an oral medication one per `oral_days_per_unit` days of supply (rounded down,
    at least one); an inhaler or an injection one per dispensing."""
    if medication.route != "oral":
        return 1
    supply = (record.end - record.day).days if record.end is not None else 0
    return max(1, supply // oral_days_per_unit)


def units_in(ctx: Ctx, d: AsthmaMedicationRatio, window: Window) -> dict[str, int]:
    """Units dispensed in the window per role (`controller`, `reliever`)."""
    found = {"controller": 0, "reliever": 0}
    for medication in d.medications:
        for record in dispensed(ctx, medication.codes):
            if window.holds(record.day):
                found[medication.role] += units(record, medication, d.oral_days_per_unit)
    return found


def persistent_in(ctx: Ctx, d: AsthmaMedicationRatio, window: Window) -> bool:
    """Persistent asthma in a year: enough asthma medication units, or asthma diagnosed on enough days with
    some medication."""
    rule = d.persistent
    events = sum(units_in(ctx, d, window).values())
    if events >= rule.dispensing_events:
        return True
    days = {c.start for c in ctx.conditions(*d.asthma_diagnoses) if prevalence_starts_within(c, window)}
    return len(days) >= rule.diagnosis_days and events >= rule.with_dispensing_events


def evaluate(ctx: Ctx, d: AsthmaMedicationRatio, year: int) -> MeasureOutcome:
    """AMR for one member: in the age band, persistent asthma in the year and the year before, and some
    asthma medication dispensed in the year; excluded for hospice or a diagnosis that rules asthma out
    (COPD, emphysema, cystic fibrosis…) by the year's end; met when controller units / all units reaches
    the ratio."""
    period = ctx.period
    prior = Window(add_years(ctx.first, -1), ctx.first - timedelta(days=1))
    this_year = units_in(ctx, d, period)
    total = sum(this_year.values())
    ip = (
        ctx.birth is not None
        and in_age_band(ctx, d)
        and total > 0
        and persistent_in(ctx, d, period)
        and persistent_in(ctx, d, prior)
    )

    def exclusion() -> bool:
        if has_hospice(ctx):
            return True
        return any(prevalence_starts_by(c, ctx.last) for c in ctx.conditions(*d.exclusion_diagnoses))

    def numerator() -> bool:
        # The ratio as written (0.50), not its binary float.
        return Fraction(this_year["controller"], total) >= Fraction(str(d.ratio_at_least))

    return MeasureOutcome(d.name, year, (proportion(ip, exclusion, numerator),))
