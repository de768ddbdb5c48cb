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
  multiplier and the early-adoption bonus;
- so is the program phase (`shared/programs/phases.py`): participation and reporting pay no SVUs, success
  only its outcome actions; the award names the phase when the version has phases.
Entries are returned for every earned month up to and including `through_month`, so evidence that
arrives after its month's run is paid by the next run; ledger entry ids keep anything from being paid twice.
Given an `AwardTrace`, `member_awards` also records what it decided for every step it weighed (the entry,
or the first rule that refused it) and the evidence no occurrence took: `shared/logic/explain.py` answers
"why was I not paid?" from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from shared.logic.dates import month_end
from shared.logic.eligibility import assignment_on, has_conditions, in_denominator
from shared.logic.money import amount_cents
from shared.logic.occurrences import MemberView, Occurrence, StepCompletion, UnusedEvidence, occurrences
from shared.models.actions import ActionCode, Step
from shared.models.evidence import EvidenceSource
from shared.models.ledger import DEFAULT_PAYER, EntryKind, LedgerEntry, SvuAward
from shared.models.members import Clinic, MemberFacts
from shared.programs.care_gap import ActionDefinition, CareGapProgram, ProgramCatalog


class Refusal(StrEnum):
    """The first rule that kept a completed step from earning, in the order `member_awards` applies them."""

    NO_PROGRAM = "no_program"
    """No program version is in force on the action date."""
    POPULATION = "population"
    """Outside the action's ages and sexes (on its anchor date)."""
    CONDITIONS = "conditions"
    """A required condition is missing, or an exclusion is present."""
    NOT_ASSIGNED = "not_assigned"
    """Assigned to no clinic on the action date under a line of business the action covers."""
    NOT_IN_CARE_GAP = "not_in_care_gap"
    """The assigned clinic is unknown, or not in Care Gap P4P on the action date."""
    NOT_OWN_ATTESTATION = "not_own_attestation"
    """Medication Management, HCC-DX: not the assigned clinic's own attestation, nor confirming one."""
    PHASE = "phase"
    """The program phase in force on the action date pays no SVUs for the action."""
    NO_SVU = "no_svu"
    """The clinic's rate card pays no SVUs for the step."""
    LATER_MONTH = "later_month"
    """Earned in a month after `through_month`."""


@dataclass(frozen=True)
class StepVerdict:
    """One step of one occurrence as `member_awards` weighed it: the entry it earns, the rule that refused
    it, or neither when no evidence completed the step."""

    action: ActionDefinition
    occurrence: Occurrence
    step: Step
    completion: StepCompletion | None
    entry: LedgerEntry | None = None
    refusal: Refusal | None = None


@dataclass
class AwardTrace:
    """What `member_awards` decided, when asked to keep it: every step weighed, and unused evidence."""

    steps: list[StepVerdict] = field(default_factory=list)
    unused: list[UnusedEvidence] = field(default_factory=list)


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
) -> LedgerEntry | Refusal:
    evidence = completion.evidence
    day = evidence.action_date
    program: CareGapProgram | None = catalog.find(day)
    if program is None:
        return Refusal.NO_PROGRAM
    if not in_denominator(view.profile, action, occurrence.year, day):
        return Refusal.POPULATION
    if not has_conditions(action, view.conditions, occurrence.year):
        return Refusal.CONDITIONS
    span = assignment_on(view.spans, action, day)
    if span is None:
        return Refusal.NOT_ASSIGNED
    clinic = clinics.get(span.clinic_id)
    if clinic is None or not clinic.in_care_gap_on(day):
        return Refusal.NOT_IN_CARE_GAP
    if not action.category.credits_outside_providers:
        own = (
            evidence.source is EvidenceSource.ATTESTATION and evidence.attesting_clinic_id == clinic.clinic_id
        )
        if not own and not (evidence.source.confirms and _attested_by(occurrence, clinic.clinic_id)):
            return Refusal.NOT_OWN_ATTESTATION
    pays, phase = program.pays_svu(action.code, day)
    if not pays:
        return Refusal.PHASE
    svu = _svu(program, clinic, action, occurrence, completion.step)
    if svu <= 0:
        return Refusal.NO_SVU
    multiplier = program.multiplier(action.code, clinic.clinic_id, day)
    joined = clinic.enrollment_on(day)
    bonus = program.bonus_rate(joined.start if joined else clinic.program_enrollment_date, day)
    return LedgerEntry(
        program=program.program,
        payer=span.payer(payer),  # the plan the member is with on the action date (plans paying together)
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
            phase=phase,
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
    trace: AwardTrace | None = None,
    view: MemberView | None = None,
) -> list[LedgerEntry]:
    """Ledger entries the member's evidence earns in months up to `through_month` (YYYY-MM), each paid by the
    payer the member's roster span names on its action date (`payer`, the deploying plan, when it names none);
    with `trace`, also what was decided for every step and the evidence no occurrence took. `view`: the
    facts already indexed (`MemberView.of_facts(facts)`), when the caller has them."""
    view = view if view is not None else MemberView.of_facts(facts)
    wanted = set(actions) if actions is not None else set(view.by_action)
    entries = []
    for code in sorted(wanted & set(view.by_action)):
        action = _definition(catalog, ActionCode(code), through_month)
        if action is None:
            continue
        for occurrence in occurrences(view, action, trace.unused if trace is not None else None):
            for step in action.steps:
                completion = occurrence.completions.get(step)
                outcome: LedgerEntry | Refusal | None = None
                if completion is not None and completion.earned_month > through_month:
                    outcome = Refusal.LATER_MONTH
                elif completion is not None:
                    outcome = _entry(view, occurrence, completion, action, clinics, catalog, run_id, payer)
                if isinstance(outcome, LedgerEntry):
                    entries.append(outcome)
                if trace is not None:
                    entry = outcome if isinstance(outcome, LedgerEntry) else None
                    refusal = outcome if isinstance(outcome, Refusal) else None
                    trace.steps.append(StepVerdict(action, occurrence, step, completion, entry, refusal))
    return entries
