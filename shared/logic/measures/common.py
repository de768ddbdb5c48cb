"""The exclusions several eCQMs share: hospice, palliative care, frailty and illness, nursing homes."""

from __future__ import annotations

from shared.logic.measures.context import (
    FINAL_OBSERVATION,
    ORDER_INTENTS,
    Ctx,
    authored_within,
    ends_within,
    overlaps,
    prevalence_overlaps,
    prevalence_starts_within,
    span,
)
from shared.logic.measures.records import Record

_DEVICE_STATUSES = frozenset({"active", "on-hold", "completed"})


def value_is(ctx: Ctx, record: Record, specs: list[str]) -> bool:
    """Whether an observation's coded result is one of the specs."""
    return ctx.matches(record.value_codes, specs)


def has_hospice(ctx: Ctx) -> bool:
    """Hospice care at any time in the measurement period (the Hospice library)."""
    c = ctx.common
    mp = ctx.period
    for encounter in ctx.encounters(ctx.common_oid("encounter_inpatient")):
        if ctx.matches(encounter.discharge, c.hospice_discharge) and ends_within(encounter, mp):
            return True
    if any(overlaps(e, mp) for e in ctx.encounters(ctx.common_oid("hospice_encounter"))):
        return True
    for obs in ctx.observations(c.hospice_assessment):
        if value_is(ctx, obs, [c.yes]) and overlaps(obs, mp):
            return True
    care = ctx.common_oid("hospice_care_ambulatory")
    if any(authored_within(s, mp) for s in ctx.service_requests(care)):
        return True
    if any(overlaps(p, mp) for p in ctx.procedures(care)):
        return True
    return any(prevalence_overlaps(d, mp) for d in ctx.conditions(ctx.common_oid("hospice_diagnosis")))


def has_palliative_care(ctx: Ctx) -> bool:
    """Palliative care at any time in the measurement period (the PalliativeCare library)."""
    mp = ctx.period
    if any(overlaps(o, mp) for o in ctx.observations(ctx.common.palliative_assessment)):
        return True
    if any(prevalence_overlaps(d, mp) for d in ctx.conditions(ctx.common_oid("palliative_diagnosis"))):
        return True
    if any(overlaps(e, mp) for e in ctx.encounters(ctx.common_oid("palliative_encounter"))):
        return True
    return any(overlaps(p, mp) for p in ctx.procedures(ctx.common_oid("palliative_intervention")))


def has_frailty(ctx: Ctx) -> bool:
    """An indication of frailty in the measurement period (device, diagnosis, encounter or symptom)."""
    mp = ctx.period
    device = ctx.common_oid("frailty_device")
    for request in ctx.coded(("DeviceRequest",), [device]):
        if (
            request.status in _DEVICE_STATUSES
            and request.intent in ORDER_INTENTS
            and not request.negated
            and authored_within(request, mp)
        ):
            return True
    for obs in ctx.observations(ctx.common.medical_equipment_used):
        if value_is(ctx, obs, [device]) and overlaps(obs, mp):
            return True
    if any(prevalence_overlaps(d, mp) for d in ctx.conditions(ctx.common_oid("frailty_diagnosis"))):
        return True
    if any(overlaps(e, mp) for e in ctx.encounters(ctx.common_oid("frailty_encounter"))):
        return True
    symptoms = ctx.observations(
        ctx.common_oid("frailty_symptom"), statuses=FINAL_OBSERVATION | {"preliminary"}
    )
    return any(overlaps(o, mp) for o in symptoms)


def has_advanced_illness_or_dementia_meds(ctx: Ctx) -> bool:
    """Advanced illness diagnosed, or dementia medication taken, in the measurement period or year prior."""
    window = ctx.years_before(1)
    illness = ctx.conditions(ctx.common_oid("advanced_illness"))
    if any(prevalence_starts_within(d, window) for d in illness):
        return True
    return any(overlaps(m, window) for m in ctx.medication_requests(ctx.common_oid("dementia_medications")))


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
    for obs in ctx.observations(ctx.common.housing_status):
        found = span(obs)
        if found is not None and found.last is not None and found.last <= ctx.last:
            dated.append((found.last, obs))
    if not dated:
        return False
    last = max(dated, key=lambda pair: pair[0])[1]
    return value_is(ctx, last, [ctx.common.lives_in_nursing_home])


def common_exclusions(ctx: Ctx) -> bool:
    """Hospice, 66+ frailty with advanced illness, 66+ in a nursing home, palliative care."""
    return (
        has_hospice(ctx)
        or is_66_plus_with_advanced_illness_and_frailty(ctx)
        or is_66_plus_in_nursing_home(ctx)
        or has_palliative_care(ctx)
    )
