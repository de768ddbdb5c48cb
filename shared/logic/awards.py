"""SVU awards: which ledger entries a member's evidence earns up to a month.

Rules (guidelines, action menus and FAQ Q8, Q10, Q13, Q15):
- a step is earned once per occurrence (a year, a date of service, a refill window, a visit, a dose
  series, a condition in a year), by the evidence that completed it first (`occurrences`);
- the month earned is the attestation's month, or the month a confirming claim was received;
- the clinic credited is the one the member was assigned to on the action date, under a line of business
  the action covers, whoever rendered the service (Q10), if it was in Care Gap P4P on that date;
- Medication Management and Historical Diagnosis Review pay only the assigned clinic's own attestation,
  and their confirming step (dispense, claim) only where that clinic attested the occurrence (Q10, Q15);
  a fill confirms the prescription's month or quarter, whichever month the fill falls in (`occurrences`);
- CBP and GSD add the rate card's SVUs for the reading's result tier, and for an improvement over the
  member's previous reading, to the confirming step;
- the rate card is the clinic's track in the program version in force on the action date, as are the
  multiplier and the early-adoption bonus.
Entries are returned for every earned month up to and including `through_month`, so evidence that
arrives after its month's run is paid by the next run; ledger entry ids keep anything from being paid twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from shared.logic.dates import month_end
from shared.logic.eligibility import assignment_on, has_conditions, in_denominator
from shared.logic.money import amount_cents
from shared.logic.occurrences import MemberView, Occurrence, StepCompletion, occurrences
from shared.models.actions import ActionCode, Step
from shared.models.evidence import EvidenceSource
from shared.models.ledger import DEFAULT_PAYER, EntryKind, LedgerEntry, SvuAward
from shared.models.members import Clinic, MemberFacts
from shared.programs.care_gap import ActionDefinition, CareGapProgram, ProgramCatalog


def _definition(catalog: ProgramCatalog, code: ActionCode, through_month: str) -> ActionDefinition | None:
    """The action as the newest version up to `through_month` defines it (menus carry over years)."""
    end = month_end(through_month)
    for program in reversed(catalog.versions):
        if program.effective_from > end:
            continue
        try:
            return program.action(code)
        except KeyError:
            continue
    return None


def _attested_by(occurrence: Occurrence, clinic_id: str) -> bool:
    return any(
        e.source is EvidenceSource.ATTESTATION and e.attesting_clinic_id == clinic_id
        for e in occurrence.evidence
    )


def _svu(
    program: CareGapProgram, clinic: Clinic, action: ActionDefinition, occ: Occurrence, step: Step
) -> Decimal:
    svu = program.svu(clinic.track, action.code, step)
    if action.results is not None and step is action.last_step and occ.reading is not None:
        svu += program.result_svu(clinic.track, action.code, occ.reading.tier)
        if occ.improved:
            svu += program.result_svu(clinic.track, action.code, action.results.improvement)
    return svu


def _entry(
    view: MemberView,
    occurrence: Occurrence,
    completion: StepCompletion,
    action: ActionDefinition,
    clinics: Mapping[str, Clinic],
    catalog: ProgramCatalog,
    run_id: str,
    payer: str,
) -> LedgerEntry | None:
    evidence = completion.evidence
    day = evidence.action_date
    program: CareGapProgram | None = catalog.find(day)
    if program is None or not in_denominator(view.profile, action, occurrence.year, day):
        return None
    if not has_conditions(action, view.conditions, occurrence.year):
        return None
    span = assignment_on(view.spans, action, day)
    clinic = clinics.get(span.clinic_id) if span else None
    if clinic is None or not clinic.in_care_gap_on(day):
        return None
    if not action.category.credits_outside_providers:
        own = (
            evidence.source is EvidenceSource.ATTESTATION and evidence.attesting_clinic_id == clinic.clinic_id
        )
        if not own and not (evidence.source.confirms and _attested_by(occurrence, clinic.clinic_id)):
            return None
    svu = _svu(program, clinic, action, occurrence, completion.step)
    if svu <= 0:
        return None
    multiplier = program.multiplier(action.code, clinic.clinic_id, day)
    joined = clinic.enrollment_on(day)
    bonus = program.bonus_rate(joined.start if joined else clinic.program_enrollment_date, day)
    return LedgerEntry(
        program=program.program,
        payer=payer,
        clinic_id=clinic.clinic_id,
        member_id=view.profile.member_id,
        period=occurrence.period,
        kind=EntryKind.EARN,
        basis=SvuAward(
            action=action.code,
            step=completion.step,
            svu=svu,
            multiplier=multiplier,
            bonus_rate=bonus,
            dollar_rate=program.svu_dollar_rate,
        ),
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
    payer: str = DEFAULT_PAYER,
) -> list[LedgerEntry]:
    """Ledger entries the member's evidence earns in months up to `through_month` (YYYY-MM), for `payer`."""
    view = MemberView.of_facts(facts)
    wanted = set(actions) if actions is not None else set(view.by_action)
    entries = []
    for code in sorted(wanted & set(view.by_action)):
        action = _definition(catalog, ActionCode(code), through_month)
        if action is None:
            continue
        for occurrence in occurrences(view, action):
            for step in action.steps:
                completion = occurrence.completions.get(step)
                if completion is None or completion.earned_month > through_month:
                    continue
                entry = _entry(view, occurrence, completion, action, clinics, catalog, run_id, payer)
                if entry is not None:
                    entries.append(entry)
    return entries
