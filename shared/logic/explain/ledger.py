"""The clinic's side of the ledger for one question: what it was paid for the action in the year, and
what the next monthly run would append (`settle_member` against what is known now)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.logic.explain.question import NEXT_RUN, Question
from shared.logic.explain.wording import run_status
from shared.logic.money import format_cents
from shared.logic.reversals import settle_member
from shared.models import explain as why
from shared.models.actions import Step
from shared.models.explain import Reason, StepStatus
from shared.models.ledger import EntryKind, LedgerEntry
from shared.models.members import CARE_GAP_PROGRAM


@dataclass
class LedgerView:
    """The clinic's entries for the action in the year, and what the next run would append."""

    ask: Question
    of_action: list[LedgerEntry]
    """Every Care Gap entry of the member for the action, any clinic."""
    mine: list[LedgerEntry]
    reversed_by: dict[str, LedgerEntry]
    pending_earn: dict[tuple[str, Step | None], LedgerEntry]
    pending_reversal: set[str]
    slots: dict[tuple[str, Step | None], list[LedgerEntry]]
    """`mine` by (period, step)."""
    live_slots: dict[tuple[str, Step | None], list[LedgerEntry]]
    """The awards of each slot no reversal names (an entry id is a digest: each is taken once)."""

    @classmethod
    def of(cls, ask: Question, supported: Sequence[LedgerEntry]) -> LedgerView:
        code = ask.action.code
        of_action = [e for e in ask.history if e.program == CARE_GAP_PROGRAM and e.action == code]
        pending = settle_member(of_action, supported, run_id=NEXT_RUN, month=ask.through)
        mine = [e for e in of_action if e.clinic_id == ask.clinic_id and ask.in_scope(e.period)]
        reversed_by = {e.reverses: e for e in of_action if e.kind is EntryKind.REVERSAL and e.reverses}
        slots: dict[tuple[str, Step | None], list[LedgerEntry]] = {}
        live_slots: dict[tuple[str, Step | None], list[LedgerEntry]] = {}
        for e in mine:
            slots.setdefault((e.period, e.step), []).append(e)
            if e.kind is EntryKind.EARN and e.entry_id not in reversed_by:
                live_slots.setdefault((e.period, e.step), []).append(e)
        return cls(
            ask=ask,
            of_action=of_action,
            mine=mine,
            reversed_by=reversed_by,
            pending_earn={(e.period, e.step): e for e in pending if e.kind is EntryKind.EARN},
            pending_reversal={e.reverses for e in pending if e.kind is EntryKind.REVERSAL and e.reverses},
            slots=slots,
            live_slots=live_slots,
        )

    def slot(self, period: str, step: Step | None) -> list[LedgerEntry]:
        return list(self.slots.get((period, step), ()))

    def live(self, period: str, step: Step | None) -> list[LedgerEntry]:
        return list(self.live_slots.get((period, step), ()))

    def paid_text(self, period: str, step: Step) -> str:
        live = self.live(period, step)
        return f", paid by run {live[0].run_id} (entry {live[0].entry_id[:12]})" if live else ""

    def facts(self, period: str, step: Step | None) -> list[Reason]:
        found = []
        for e in self.slot(period, step):
            if e.kind is not EntryKind.EARN:
                continue
            later = self.reversed_by.get(e.entry_id)
            if later is not None:
                found.append(
                    why.REVERSED.reason(
                        amount=format_cents(e.amount_cents), run_id=e.run_id, reversed_by=later.run_id
                    )
                )
                continue
            run = self.ask.runs.get(e.run_id)
            found.append(
                why.PAID.reason(
                    amount=format_cents(e.amount_cents),
                    run_id=e.run_id,
                    run_status=run_status(run),
                    earned_month=e.earned_month,
                    evidence=", ".join(e.evidence_refs) or "-",
                    version=e.rule_version,
                )
            )
        return found

    def settle(
        self, period: str, step: Step | None, reasons: list[Reason], stop: Reason | None
    ) -> StepStatus:
        """Add what the next run does to `reasons`; the step's status."""
        live = self.live(period, step)
        if stop is None:
            earn = self.pending_earn.get((period, step))
            if earn is None:
                return StepStatus.PAID
            old = next((e for e in live if e.entry_id in self.pending_reversal), None)
            if old is not None:
                reasons.append(
                    why.AMOUNT_CHANGED.reason(
                        paid=format_cents(old.amount_cents),
                        run_id=old.run_id,
                        amount=format_cents(earn.amount_cents),
                    )
                )
            return StepStatus.DUE
        reasons.append(stop)
        due = [e for e in live if e.entry_id in self.pending_reversal]
        reasons += [
            why.REVERSAL_DUE.reason(amount=format_cents(e.amount_cents), run_id=e.run_id) for e in due
        ]
        if due:
            return StepStatus.REVERSAL_DUE
        if live:
            return StepStatus.PAID
        return StepStatus.REVERSED if self.slot(period, step) else StepStatus.NOT_PAID
