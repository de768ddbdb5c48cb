"""One question (a clinic, a member's action, a year) and the rules that stop its steps, in the plan's words.

Every rule is asked of the engine's own functions: `member_awards` with a trace, the occurrences' own
reasons for unused evidence, and the eligibility and counting functions the awards call."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from shared.errors import DomainError
from shared.logic.awards import AwardTrace, Refusal, StepVerdict, member_awards
from shared.logic.counting import valid_doses
from shared.logic.dates import month_of
from shared.logic.eligibility import anchor_date, assignment_on, has_conditions, span_on
from shared.logic.explain.wording import (
    PROGRAM_NAMES,
    age_window,
    frequency,
    menu_section,
    population,
    run_status,
)
from shared.logic.occurrences import (
    UNATTESTABLE,
    MemberView,
    Occurrence,
    Unused,
    UnusedEvidence,
    first_completions,
    historical_conditions,
    occurrences,
    tests_found,
)
from shared.models import explain as why
from shared.models.actions import ActionCode, Step
from shared.models.evidence import Evidence, EvidenceSource
from shared.models.explain import Reason
from shared.models.ledger import DEFAULT_PAYER, LedgerEntry
from shared.models.members import Clinic, MemberFacts
from shared.models.runs import Run, RunKind, RunMode
from shared.programs.care_gap import ActionDefinition, CareGapProgram, ProgramCatalog

NEXT_RUN = "next-run"
"""The run id the explanation settles under: the next monthly run, as yet unnamed."""
PROBE = "explain-probe"
"""The id of the attestation an eligibility probe makes up (it never leaves the explanation)."""

PaidText = Callable[[str, Step], str]
"""`, paid by run R` for a (period, step) the clinic was paid, else an empty string."""


class UnknownActionError(DomainError):
    """No Care Gap program version has the action."""


def action_of(
    catalog: ProgramCatalog, code: str, day: date
) -> tuple[CareGapProgram | None, ActionDefinition]:
    """The version in force on `day`, and the action as it defines it (or the newest version that has it)."""
    program = catalog.find(day)
    for version in (*([program] if program else []), *reversed(catalog.versions)):
        try:
            return program, version.action(code)
        except KeyError:
            continue
    raise UnknownActionError(f"no Care Gap program version has action {code}")


def traced_awards(
    facts: MemberFacts,
    codes: Sequence[str],
    *,
    clinics: Mapping[str, Clinic],
    catalog: ProgramCatalog,
    through: str,
    payer: str,
    view: MemberView | None = None,
) -> tuple[list[LedgerEntry], AwardTrace]:
    """`member_awards` of these actions through the month, with its trace, under the explanation's run id
    (`view`: the facts already indexed)."""
    trace = AwardTrace()
    found = member_awards(
        facts,
        clinics=clinics,
        catalog=catalog,
        through_month=through,
        run_id=NEXT_RUN,
        actions=[ActionCode(c) for c in codes],
        payer=payer,
        trace=trace,
        view=view,
    )
    return found, trace


@dataclass
class Question:
    """One question: the member's facts as known, the clinic, the year, and what the rules said."""

    facts: MemberFacts
    view: MemberView
    clinic_id: str
    year: int
    as_of: date
    action: ActionDefinition
    program: CareGapProgram | None
    clinics: Mapping[str, Clinic]
    catalog: ProgramCatalog
    runs: Mapping[str, Run]
    history: Sequence[LedgerEntry]
    payer: str = DEFAULT_PAYER
    periods: frozenset[str] = frozenset()
    """Periods of other years whose evidence is dated in the year (a well-child visit's, a series')."""

    @property
    def through(self) -> str:
        return month_of(self.as_of)

    def in_scope(self, period: str) -> bool:
        """A period of the year asked about, or one whose evidence is dated in it."""
        return period[:4] == str(self.year) or period in self.periods

    # --- the rules that stop a step -------------------------------------------------------------

    def refusal(self, verdict: StepVerdict) -> Reason:
        """The plan's words for the rule `member_awards` refused a completed step with, from K's side."""
        assert verdict.completion is not None and verdict.refusal is not None
        evidence, action, year = verdict.completion.evidence, verdict.action, verdict.occurrence.year
        day = evidence.action_date
        if verdict.refusal is Refusal.NO_PROGRAM:
            return why.NO_PROGRAM.reason(date=day)
        if verdict.refusal is Refusal.POPULATION:
            anchor = anchor_date(action, year, day)
            return why.AGE_WINDOW.reason(
                action=action.code, anchor_date=anchor, population=population(action)
            )
        if verdict.refusal is Refusal.CONDITIONS:
            rules = action.eligibility
            relaxed = action.model_copy(update={"eligibility": rules.model_copy(update={"exclusions": ()})})
            years = f"{year - rules.lookback_years}-{year}"
            if has_conditions(relaxed, self.view.conditions, year):
                return why.CONDITION_EXCLUDED.reason(
                    action=action.code, exclusions=", ".join(rules.exclusions), years=years
                )
            return why.CONDITION_MISSING.reason(
                action=action.code, conditions=", ".join(rules.conditions), years=years
            )
        if verdict.refusal is Refusal.LATER_MONTH:
            month = verdict.completion.earned_month
            run_id = f"monthly-{month}-final"
            return why.RUN_NOT_CLOSED.reason(
                earned_month=month, run_id=run_id, status=run_status(self.runs.get(run_id))
            )
        span = assignment_on(self.view.spans, action, day)
        if span is None:
            held = span_on(self.view.spans, day)
            if held is None or held.clinic_id != self.clinic_id:
                return why.NOT_ASSIGNED.reason(date=day)
            lines = ", ".join(sorted(line.value for line in action.lines_of_business))
            return why.LINE_OF_BUSINESS.reason(
                date=day, line=held.line_of_business.value, action=action.code, lines=lines
            )
        if span.clinic_id != self.clinic_id:
            return why.NOT_ASSIGNED.reason(date=day)
        clinic = self.clinics.get(self.clinic_id)
        if verdict.refusal is Refusal.NOT_IN_CARE_GAP:
            enrolled = clinic.enrollment_on(day) if clinic else None
            name = PROGRAM_NAMES.get(enrolled.program, enrolled.program) if enrolled else "no program"
            return why.NOT_IN_CARE_GAP.reason(date=day, program=name)
        if verdict.refusal is Refusal.NOT_OWN_ATTESTATION:
            return self.attestation_missing(evidence, verdict.occurrence.period)
        program = self.catalog.find(day)
        phase = program.phase_on(day) if program else None
        if verdict.refusal is Refusal.PHASE and program is not None and phase is not None:
            return why.PHASE_PAYS_NO_SVU.reason(
                version=program.version, phase=phase.phase, date=day, action=action.code
            )
        return why.NO_SVU.reason(
            track=clinic.track.value if clinic else "?",
            version=program.version if program else "?",
            step=verdict.step.value,
        )

    def attestation_missing(self, evidence: Evidence, period: str) -> Reason:
        category = menu_section(self.action)
        if evidence.source is EvidenceSource.ATTESTATION:
            what = f"{evidence.reference} was attested by another clinic"
        else:
            what = f"{evidence.reference} came without the clinic's own attestation of {period}"
        return why.ATTESTATION_MISSING.reason(category=category, what=what)

    def unused(self, item: UnusedEvidence) -> Reason:
        """The plan's words for the rule that put a piece of evidence in no occurrence."""
        evidence, action = item.evidence, self.action
        day = evidence.action_date
        if item.why is Unused.OUTSIDE_AGE_WINDOW:
            return why.OUTSIDE_AGE_WINDOW.reason(date=day, action=action.code, window=age_window(action))
        if item.why is Unused.OUTSIDE_CONDITION_WINDOW:
            names = action.eligibility.conditions
            dates = sorted(d for n in names for d in self.view.conditions.get(n, ()))
            return why.AFTER_CONDITION_WINDOW.reason(
                date=day,
                action=action.code,
                days=action.due_days_after_condition,
                condition=", ".join(names),
                dates=", ".join(d.isoformat() for d in dates) or "none",
            )
        if item.why is Unused.NOT_A_PRESCRIPTION:
            return why.ATTESTATION_NOT_ACCEPTED.reason(step=evidence.step.value, action=action.code)
        if item.why is Unused.NOT_ASSIGNED_CLINICS_PRESCRIPTION:
            if evidence.attesting_clinic_id == self.clinic_id:
                return why.NOT_ASSIGNED.reason(date=day)
            return self.attestation_missing(evidence, "")
        if item.why is Unused.NO_PRESCRIPTION_WINDOW:
            days = sorted({w.dispense_within_days for w in action.prescription_windows})
            return why.NO_PRESCRIPTION_WINDOW.reason(days=" or ".join(map(str, days)), date=day)
        if item.why is Unused.VISITS_USED:
            taken = occurrences(self.view, action)
            by = ", ".join(c.evidence.reference for o in taken if (c := o.completions.get(action.last_step)))
            periods = f"{taken[0].period} to {taken[-1].period}" if taken else str(day.year)
            return why.FREQUENCY_USED.reason(
                frequency=frequency(action), by=by or "earlier visits", period=periods, paid=""
            )
        conditions = historical_conditions(self.view, action, day.year)
        what = f"{evidence.reference} is for none of them" if conditions else "none on file"
        return why.NO_HISTORICAL_CONDITION.reason(
            action=action.code, lookback=action.eligibility.lookback_years, year=day.year, what=what
        )

    def probe_day(self) -> date:
        """The last day of the year, up to today, the member was assigned to the clinic (else that bound)."""
        cap, first = min(self.as_of, date(self.year, 12, 31)), date(self.year, 1, 1)
        days = []
        for span in self.view.spans:
            if span.clinic_id == self.clinic_id:
                for day in (span.start, span.end or cap):
                    day = min(max(day, first), cap)
                    held = span_on(self.view.spans, day)
                    if held is not None and held.clinic_id == self.clinic_id:
                        days.append(day)
        return max(days, default=cap)

    def probe(self) -> Evidence:
        """The clinic's own attestation of the action's first step, made up on the probe day."""
        return Evidence(
            member_id=self.facts.profile.member_id,
            action=self.action.code,
            step=self.action.first_step,
            action_date=self.probe_day(),
            source=EvidenceSource.ATTESTATION,
            file_id=PROBE,
            source_row=0,
            attestation_id=PROBE,
            attesting_clinic_id=self.clinic_id,
        )

    def eligibility_in(self, trace: AwardTrace, probe: Evidence) -> Reason | None:
        """The first rule that would refuse the clinic's own attestation of the first step made alone on the
        probe day (`probe`), read from a trace of the awards with it in place of the action's own evidence
        (other actions' probes beside it change nothing: awards are per action); None when it would earn."""
        probe_id, code = probe.evidence_id, self.action.code
        for item in trace.unused:
            if item.evidence.action == code and item.evidence.evidence_id == probe_id:
                return self.unused(item)
        for verdict in trace.steps:
            if (
                verdict.completion is not None
                and verdict.action.code == code
                and verdict.completion.evidence.evidence_id == probe_id
            ):
                if verdict.refusal is not None:
                    return self.refusal(verdict)
                if verdict.entry is not None and verdict.entry.clinic_id != self.clinic_id:
                    return why.NOT_ASSIGNED.reason(date=probe.action_date)
        return None

    def not_done(self, occurrence: Occurrence | None, step: Step, eligible: Reason | None) -> Reason:
        """Why a step no evidence completed is not paid: the eligibility probe first, then what is missing."""
        if eligible is not None:
            return eligible
        action = self.action
        confirming = [e for e in occurrence.evidence if e.source.confirms] if occurrence else []
        if not action.category.credits_outside_providers:
            first_done = occurrence is not None and action.first_step in occurrence.completions
            if step not in UNATTESTABLE or not first_done:
                what = f"no attestation of {action.first_step.value} by the clinic in the App"
                category = menu_section(action)
                return why.ATTESTATION_MISSING.reason(category=category, what=what)
            if action.prescription_windows:
                days = " or ".join(str(w.dispense_within_days) for w in action.prescription_windows)
                hint = (
                    f"no pharmacy claim dispensed on the prescription's date or up to {days} days after, yet"
                )
            else:
                hint = "no claim with a diagnosis of the condition yet"
            return why.NOT_DONE.reason(hint=hint)
        if step is action.last_step and occurrence is not None and confirming:
            if action.requires and not tests_found(action, confirming):
                return self.tests_incomplete(confirming)
            if action.doses is not None and occurrence.window_start and occurrence.due_date:
                counted = valid_doses(confirming, occurrence.window_start, occurrence.due_date)
                return why.SERIES_INCOMPLETE.reason(doses=action.doses.doses, counted=len(counted))
        if step in UNATTESTABLE:
            return why.NOT_DONE.reason(hint="no claim or supplemental record confirming the service yet")
        return why.NOT_DONE.reason(
            hint="not attested in the App; a claim or supplemental record completing the action pays every "
            "open step (Q15)"
        )

    def tests_incomplete(self, confirming: Sequence[Evidence]) -> Reason:
        action = self.action
        found = [
            t.name
            for t in action.requires
            if tests_found(action.model_copy(update={"requires": (t,)}), confirming)
        ]
        return why.TESTS_INCOMPLETE.reason(
            action=action.code,
            tests=", ".join(t.name for t in action.requires),
            found=", ".join(found) or "none",
        )

    def idle(self, evidence: Evidence, occurrence: Occurrence, paid: PaidText) -> Reason:
        """Why evidence an occurrence holds completed no step: probed alone, what it would complete."""
        action = self.action
        if action.doses is not None:
            return self.dose(evidence, occurrence, paid)
        alone = first_completions(action, [evidence])
        if not alone:
            if evidence.source is EvidenceSource.ATTESTATION:
                return why.ATTESTATION_NOT_ACCEPTED.reason(step=evidence.step.value, action=action.code)
            last = occurrence.completions.get(action.last_step)
            if last is not None:
                return why.TEST_COUNTED.reason(action=action.code, by=last.evidence.reference)
            return self.tests_incomplete([e for e in occurrence.evidence if e.source.confirms])
        step = [s for s in action.steps if s in alone][-1]  # the confirming step, for a claim
        done = occurrence.completions.get(step)
        if done is None:  # not reached: what it completes alone, its occurrence has completed
            return why.NOT_DONE.reason(hint=f"{evidence.reference} completed no step of {occurrence.period}")
        return why.FREQUENCY_USED.reason(
            frequency=frequency(action),
            by=done.evidence.reference,
            period=occurrence.period,
            paid=paid(occurrence.period, step),
        )

    def dose(self, evidence: Evidence, occurrence: Occurrence, paid: PaidText) -> Reason:
        action, period = self.action, occurrence.period
        assert action.doses is not None and occurrence.window_start and occurrence.due_date
        if evidence.source is EvidenceSource.ATTESTATION:
            done = occurrence.completions.get(evidence.step)
            if done is None:
                return why.ATTESTATION_NOT_ACCEPTED.reason(step=evidence.step.value, action=action.code)
            text = paid(period, evidence.step)
            return why.FREQUENCY_USED.reason(
                frequency=frequency(action), by=done.evidence.reference, period=period, paid=text
            )
        confirming = [e for e in occurrence.evidence if e.source.confirms]
        ids = [d.evidence_id for d in valid_doses(confirming, occurrence.window_start, occurrence.due_date)]
        if evidence.evidence_id not in ids:
            if not occurrence.window_start <= evidence.action_date <= occurrence.due_date:
                day = evidence.action_date
                return why.OUTSIDE_AGE_WINDOW.reason(date=day, action=action.code, window=age_window(action))
            same_day = next(
                e for e in confirming if e.action_date == evidence.action_date and e.evidence_id in ids
            )
            return why.FREQUENCY_USED.reason(
                frequency="one dose a day", by=same_day.reference, period=period, paid=""
            )
        final = occurrence.completions.get(action.last_step)
        position = ids.index(evidence.evidence_id)
        if final is not None and final.evidence.evidence_id in ids[:position]:
            text = paid(period, action.last_step)
            return why.FREQUENCY_USED.reason(
                frequency=frequency(action), by=final.evidence.reference, period=period, paid=text
            )
        return why.DOSE_COUNTED.reason(n=position + 1, doses=action.doses.doses)

    def due(self, entry: LedgerEntry, evidence: Evidence) -> Reason:
        """Why a step earned on what is known now is unpaid: its month's run is not closed, or missed it."""
        closed = [
            r
            for r in self.runs.values()
            if r.run_kind is RunKind.MONTHLY
            and r.mode is RunMode.FINAL
            and r.status.closed
            and r.period >= entry.earned_month
        ]
        if closed:
            last = max(closed, key=lambda r: r.period)
            return why.NOT_KNOWN_AT_LAST_RUN.reason(
                earned_month=entry.earned_month,
                evidence=evidence.reference,
                known_date=evidence.known_date,
                run_id=last.run_id,
            )
        run_id = f"monthly-{entry.earned_month}-final"
        return why.RUN_NOT_CLOSED.reason(
            earned_month=entry.earned_month, run_id=run_id, status=run_status(self.runs.get(run_id))
        )
