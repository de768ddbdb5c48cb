"""The monthly run's phase payments: what the month's program phases pay each clinic, settled against the
ledger so a rerun, a resumed run or a recalculation never pays one twice (`shared/logic/phases.py`).

A phase payment's id is deterministic (program, payer, clinic, what it pays for, period, generation), so the
ledger's history of every slot the month could pay is found by id, without reading the run's member entries:
generation 0, its reversal, generation 1, … A slot is settled like a member's award (`settle_member`): a live
entry that still stands is kept, one that no longer does is reversed, one missing is added. An entry another
run recorded stands whatever this run finds: the one-time onboarding an earlier month paid, or a final run's
payments seen by a later preview of its month.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from shared.logic.dates import month_end
from shared.logic.phases import ONBOARDING_PERIOD, month_days, month_phase_payments
from shared.logic.reversals import settle_member
from shared.models.ledger import EntryKind, LedgerEntry, Phase, PhasePayment, PhaseReason
from shared.models.members import CARE_GAP_PROGRAM
from shared.models.runs import RunMode, RunRef
from shared.programs.phases import ParticipationPhase, ReportingPhase
from shared.services.kinds.base import RunContext, engagement_activities

FixedPhase = ParticipationPhase | ReportingPhase


def _month_phases(ctx: RunContext, month: str) -> list[FixedPhase]:
    """Every participation and reporting phase of every Care Gap version that reaches into the month (of
    versions not in force too: a recalculation finds what an earlier version's phases paid)."""
    first, last = month_days(month)[0], month_end(month)
    return [
        phase
        for program in ctx.catalog.versions
        for phase in program.phases
        if isinstance(phase, FixedPhase) and phase.effective_from <= last and phase.effective_through >= first
    ]


def _templates(ctx: RunContext, run: RunRef, phases: Sequence[FixedPhase]) -> list[LedgerEntry]:
    """An entry of every slot the month's phases could pay any clinic (amounts do not matter: ids do)."""
    slots: set[tuple[Phase, PhaseReason, date]] = set()
    for phase in phases:
        if isinstance(phase, ReportingPhase):
            slots.add((Phase.REPORTING, "reporting_month", phase.effective_from))
            continue
        slots.add((Phase.PARTICIPATION, "enrolled_month", phase.effective_from))
        if phase.onboarding_complete > 0:
            slots.add((Phase.PARTICIPATION, "onboarding_complete", phase.effective_from))
    found = []
    for clinic_id in sorted(ctx.gaps.clinics()):
        for name, reason, start in sorted(slots):
            onboarding = reason == "onboarding_complete"
            found.append(
                LedgerEntry(
                    program=CARE_GAP_PROGRAM,
                    payer=ctx.payer,
                    clinic_id=clinic_id,
                    member_id="",
                    period=ONBOARDING_PERIOD if onboarding else run.period,
                    basis=PhasePayment(
                        phase=name,
                        reason=reason,
                        phase_from=start,
                        month=run.period,
                        amount=Decimal(0),
                        days=0,
                        days_in_month=0,
                        rule="",
                    ),
                    amount_cents=0,
                    rule_version="",
                    action_date=start,
                    earned_month=run.period,
                    run_id=run.run_id,
                )
            )
    return list({e.entry_id: e for e in found}.values())


def _history(ctx: RunContext, templates: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """Every recorded EARN and REVERSAL of the slots, walked generation by generation by id."""
    found: list[LedgerEntry] = []
    open_slots = list(templates)
    generation = 0
    while open_slots:
        earns = {t.entry_id: t for t in (s.model_copy(update={"generation": generation}) for s in open_slots)}
        reversals = {
            t.entry_id: t for t in (e.model_copy(update={"kind": EntryKind.REVERSAL}) for e in earns.values())
        }
        present = ctx.ledger.existing_ids([*earns, *reversals])
        next_slots = []
        for earn_id, earn in earns.items():
            if earn_id not in present:
                continue
            reversal = earn.model_copy(update={"kind": EntryKind.REVERSAL})
            for entry_id in (earn_id, reversal.entry_id):
                stored = ctx.ledger.get(entry_id) if entry_id in present else None
                if stored is not None:
                    found.append(stored)
            if reversal.entry_id in present:
                next_slots.append(earn)
        open_slots, generation = next_slots, generation + 1
    return found


def settle_phase_payments(ctx: RunContext, run: RunRef) -> list[LedgerEntry]:
    """The month's phase payments this run holds (recorded in final mode; a preview: what it would record),
    after settling them against the ledger: earlier runs' one-time payments stand, nothing is paid twice."""
    phases = _month_phases(ctx, run.period)
    if not phases:
        return []
    kinds = {kind for p in phases if isinstance(p, ReportingPhase) for kind in p.submission.file_kinds}
    onboarding = any(isinstance(p, ParticipationPhase) and p.onboarding_complete > 0 for p in phases)
    wanted = month_phase_payments(
        clinics=ctx.gaps.clinics(),
        catalog=ctx.catalog,
        month=run.period,
        files=ctx.files.submissions(kinds) if kinds else (),
        activities=engagement_activities(ctx, run.period) if onboarding else (),
        run_id=run.run_id,
        payer=ctx.payer,
    )
    history = _history(ctx, _templates(ctx, run, phases))
    by_clinic: dict[str, tuple[list[LedgerEntry], list[LedgerEntry]]] = defaultdict(lambda: ([], []))
    for entry in history:
        by_clinic[entry.clinic_id][0].append(entry)
    for entry in wanted:
        by_clinic[entry.clinic_id][1].append(entry)
    held = [e for e in history if e.run_id == run.run_id]
    for _, (paid, supported) in sorted(by_clinic.items()):
        reversed_ids = {e.reverses for e in paid if e.kind is EntryKind.REVERSAL}
        # A one-time payment an earlier run recorded stands: it is neither paid again nor taken back.
        earlier = {
            e.slot
            for e in paid
            if e.run_id != run.run_id and e.kind is EntryKind.EARN and e.entry_id not in reversed_ids
        }
        paid = [e for e in paid if e.slot not in earlier]
        supported = [e for e in supported if e.slot not in earlier]
        for entry in settle_member(paid, supported, run_id=run.run_id, month=run.period):
            if run.mode is RunMode.PREVIEW:
                held.append(entry)
                continue
            stored, _ = ctx.ledger.record(entry)
            if stored.run_id == run.run_id:
                held.append(stored)
    return sorted({e.entry_id: e for e in held}.values(), key=lambda e: e.entry_id)
