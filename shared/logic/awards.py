"""SVU awards: which ledger entries a member's evidence earns up to a month.

Rules (guidelines, 3-Step Quality Measures and FAQ Q8, Q10, Q15):
- a step is earned once per gap, by the evidence that completed it first (`step_completions`);
- the month earned is the attestation's month, or the month a confirming claim was received;
- the clinic credited is the one the member was assigned to on the action date, under a line of business
  the action covers, whoever rendered the service (Q10), if it was in Care Gap P4P on that date;
- the rate card is the clinic's track in the program version in force on the action date, as are the
  multiplier and the early-adoption bonus.
Entries are returned for every earned month up to and including `through_month`, so evidence that
arrives after its month's run is paid by the next run; ledger entry ids keep anything from being paid twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from shared.logic.eligibility import assignment_on, in_denominator
from shared.logic.gaps import StepCompletion, step_completions
from shared.logic.money import amount_cents
from shared.models.actions import ActionCode
from shared.models.evidence import EvidenceSource
from shared.models.ledger import EntryKind, LedgerEntry
from shared.models.members import Clinic, MemberFacts
from shared.programs.care_gap import ActionDefinition, CareGapProgram, ProgramCatalog


def _definition(catalog: ProgramCatalog, code: ActionCode, period_year: int) -> ActionDefinition | None:
    program = catalog.find(date(period_year, 12, 31)) or catalog.find(date(period_year, 1, 1))
    if program is None:
        return None
    try:
        return program.action(code)
    except KeyError:
        return None


def _entry(
    facts: MemberFacts,
    completion: StepCompletion,
    action: ActionDefinition,
    period_year: int,
    clinics: Mapping[str, Clinic],
    catalog: ProgramCatalog,
    run_id: str,
) -> LedgerEntry | None:
    evidence = completion.evidence
    day = evidence.action_date
    program: CareGapProgram | None = catalog.find(day)
    if program is None or not in_denominator(facts.profile, action, period_year, day):
        return None
    span = assignment_on(facts.spans, action, day)
    clinic = clinics.get(span.clinic_id) if span else None
    if clinic is None or not clinic.in_care_gap_on(day):
        return None
    if not action.category.credits_outside_providers and (
        evidence.source is not EvidenceSource.ATTESTATION or evidence.attesting_clinic_id != clinic.clinic_id
    ):
        return None
    svu = program.svu(clinic.track, action.code, completion.step)
    if svu <= 0:
        return None
    multiplier = program.multiplier(action.code, clinic.clinic_id, day)
    bonus = program.bonus_rate(clinic.program_enrollment_date, day)
    return LedgerEntry(
        program=program.program,
        clinic_id=clinic.clinic_id,
        member_id=facts.profile.member_id,
        action=action.code,
        period=str(period_year),
        step=completion.step,
        kind=EntryKind.EARN,
        svu=svu,
        multiplier=multiplier,
        bonus_rate=bonus,
        dollar_rate=program.svu_dollar_rate,
        amount_cents=amount_cents(
            svu=svu, multiplier=multiplier, bonus_rate=bonus, dollar_rate=program.svu_dollar_rate
        ),
        rule_version=program.version,
        evidence_ids=(evidence.evidence_id,),
        evidence_refs=(evidence.reference,),
        action_date=day,
        earned_month=completion.earned_month,
        run_id=run_id,
    )


def member_awards(
    facts: MemberFacts,
    *,
    clinics: Mapping[str, Clinic],
    catalog: ProgramCatalog,
    through_month: str,
    run_id: str,
    actions: Iterable[ActionCode] | None = None,
) -> list[LedgerEntry]:
    """Ledger entries the member's evidence earns in months up to `through_month` (YYYY-MM)."""
    wanted = set(actions) if actions is not None else {e.action for e in facts.evidence}
    periods = sorted({(e.action, e.action_date.year) for e in facts.evidence if e.action in wanted})
    entries = []
    for code, year in periods:
        action = _definition(catalog, code, year)
        if action is None:
            continue
        done = step_completions(action, facts.evidence, str(year))
        for step in action.steps:
            completion = done.get(step)
            if completion is None or completion.earned_month > through_month:
                continue
            entry = _entry(facts, completion, action, year, clinics, catalog, run_id)
            if entry is not None:
                entries.append(entry)
    return entries
