"""CMS117 Childhood Immunization Status (CIS): all ten vaccine series by the second birthday."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from shared.logic.measures.common import Ctx, add_years, has_hospice, prevalence_starts_by, to_interval
from shared.logic.measures.definitions import COMMON, load_definition
from shared.logic.measures.fhir import Interval, PatientRecord, Resource, day_in, day_interval
from shared.logic.measures.result import PopulationResult, context, proportion
from shared.logic.measures.valuesets import ValueSetIndex

CIS = load_definition("ChildhoodImmunizationStatusFHIR")


def vaccination_days(ctx: Ctx, specs: list[str]) -> set[date]:
    """Days on which a completed immunization or vaccine-administration procedure in the specs happened."""
    days = set()
    for immunization in ctx.record.of("Immunization"):
        if immunization.get("status") == "completed" and ctx.matches(immunization.get("vaccineCode"), specs):
            found = to_interval(immunization, "occurrence")
            if found is not None and found.start is not None:
                days.add(found.start.date())
    for procedure in ctx.procedures(*specs):
        found = to_interval(procedure, "performed")
        if found is not None and found.start is not None:
            days.add(found.start.date())
    return days


def _days_between(days: set[date], first: date, last: date) -> set[date]:
    return {d for d in days if day_in(d, day_interval(first, last))}


def _condition_by(ctx: Ctx, specs: list[str], day: date) -> bool:
    return any(prevalence_starts_by(c, day) for c in ctx.conditions(*specs))


def series_complete(ctx: Ctx, rule: dict[str, Any], birth: date, second: date) -> bool:
    """One vaccine series: enough doses on distinct days in its window, or a contraindication or history."""
    if _condition_by(ctx, rule["contraindications"], second):
        return True
    if "any_history" in rule and _condition_by(ctx, rule["any_history"], second):
        return True
    if "all_histories" in rule and all(_condition_by(ctx, [spec], second) for spec in rule["all_histories"]):
        return True
    first = (
        add_years(birth, 1)
        if rule.get("from_first_birthday")
        else birth + timedelta(days=rule.get("from_days", 0))
    )
    days = _days_between(vaccination_days(ctx, rule["vaccines"]), first, second)
    if "newborn" in rule:
        newborn = vaccination_days(ctx, rule["newborn"]["codes"])
        days |= _days_between(newborn, birth, birth + timedelta(days=rule["newborn"]["within_days"]))
    if "on_second_birthday" in rule and second in vaccination_days(ctx, rule["on_second_birthday"]):
        days.add(second)
    return len(days) >= rule["doses"]


def rotavirus_complete(ctx: Ctx, birth: date, second: date) -> bool:
    """Two 2-dose, three 3-dose, or one 2-dose plus two 3-dose rotavirus vaccinations, on distinct days."""
    rule = CIS["rotavirus"]
    if _condition_by(ctx, rule["contraindications"], second):
        return True
    first = birth + timedelta(days=rule["from_days"])
    two = _days_between(vaccination_days(ctx, rule["two_dose"]), first, second)
    three = _days_between(vaccination_days(ctx, rule["three_dose"]), first, second)
    return len(two) >= 2 or len(three) >= 3 or (len(two) >= 1 and len(three - two) >= 2)


def evaluate(
    patient_resources: PatientRecord | Iterable[Resource],
    period: Interval | tuple[date, date],
    valuesets: ValueSetIndex,
) -> PopulationResult:
    """CMS117 for one patient (the combination numerator)."""
    ctx = context(patient_resources, period, valuesets)
    birth = ctx.record.birth_date
    if birth is None:
        return PopulationResult((proportion(False, lambda: False, lambda: False),))
    second = add_years(birth, 2)
    specs = [COMMON["valuesets"][name] for name in CIS["qualifying_encounters"]]
    ip = day_in(second, ctx.period) and ctx.has_qualifying_encounter(specs)

    def exclusion() -> bool:
        return has_hospice(ctx) or _condition_by(ctx, CIS["exclusion_conditions"], second)

    def numerator() -> bool:
        rules = CIS["vaccines"].values()
        return all(series_complete(ctx, rule, birth, second) for rule in rules) and rotavirus_complete(
            ctx, birth, second
        )

    return PopulationResult((proportion(ip, exclusion, numerator),))
