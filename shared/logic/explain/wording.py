"""The plan's words for a rule's parameters: an action's population, age window and frequency."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from shared.models.actions import ActionCategory
from shared.models.explain import PaidEntry
from shared.models.ledger import EntryKind, LedgerEntry
from shared.models.runs import Run
from shared.programs.care_gap import ActionDefinition
from shared.programs.menu import FrequencyPer

PROGRAM_NAMES = {"care_gap": "Care Gap P4P", "benchmark": "Benchmark P4P", "apc": "APC"}
"""Programs as the plan names them."""

MENU_SECTIONS = {
    ActionCategory.VISIT: "Annual/Wellness Visits",
    ActionCategory.TWO_STEP: "2-Step Quality Measures",
    ActionCategory.THREE_STEP: "3-Step Quality Measures",
    ActionCategory.IMMUNIZATION: "Immunizations",
    ActionCategory.MEDICATION: "Medication Management",
    ActionCategory.DIAGNOSIS_REVIEW: "Historical Diagnosis Review",
}
"""The action menus' sections, as the seed names them (FAQ Q10, Q15 name them so)."""


def menu_section(action: ActionDefinition) -> str:
    """The menu section of an action, in the seed's words."""
    return MENU_SECTIONS[action.category]


def population(action: ActionDefinition) -> str:
    """Who the action is for, e.g. "women 50-74 years" (no member's age: it would tell the birth date)."""
    parts = []
    for band in action.eligibility.bands:
        who = {"F": "women ", "M": "men "}.get(band.sex.value if band.sex else "", "")
        if band.min_age_months is not None or band.max_age_months is not None:
            low, high, unit = band.min_age_months or 0, band.max_age_months, "months"
        else:
            low, high, unit = band.min_age or 0, band.max_age, "years"
        parts.append(f"{who}{low}-{high if high is not None else ''} {unit}".replace("- ", "+ "))
    return " or ".join(parts)


def age_window(action: ActionDefinition) -> str:
    """The action's age window in months of age (never the member's own dates: they tell the birth date)."""
    window = action.visit_window or (action.doses.window if action.doses else None)
    if window is None:
        return "its season"
    days = f" and {window.from_days} days" if window.from_days else ""
    return f"from {window.from_months} months{days} through {window.through_months} months of age"


def frequency(action: ActionDefinition) -> str:
    """How often the action earns, in the menus' words."""
    per, count = action.frequency.per, action.frequency.count
    if per is FrequencyPer.MONTHS_15:
        return f"up to {count} visits in the age window"
    if per is FrequencyPer.DOSE and action.doses is not None:
        return "one dose a season" if action.doses.window is None else f"a series of {action.doses.doses}"
    return {
        FrequencyPer.CALENDAR_YEAR: "up to once a calendar year",
        FrequencyPer.DATE_OF_SERVICE: "once per date of service",
        FrequencyPer.MONTH: "up to once a month",
        FrequencyPer.QUARTER: "up to once a quarter",
        FrequencyPer.PRESCRIPTION: "once a month or a quarter, per prescription duration",
        FrequencyPer.YEAR_PER_CONDITION: "up to once a year per condition",
    }.get(per, per.value)


def run_status(run: Run | None) -> str:
    """A run's status as the clinic reads it ("not started" when there is none)."""
    return run.effective_status.value if run is not None else "not started"


def paid_entry(entry: LedgerEntry, runs: Mapping[str, Run], reversed_ids: Collection[str] = ()) -> PaidEntry:
    """A ledger entry as the clinic reads it, with its run's status and the day it was paid."""
    run = runs.get(entry.run_id)
    approval = run.approval if run else None
    return PaidEntry(
        entry_id=entry.entry_id,
        kind=entry.kind.value,
        step=entry.step,
        period=entry.period,
        amount_cents=entry.amount_cents,
        earned_month=entry.earned_month,
        run_id=entry.run_id,
        run_status=run_status(run) if run else None,
        paid_on=approval.paid_at.date() if approval and approval.paid_at else None,
        evidence_refs=entry.evidence_refs,
        rule_version=entry.rule_version,
        reverses=entry.reverses,
        live=entry.kind is not EntryKind.EARN or entry.entry_id not in reversed_ids,
    )
