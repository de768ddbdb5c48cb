"""The gap engine: which steps of an action a member completed in a period, and what remains."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared.logic.dates import month_of
from shared.logic.eligibility import in_denominator
from shared.models.actions import Step, Track
from shared.models.evidence import Evidence, EvidenceSource
from shared.models.gaps import CompletedStep, Gap, GapStatus
from shared.models.members import EligibilitySpan, MemberProfile
from shared.programs.care_gap import ActionDefinition, CareGapProgram


@dataclass(frozen=True)
class StepCompletion:
    """The evidence that completed a step first, and the month the step was earned."""

    step: Step
    evidence: Evidence

    @property
    def earned_month(self) -> str:
        """Attestations earn in the month of their date; claim-confirmed steps in the month received."""
        return month_of(self.evidence.known_date)


def _order(evidence: Evidence) -> tuple[date, date, int, str]:
    # Attestations sort before a claim known the same day so the clinic's own action keeps its step.
    source_rank = 0 if evidence.source is EvidenceSource.ATTESTATION else 1
    return (evidence.known_date, evidence.action_date, source_rank, evidence.evidence_id)


def step_completions(
    action: ActionDefinition, evidence: Iterable[Evidence], period: str
) -> dict[Step, StepCompletion]:
    """First completion of each step of `action` in `period`, independent of the order evidence came in.

    An attestation completes its own step; it cannot complete the claim step, which needs a received
    claim. A claim completes the claim step and, for actions covered by FAQ Q15, every step still open.
    """
    done: dict[Step, StepCompletion] = {}
    relevant = (e for e in evidence if e.action == action.code and e.period == period)
    for item in sorted(relevant, key=_order):
        if item.source is EvidenceSource.ATTESTATION:
            if item.step is Step.CLAIM or item.step not in action.steps:
                continue
            targets: tuple[Step, ...] = (item.step,)
        elif action.category.claim_completes_remaining:
            targets = action.steps
        else:
            targets = (item.step,) if item.step in action.steps else ()
        for step in targets:
            done.setdefault(step, StepCompletion(step=step, evidence=item))
    return done


def _covered_in_year(spans: Iterable[EligibilitySpan], action: ActionDefinition, year: int) -> list[date]:
    starts = []
    first, last = date(year, 1, 1), date(year, 12, 31)
    for s in spans:
        if (
            s.line_of_business in action.lines_of_business
            and s.start <= last
            and (s.end is None or s.end >= first)
        ):
            starts.append(max(s.start, first))
    return starts


def build_gap(
    *,
    profile: MemberProfile,
    spans: Iterable[EligibilitySpan],
    evidence: Iterable[Evidence],
    action: ActionDefinition,
    program: CareGapProgram,
    period_year: int,
    as_of: date,
    track: Track | None = None,
) -> Gap:
    """The gap of one action for one member in one year, as known on `as_of`."""
    period = str(period_year)
    base = {"member_id": profile.member_id, "action": action.code, "period": period}
    starts = _covered_in_year(spans, action, period_year)
    if not starts or not in_denominator(profile, action, period_year):
        return Gap(**base, status=GapStatus.NOT_APPLICABLE)
    known = [e for e in evidence if e.known_date <= as_of]
    done = step_completions(action, known, period)
    completed = tuple(
        CompletedStep(
            step=c.step,
            action_date=c.evidence.action_date,
            earned_month=c.earned_month,
            evidence_id=c.evidence.evidence_id,
            reference=c.evidence.reference,
        )
        for step in action.steps
        if (c := done.get(step)) is not None
    )
    remaining = [s for s in action.steps if s not in done]
    if not remaining:
        return Gap(**base, status=GapStatus.CLOSED, completed_steps=completed)
    at_stake = (
        sum((program.svu(track, action.code, s) for s in remaining), Decimal(0)) if track else Decimal(0)
    )
    status = GapStatus.PROSPECTIVE if as_of < min(starts) else GapStatus.OPEN
    return Gap(
        **base,
        status=status,
        completed_steps=completed,
        next_action=remaining[0],
        due_date=date(period_year, 12, 31),
        svu_at_stake=at_stake,
    )
