"""The shared eCQM building blocks: ages, encounters, hospice, palliative care, frailty, nursing homes.

A criterion names its codes as "specs": a value set OID, or one code as "system|code". Every date comparison
is at day precision, as the published logic's `during day of` / `overlaps day of`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from shared.logic.measures.definitions import COMMON
from shared.logic.measures.fhir import (
    FINAL_OBSERVATION,
    Interval,
    PatientRecord,
    Resource,
    day_in,
    day_interval,
    has_code,
    modifier_flag,
    parse_datetime,
    to_interval,
)
from shared.logic.measures.valuesets import ValueSetIndex

ACTIVE_CLINICAL = ("active", "recurrence", "relapse")
CLINICAL_STATUS = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (Feb 29 falls back to Feb 28), as CQL date arithmetic."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    raise ValueError("unreachable")


def age_in_years(birth: date | None, on: date) -> int | None:
    """Whole years from birth to a day (CQL AgeInYearsAt)."""
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@dataclass
class Ctx:
    """One patient evaluated over one measurement period against loaded value sets."""

    record: PatientRecord
    period: Interval
    vs: ValueSetIndex

    @property
    def start(self) -> date:
        return self.period.start_day()

    @property
    def end(self) -> date:
        return self.period.end_day()

    def age_at(self, day: date) -> int | None:
        """The patient's age in whole years on a day."""
        return age_in_years(self.record.birth_date, day)

    def age_at_end(self) -> int | None:
        return self.age_at(self.end)

    def age_at_start(self) -> int | None:
        return self.age_at(self.start)

    def years_before(self, years: int) -> Interval:
        """The measurement period extended back by whole years (`start of MP - N years` to its end)."""
        return day_interval(add_years(self.start, -years), self.end)

    def matches(self, concept: Any, specs: Iterable[str]) -> bool:
        """Whether a concept matches any spec (an OID, or `system|code`)."""
        for spec in specs:
            if "|" in spec:
                system, code = spec.split("|", 1)
                if has_code(concept, system, code):
                    return True
            elif self.vs.matches(concept, spec):
                return True
        return False

    # ---- retrieves -------------------------------------------------------------------------------
    def conditions(self, *specs: str) -> list[Resource]:
        """Conditions coded in the specs, not refuted or entered in error."""
        return [c for c in self.record.of("Condition") if self.matches(c.get("code"), specs) and verified(c)]

    def encounters(self, *specs: str) -> list[Resource]:
        """Finished encounters whose type is in the specs."""
        return [
            e
            for e in self.record.of("Encounter")
            if e.get("status") == "finished" and self.matches(e.get("type"), specs)
        ]

    def procedures(self, *specs: str) -> list[Resource]:
        """Completed procedures coded in the specs."""
        return [
            p
            for p in self.record.of("Procedure")
            if p.get("status") == "completed" and self.matches(p.get("code"), specs)
        ]

    def observations(self, *specs: str, statuses: frozenset[str] = FINAL_OBSERVATION) -> list[Resource]:
        """Observations coded in the specs with a usable status."""
        return [
            o
            for o in self.record.of("Observation")
            if o.get("status") in statuses and self.matches(o.get("code"), specs)
        ]

    def service_requests(self, *specs: str) -> list[Resource]:
        """Active or completed orders coded in the specs, not marked do-not-perform."""
        return [
            s
            for s in self.record.of("ServiceRequest")
            if s.get("status") in ("active", "completed")
            and s.get("intent") in ORDER_INTENTS
            and not s.get("doNotPerform")
            and self.matches(s.get("code"), specs)
        ]

    def medication_requests(
        self, *specs: str, statuses: tuple[str, ...] = ("active", "completed")
    ) -> list[Resource]:
        """Medication orders coded (by CodeableConcept, as the retrieve does) in the specs."""
        return [
            m
            for m in self.record.of("MedicationRequest")
            if m.get("status") in statuses
            and m.get("intent") in ORDER_INTENTS
            and not m.get("doNotPerform")
            and self.matches(m.get("medicationCodeableConcept"), specs)
        ]

    def qualifying_encounters(self, specs: Iterable[str]) -> list[Resource]:
        """Finished encounters of the listed kinds during the measurement period."""
        return [e for e in self.encounters(*specs) if within(e, "period", self.period)]

    def has_qualifying_encounter(self, specs: Iterable[str]) -> bool:
        return bool(self.qualifying_encounters(specs))


ORDER_INTENTS = ("order", "original-order", "reflex-order", "filler-order", "instance-order")


def verified(condition: Resource) -> bool:
    """A condition counts unless its verification status is refuted or entered-in-error."""
    status = condition.get("verificationStatus")
    return not (
        has_code(status, VERIFICATION, "refuted") or has_code(status, VERIFICATION, "entered-in-error")
    )


def interval_of(resource: Resource, prefix: str) -> Interval | None:
    return to_interval(resource, prefix)


def within(resource: Resource, prefix: str, window: Interval) -> bool:
    """`<prefix>.toInterval() during day of window`."""
    found = to_interval(resource, prefix)
    return found is not None and found.during_days(window)


def overlapping(resource: Resource, prefix: str, window: Interval) -> bool:
    """`<prefix>.toInterval() overlaps day of window`."""
    found = to_interval(resource, prefix)
    return found is not None and found.overlaps_days(window)


def ends_within(resource: Resource, prefix: str, window: Interval) -> bool:
    """`<prefix>.toInterval() ends during day of window`."""
    found = to_interval(resource, prefix)
    return found is not None and found.end is not None and day_in(found.end.date(), window)


def ends_by(resource: Resource, prefix: str, day: date) -> bool:
    """`<prefix>.toInterval() ends on or before day`."""
    found = to_interval(resource, prefix)
    return found is not None and found.end is not None and found.end.date() <= day


def starts_by(resource: Resource, prefix: str, day: date) -> bool:
    """`<prefix>.toInterval() starts on or before day`."""
    found = to_interval(resource, prefix)
    return found is not None and found.start_day() <= day


def prevalence(condition: Resource) -> Interval | None:
    """QI-Core prevalenceInterval(): onset to abatement; an active condition with no abatement goes on."""
    onset = to_interval(condition, "onset")
    start = onset.start if onset else None
    abatement = to_interval(condition, "abatement")
    end = abatement.end if abatement else None
    clinical = condition.get("clinicalStatus")
    if any(has_code(clinical, CLINICAL_STATUS, code) for code in ACTIVE_CLINICAL) or clinical is None:
        return Interval(start, end)
    if end is None:
        # Inactive with no abatement: CQL's Interval[onset, null) has an unknown end, so it overlaps nothing.
        return Interval(start, None, unknown_end=True)
    return Interval(start, end)


def prevalence_overlaps(condition: Resource, window: Interval) -> bool:
    found = prevalence(condition)
    return found is not None and found.overlaps_days(window)


def prevalence_starts_by(condition: Resource, day: date) -> bool:
    found = prevalence(condition)
    return found is not None and found.start_day() <= day


def prevalence_starts_within(condition: Resource, window: Interval) -> bool:
    found = prevalence(condition)
    return found is not None and found.start is not None and day_in(found.start.date(), window)


def authored_within(resource: Resource, window: Interval) -> bool:
    moment = parse_datetime(resource.get("authoredOn"))
    return moment is not None and day_in(moment.date(), window)


def observation_value(observation: Resource) -> Any:
    """The observation's value[x], or None."""
    for key, value in observation.items():
        if key.startswith("value"):
            return value
    return None


def quantity_value(observation: Resource) -> float | None:
    quantity = observation.get("valueQuantity")
    if isinstance(quantity, dict) and isinstance(quantity.get("value"), int | float):
        return float(quantity["value"])
    return None


# ---- the common exclusions ---------------------------------------------------------------------------
def has_hospice(ctx: Ctx) -> bool:
    """Hospice care at any time in the measurement period (the Hospice library)."""
    vs = COMMON["valuesets"]
    mp = ctx.period
    for encounter in ctx.encounters(vs["encounter_inpatient"]):
        disposition = encounter.get("hospitalization", {}).get("dischargeDisposition")
        if ctx.matches(disposition, COMMON["hospice_discharge"]) and ends_within(encounter, "period", mp):
            return True
    if any(overlapping(e, "period", mp) for e in ctx.encounters(vs["hospice_encounter"])):
        return True
    for obs in ctx.observations(COMMON["hospice_assessment"]):
        if ctx.matches(observation_value(obs), [COMMON["yes"]]) and overlapping(obs, "effective", mp):
            return True
    if any(authored_within(s, mp) for s in ctx.service_requests(vs["hospice_care_ambulatory"])):
        return True
    if any(overlapping(p, "performed", mp) for p in ctx.procedures(vs["hospice_care_ambulatory"])):
        return True
    return any(prevalence_overlaps(c, mp) for c in ctx.conditions(vs["hospice_diagnosis"]))


def has_palliative_care(ctx: Ctx) -> bool:
    """Palliative care at any time in the measurement period (the PalliativeCare library)."""
    vs = COMMON["valuesets"]
    mp = ctx.period
    if any(overlapping(o, "effective", mp) for o in ctx.observations(COMMON["palliative_assessment"])):
        return True
    if any(prevalence_overlaps(c, mp) for c in ctx.conditions(vs["palliative_diagnosis"])):
        return True
    if any(overlapping(e, "period", mp) for e in ctx.encounters(vs["palliative_encounter"])):
        return True
    return any(overlapping(p, "performed", mp) for p in ctx.procedures(vs["palliative_intervention"]))


def has_frailty(ctx: Ctx) -> bool:
    """An indication of frailty in the measurement period (device, diagnosis, encounter or symptom)."""
    vs = COMMON["valuesets"]
    mp = ctx.period
    for request in ctx.record.of("DeviceRequest"):
        if (
            request.get("status") in ("active", "on-hold", "completed")
            and request.get("intent") in ORDER_INTENTS
            and modifier_flag(request, "doNotPerform") is not True
            and modifier_flag(request, "doNotPeform") is not True
            and ctx.matches(request.get("codeCodeableConcept"), [vs["frailty_device"]])
            and authored_within(request, mp)
        ):
            return True
    for obs in ctx.observations(COMMON["medical_equipment_used"]):
        if ctx.matches(observation_value(obs), [vs["frailty_device"]]) and overlapping(obs, "effective", mp):
            return True
    if any(prevalence_overlaps(c, mp) for c in ctx.conditions(vs["frailty_diagnosis"])):
        return True
    if any(overlapping(e, "period", mp) for e in ctx.encounters(vs["frailty_encounter"])):
        return True
    symptoms = ctx.observations(vs["frailty_symptom"], statuses=FINAL_OBSERVATION | {"preliminary"})
    return any(overlapping(o, "effective", mp) for o in symptoms)


def medication_period(request: Resource) -> Interval | None:
    """When an order is in effect: authored (or its dosage bounds) through the supply it covers."""
    authored = parse_datetime(request.get("authoredOn"))
    bounds = [
        to_interval(d.get("timing", {}).get("repeat", {}), "bounds")
        for d in request.get("dosageInstruction", [])
    ]
    starts = [b.start for b in bounds if b and b.start] + ([authored] if authored else [])
    ends = [b.end for b in bounds if b and b.end]
    if not starts:
        return None
    start = min(starts)
    supply = request.get("dispenseRequest", {}).get("expectedSupplyDuration", {})
    if not ends and isinstance(supply.get("value"), int | float) and supply.get("code", "d") in ("d", "days"):
        ends = [start + timedelta(days=float(supply["value"]))]
    return Interval(start, max(ends) if ends else start)


def has_advanced_illness_or_dementia_meds(ctx: Ctx) -> bool:
    """Advanced illness diagnosed, or dementia medication taken, in the measurement period or year prior."""
    vs = COMMON["valuesets"]
    window = ctx.years_before(1)
    if any(prevalence_starts_within(c, window) for c in ctx.conditions(vs["advanced_illness"])):
        return True
    for request in ctx.medication_requests(vs["dementia_medications"]):
        found = medication_period(request)
        if found is not None and found.overlaps_days(window):
            return True
    return False


def is_66_plus_with_advanced_illness_and_frailty(ctx: Ctx) -> bool:
    """Age 66+ at the end of the period, frail, and with advanced illness or dementia medication."""
    age = ctx.age_at_end()
    return age is not None and age >= 66 and has_frailty(ctx) and has_advanced_illness_or_dementia_meds(ctx)


def is_66_plus_in_nursing_home(ctx: Ctx) -> bool:
    """Age 66+ and the last housing status on or before the period's end is a nursing home."""
    age = ctx.age_at_end()
    if age is None or age < 66:
        return False
    dated = []
    for obs in ctx.observations(COMMON["housing_status"]):
        found = to_interval(obs, "effective")
        if found is not None and found.end is not None and found.end.date() <= ctx.end:
            dated.append((found.end, obs))
    if not dated:
        return False
    last = max(dated, key=lambda pair: pair[0])[1]
    return ctx.matches(observation_value(last), [COMMON["lives_in_nursing_home"]])
