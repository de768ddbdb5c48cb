"""CMS2 Preventive Care and Screening: Screening for Depression and Follow-Up Plan (DSF)."""

from __future__ import annotations

from datetime import date, timedelta

from shared.logic.measures.common import value_is
from shared.logic.measures.context import Ctx, Window, during, prevalence, span
from shared.logic.measures.outcome import MeasureOutcome, Populations, proportion
from shared.logic.measures.records import CLAIM, Record
from shared.logic.measures.screening import encounter_specs
from shared.programs.measures import DepressionScreening


def _encounter_days(ctx: Ctx, d: DepressionScreening) -> list[date]:
    """The days of the qualifying encounters; with none named (a program rating its assigned members),
    each day a screening was done or documented as not done in the period stands for a visit."""
    if not d.qualifying_encounters:
        tools = ctx.coded(("Observation", CLAIM), d.screening_tools)
        return sorted({o.day for o in tools if ctx.period.holds(o.day)})
    days = []
    for encounter in ctx.qualifying_encounters(encounter_specs(ctx, d)):
        found = span(encounter)
        if found is not None and found.first is not None:
            days.append(found.first)
    return days


def _screening_window(d: DepressionScreening, day: date) -> Window:
    return Window(day - timedelta(days=d.screening_days_before_encounter), day)


def _screenings(ctx: Ctx, d: DepressionScreening, day: date) -> list[Record]:
    window = _screening_window(d, day)
    return [o for o in ctx.observations(*d.screening_tools) if during(o, window)]


def _latest(screenings: list[Record]) -> Record:
    return max(screenings, key=lambda o: o.start or date.min)


def _followed_up(ctx: Ctx, d: DepressionScreening, day: date) -> bool:
    window = Window(day, day + timedelta(days=d.follow_up_days_after_encounter))
    if any(during(p, window) for p in ctx.procedures(*d.oids("follow_up_procedures"))):
        return True
    requests = ctx.service_requests(*d.oids("referrals")) + ctx.medication_requests(*d.oids("medications"))
    return any(window.holds(r.day) for r in requests)


def _screened_at(ctx: Ctx, d: DepressionScreening) -> list[tuple[date, Record]]:
    """The latest screening before each qualifying encounter that has one."""
    found = []
    for day in _encounter_days(ctx, d):
        screenings = _screenings(ctx, d, day)
        if screenings:
            found.append((day, _latest(screenings)))
    return found


def numerator(ctx: Ctx, d: DepressionScreening) -> bool:
    """At some qualifying encounter, the latest screening is negative, or positive with a follow-up."""
    for day, latest in _screened_at(ctx, d):
        if value_is(ctx, latest, [d.negative]):
            return True
        if value_is(ctx, latest, [d.positive]) and _followed_up(ctx, d, day):
            return True
    return False


def _reason_accepted(ctx: Ctx, d: DepressionScreening, reasons: tuple[tuple[str, str], ...]) -> bool:
    loaded = [oid for oid in d.not_done_reasons if oid in ctx.vs]
    # The decks ship the Medical Reason expansion but not Patient Reason: any documented reason then counts.
    if len(loaded) < len(d.not_done_reasons):
        return bool(reasons)
    return ctx.matches(reasons, loaded)


def exception(ctx: Ctx, d: DepressionScreening) -> bool:
    """A documented patient or medical reason for not screening, with no screening done."""
    for day in _encounter_days(ctx, d):
        if _screenings(ctx, d, day):
            continue
        window = _screening_window(d, day)
        for obs in ctx.coded(("Observation",), d.screening_tools):
            if obs.status != "cancelled":
                continue
            when = span(obs)
            on_time = during(obs, window) if when is not None else window.holds(obs.day)
            if on_time and _reason_accepted(ctx, d, obs.reasons):
                return True
    return False


def exclusion(ctx: Ctx, d: DepressionScreening) -> bool:
    """Bipolar disorder diagnosed before a qualifying encounter."""
    days = _encounter_days(ctx, d)
    for condition in ctx.conditions(d.oid("bipolar_disorder")):
        found, _ = prevalence(condition)
        if any(found.first is None or found.first < day for day in days):
            return True
    return False


def evaluate(ctx: Ctx, d: DepressionScreening, year: int) -> MeasureOutcome:
    """CMS2 for one member, with its two parts as components: `screening` (screened at a qualifying
    encounter, whatever the result) and `follow_up` (of those screened positive, followed up)."""
    visited = bool(_encounter_days(ctx, d)) or not d.qualifying_encounters
    ip = d.age is not None and d.age.holds(ctx.age_at_start()) and visited
    group = proportion(ip, lambda: exclusion(ctx, d), lambda: numerator(ctx, d), lambda: exception(ctx, d))
    screened = _screened_at(ctx, d) if group.denominator and not group.denominator_exclusion else []
    positive = [(day, s) for day, s in screened if value_is(ctx, s, [d.positive])]
    screening = Populations(
        group.initial_population,
        group.denominator,
        group.denominator_exclusion,
        bool(screened),
        group.denominator_exception if not screened else False,
    )
    follow_up = Populations(
        bool(positive),
        bool(positive),
        False,
        any(_followed_up(ctx, d, day) for day, _ in positive),
    )
    return MeasureOutcome(d.name, year, (group,), {"screening": screening, "follow_up": follow_up})
