"""CMS2 Preventive Care and Screening: Screening for Depression and Follow-Up Plan (DSF)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from shared.logic.measures.common import Ctx, observation_value, prevalence, to_interval
from shared.logic.measures.definitions import COMMON, load_definition
from shared.logic.measures.fhir import Interval, PatientRecord, Resource, day_interval, parse_datetime
from shared.logic.measures.result import PopulationResult, context, proportion
from shared.logic.measures.valuesets import ValueSetIndex

DSF = load_definition("PCSDepressionScreenAndFollowUpFHIR")
VS = DSF["valuesets"]


def _encounter_days(ctx: Ctx) -> list[date]:
    specs = [COMMON["valuesets"].get(n) or VS[n] for n in DSF["qualifying_encounters"]]
    days = []
    for encounter in ctx.qualifying_encounters(specs):
        found = to_interval(encounter, "period")
        if found is not None and found.start is not None:
            days.append(found.start.date())
    return days


def _screening_window(day: date) -> Interval:
    return day_interval(day - timedelta(days=DSF["screening_days_before_encounter"]), day)


def _screenings(ctx: Ctx, day: date) -> list[Resource]:
    window = _screening_window(day)
    found = []
    for obs in ctx.observations(*DSF["screening_tools"]):
        effective = to_interval(obs, "effective")
        if effective is not None and effective.during_days(window):
            found.append(obs)
    return found


def _followed_up(ctx: Ctx, day: date) -> bool:
    window = day_interval(day, day + timedelta(days=DSF["follow_up_days_after_encounter"]))
    for procedure in ctx.procedures(*VS["follow_up_procedures"]):
        performed = to_interval(procedure, "performed")
        if performed is not None and performed.during_days(window):
            return True
    requests = ctx.service_requests(*VS["referrals"]) + ctx.medication_requests(*VS["medications"])
    return any(
        (authored := parse_datetime(r.get("authoredOn"))) is not None
        and window.start_day() <= authored.date() <= window.end_day()
        for r in requests
    )


def numerator(ctx: Ctx) -> bool:
    """At some qualifying encounter, the latest screening is negative, or positive with a follow-up."""
    for day in _encounter_days(ctx):
        screenings = _screenings(ctx, day)
        if not screenings:
            continue
        latest = max(screenings, key=lambda o: to_interval(o, "effective").start_day())  # type: ignore[union-attr]
        value = observation_value(latest)
        if ctx.matches(value, [DSF["negative"]]):
            return True
        if ctx.matches(value, [DSF["positive"]]) and _followed_up(ctx, day):
            return True
    return False


def _reason_accepted(ctx: Ctx, reason: object) -> bool:
    loaded = [oid for oid in DSF["not_done_reasons"] if oid in ctx.vs]
    # The decks ship the Medical Reason expansion but not Patient Reason: any documented reason then counts.
    return len(loaded) < len(DSF["not_done_reasons"]) or ctx.matches(reason, loaded)


def exception(ctx: Ctx) -> bool:
    """A documented patient or medical reason for not screening, with no screening done."""
    for day in _encounter_days(ctx):
        if _screenings(ctx, day):
            continue
        window = _screening_window(day)
        for obs in ctx.record.of("Observation"):
            if obs.get("status") != "cancelled" or not ctx.matches(obs.get("code"), DSF["screening_tools"]):
                continue
            reasons = [
                e.get("valueCodeableConcept")
                for e in obs.get("extension", [])
                if str(e.get("url", "")).endswith("notDoneReason")
            ]
            when = to_interval(obs, "effective") or to_interval(obs, "issued")
            if (
                when is not None
                and when.during_days(window)
                and any(_reason_accepted(ctx, r) for r in reasons)
            ):
                return True
    return False


def exclusion(ctx: Ctx) -> bool:
    """Bipolar disorder diagnosed before a qualifying encounter."""
    days = _encounter_days(ctx)
    for condition in ctx.conditions(VS["bipolar_disorder"]):
        found = prevalence(condition)
        if found is not None and any(found.start_day() < day for day in days):
            return True
    return False


def evaluate(
    patient_resources: PatientRecord | Iterable[Resource],
    period: Interval | tuple[date, date],
    valuesets: ValueSetIndex,
) -> PopulationResult:
    """CMS2 for one patient."""
    ctx = context(patient_resources, period, valuesets)
    age = ctx.age_at_start()
    ip = age is not None and age >= DSF["min_age_at_start"] and bool(_encounter_days(ctx))
    return PopulationResult(
        (proportion(ip, lambda: exclusion(ctx), lambda: numerator(ctx), lambda: exception(ctx)),)
    )
