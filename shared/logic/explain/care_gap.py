"""Care Gap P4P's part of an explanation: every step of the member's gap in the year, and every piece
of its evidence, with the clinic's ledger entries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from shared.logic.awards import AwardTrace, StepVerdict
from shared.logic.dates import month_of
from shared.logic.explain.ledger import LedgerView
from shared.logic.explain.question import Question, action_of, traced_awards
from shared.logic.explain.wording import paid_entry
from shared.logic.gaps import action_gaps
from shared.logic.occurrences import MemberView, Occurrence
from shared.models import explain as why
from shared.models.actions import ActionCode, Step
from shared.models.evidence import Evidence
from shared.models.explain import (
    EvidenceExplanation,
    Explanation,
    ProgramExplanation,
    Reason,
    StepExplanation,
)
from shared.models.ledger import DEFAULT_PAYER, LedgerEntry
from shared.models.members import Clinic, MemberFacts
from shared.models.runs import Run, RunKind, RunMode
from shared.programs.care_gap import CareGapProgram, ProgramCatalog


def _version(ask: Question, evidence: Evidence | None, entries: Sequence[LedgerEntry]) -> str | None:
    if evidence is not None:
        program = ask.catalog.find(evidence.action_date)
        return program.version if program else None
    if entries:
        return entries[0].rule_version
    return ask.program.version if ask.program else None


def _verdict_step(
    ask: Question, verdict: StepVerdict, ledger: LedgerView, eligible: Reason | None
) -> StepExplanation:
    period, step, completion = verdict.occurrence.period, verdict.step, verdict.completion
    reasons: list[Reason] = []
    if completion is not None:
        evidence = completion.evidence
        reasons.append(
            why.COMPLETED.reason(
                step=step.value,
                evidence=evidence.reference,
                action_date=evidence.action_date,
                known_date=evidence.known_date,
                earned_month=completion.earned_month,
            )
        )
    reasons += ledger.facts(period, step)
    stop: Reason | None = None
    if completion is None:
        stop = ask.not_done(verdict.occurrence, step, eligible)
    elif verdict.refusal is not None:
        stop = ask.refusal(verdict)
    elif verdict.entry is not None and verdict.entry.clinic_id != ask.clinic_id:
        stop = why.NOT_ASSIGNED.reason(date=completion.evidence.action_date)
    elif verdict.entry is not None and (period, step) in ledger.pending_earn:
        live = ledger.live(period, step)
        if not any(e.entry_id in ledger.pending_reversal for e in live):
            reasons.append(ask.due(verdict.entry, completion.evidence))
    status = ledger.settle(period, step, reasons, stop)
    entries = ledger.slot(period, step)
    return StepExplanation(
        period=period,
        step=step,
        status=status,
        program_version=_version(ask, completion.evidence if completion else None, entries),
        reasons=tuple(reasons),
        entries=tuple(paid_entry(e, ask.runs, ledger.reversed_by) for e in entries),
    )


def _other_step(ask: Question, period: str, step: Step, ledger: LedgerView, stop: Reason) -> StepExplanation:
    """A step no occurrence weighed: one nobody did, or one the ledger paid whose evidence is gone."""
    reasons = ledger.facts(period, step)
    entries = ledger.slot(period, step)
    status = ledger.settle(period, step, reasons, stop)
    return StepExplanation(
        period=period,
        step=step,
        status=status,
        program_version=_version(ask, None, entries),
        reasons=tuple(reasons),
        entries=tuple(paid_entry(e, ask.runs, ledger.reversed_by) for e in entries),
    )


PlainExplanations = dict[tuple[object, ...], Explanation]
"""Explanations of actions with no evidence and no entry, by what alone decides them (`explain_gaps`)."""


def _expected_periods(ask: Question) -> list[str]:
    """The periods the registry shows for the action in the year (the year itself when it shows none)."""
    clinic = ask.clinics.get(ask.clinic_id)
    gaps = []
    if ask.program is not None:
        track = clinic.track if clinic else None
        gaps = action_gaps(
            ask.view, ask.action, ask.program, as_of=ask.as_of, track=track, period_year=ask.year
        )
    return list(dict.fromkeys(g.period for g in gaps)) or [str(ask.year)]


def _steps(
    ask: Question, trace: AwardTrace, ledger: LedgerView, eligible: Reason | None
) -> list[StepExplanation]:
    found: dict[tuple[str, Step], StepExplanation] = {}
    for verdict in trace.steps:
        if ask.in_scope(verdict.occurrence.period):
            found[(verdict.occurrence.period, verdict.step)] = _verdict_step(ask, verdict, ledger, eligible)
    # The registry's periods of the year, and any the ledger paid: each step no occurrence weighed.
    periods = [*_expected_periods(ask), *(e.period for e in ledger.mine if e.step is not None)]
    for period in dict.fromkeys(periods):
        if any(p.startswith(f"{period}/") for p, _ in found):
            continue  # the registry's one gap of a window whose visits are listed one by one
        for step in ask.action.steps:
            if (period, step) not in found:
                found[(period, step)] = _other_step(
                    ask, period, step, ledger, ask.not_done(None, step, eligible)
                )
    order = {s: i for i, s in enumerate(ask.action.steps)}
    return [found[k] for k in sorted(found, key=lambda k: (k[0], order.get(k[1], 99)))]


def _evidence(ask: Question, trace: AwardTrace, ledger: LedgerView) -> list[EvidenceExplanation]:
    holder: dict[str, Occurrence] = {}
    seen: set[int] = set()
    for v in trace.steps:  # one verdict per step: each occurrence once (an id is a digest)
        if id(v.occurrence) not in seen:
            seen.add(id(v.occurrence))
            holder.update((e.evidence_id, v.occurrence) for e in v.occurrence.evidence)
    completed: dict[str, list[str]] = {}
    for v in trace.steps:
        if v.completion is not None:
            completed.setdefault(v.completion.evidence.evidence_id, []).append(
                f"{v.occurrence.period} {v.step.value}"
            )
    unused = {u.evidence.evidence_id: u for u in trace.unused}
    found: dict[str, EvidenceExplanation] = {}
    for item in sorted(
        ask.view.by_action.get(ask.action.code, []), key=lambda e: (e.known_date, e.action_date, e.reference)
    ):
        evidence_id = item.evidence_id
        occurrence = holder.get(evidence_id)
        if item.action_date.year != ask.year and (occurrence is None or not ask.in_scope(occurrence.period)):
            continue
        reasons: tuple[Reason, ...] = ()
        if evidence_id in completed:
            pass
        elif evidence_id in unused:
            reasons = (ask.unused(unused[evidence_id]),)
        elif occurrence is not None:
            reasons = (ask.idle(item, occurrence, ledger.paid_text),)
        found.setdefault(
            evidence_id,
            EvidenceExplanation(
                reference=item.reference,
                source=item.source.value,
                step=item.step,
                action_date=item.action_date,
                known_date=item.known_date,
                completed=tuple(completed.get(evidence_id, ())),
                reasons=reasons,
            ),
        )
    return list(found.values())


def explain_gap(
    facts: MemberFacts,
    *,
    clinic_id: str,
    action: ActionCode,
    year: int,
    clinics: Mapping[str, Clinic],
    catalog: ProgramCatalog,
    history: Sequence[LedgerEntry],
    runs: Sequence[Run],
    as_of: date,
    payer: str = DEFAULT_PAYER,
    annual: Sequence[ProgramExplanation] = (),
) -> Explanation:
    """Why `clinic_id` was or was not paid for the member's `action` in `year`, as known on `as_of`:
    each step's chain, each piece of evidence, the clinic's entries, and `annual`'s parts as given.
    `history` is every ledger entry of the member; `runs` the final runs (any kind)."""
    (found,) = explain_gaps(
        facts,
        clinic_id=clinic_id,
        actions=[action],
        year=year,
        clinics=clinics,
        catalog=catalog,
        history=history,
        runs=runs,
        as_of=as_of,
        payer=payer,
    )
    return found.model_copy(update={"annual": tuple(annual)}) if annual else found


def explain_gaps(
    facts: MemberFacts,
    *,
    clinic_id: str,
    actions: Sequence[ActionCode],
    year: int,
    clinics: Mapping[str, Clinic],
    catalog: ProgramCatalog,
    history: Sequence[LedgerEntry],
    runs: Sequence[Run],
    as_of: date,
    payer: str = DEFAULT_PAYER,
    plain: PlainExplanations | None = None,
) -> list[Explanation]:
    """`explain_gap` of each of the member's `actions` (no annual part), in their order, asking the rules
    once for all of them: one cut to what was known, one trace of the awards and one of the probes (the
    awards are per action, so one action's evidence or probe changes nothing of another's).

    `plain`, given by a caller explaining many members of a clinic on one day with the same runs, keeps the
    explanation of an action a member has no evidence and no ledger entry of: no step was weighed and
    nothing paid, so its periods and its probe's verdict alone decide it, and a member with the same ones is
    told the same, under its own id."""
    known = facts.model_copy(update={"evidence": tuple(e for e in facts.evidence if e.known_date <= as_of)})
    view = MemberView.of_facts(known)
    by_id = {r.run_id: r for r in runs}
    day = min(as_of, date(year, 12, 31))
    asks: list[tuple[Question, CareGapProgram | None]] = []
    for code in dict.fromkeys(actions):
        program, definition = action_of(catalog, code, day)
        ask = Question(
            facts=known,
            view=view,
            clinic_id=clinic_id,
            year=year,
            as_of=as_of,
            action=definition,
            program=program,
            clinics=clinics,
            catalog=catalog,
            runs=by_id,
            history=history,
            payer=payer,
        )
        asks.append((ask, program))
    codes = [ask.action.code for ask, _ in asks]
    through = month_of(as_of)
    supported, trace = traced_awards(
        known, codes, clinics=clinics, catalog=catalog, through=through, payer=payer, view=view
    )
    probes = {ask.action.code: ask.probe() for ask, _ in asks}
    # The facts with each action's evidence replaced by its probe, as the awards of these actions read them.
    alone = MemberView(
        profile=view.profile,
        spans=view.spans,
        by_action={code: [probe] for code, probe in probes.items()},
        conditions=view.conditions,
    )
    _, probed = traced_awards(
        known, codes, clinics=clinics, catalog=catalog, through=through, payer=payer, view=alone
    )
    closed = [
        r for r in runs if r.run_kind is RunKind.MONTHLY and r.mode is RunMode.FINAL and r.status.closed
    ]
    last_closed = max(closed, key=lambda r: r.period).run_id if closed else None
    found = []
    for ask, program in asks:
        code = ask.action.code
        mine = AwardTrace(
            steps=[v for v in trace.steps if v.action.code == code],
            unused=[u for u in trace.unused if u.evidence.action == code],
        )
        if mine.steps:
            ask.action = mine.steps[0].action
        ask.periods = frozenset(
            v.occurrence.period
            for v in mine.steps
            if any(e.action_date.year == year for e in v.occurrence.evidence)
        )
        ledger = LedgerView.of(ask, [e for e in supported if e.action == code])
        eligible = ask.eligibility_in(probed, probes[code])
        key: tuple[object, ...] | None = None
        if plain is not None and not view.by_action.get(code) and not ledger.of_action:
            why_not = (eligible.code, eligible.text) if eligible is not None else None
            key = (clinic_id, code, year, as_of, last_closed, tuple(_expected_periods(ask)), why_not)
            held = plain.get(key)
            if held is not None:
                found.append(held.model_copy(update={"member_id": facts.profile.member_id}))
                continue
        found.append(
            Explanation(
                clinic_id=clinic_id,
                member_id=facts.profile.member_id,
                action=ask.action.code,
                action_name=ask.action.name,
                year=year,
                as_of=as_of,
                program_version=program.version if program else None,
                last_closed_run=last_closed,
                steps=tuple(_steps(ask, mine, ledger, eligible)),
                evidence=tuple(_evidence(ask, mine, ledger)),
                entries=tuple(
                    paid_entry(e, ask.runs, ledger.reversed_by)
                    for e in sorted(ledger.mine, key=lambda e: (e.earned_month, e.period, e.entry_id))
                ),
            )
        )
        if plain is not None and key is not None:
            plain[key] = found[-1]
    return found
