"""Builders for explanation tests: a member scenario explained at a clinic, runs, and the ledger a run
would have recorded. Each test derives its expected first stopping rule by hand from the seed's rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TypeVar

from shared.logic.awards import member_awards
from shared.logic.explain import explain_gap
from shared.models.actions import ActionCode
from shared.models.explain import EvidenceExplanation, Explanation, Reason, StepExplanation
from shared.models.ledger import LedgerEntry
from shared.models.members import Clinic, MemberFacts
from shared.models.runs import Run, RunKind, RunMode, RunStatus
from shared.programs.care_gap import ProgramCatalog
from tests.unit.care_gap.factories import CATALOG, clinic

AS_OF = date(2026, 12, 1)
CLINICS = {"C1": clinic("C1"), "C2": clinic("C2")}
COVERED: set[str] = set()
"""Reason codes a test asserts (`covers`); `test_reason_kinds.py` checks that every kind is in it."""

F = TypeVar("F", bound=Callable[..., object])


def covers(*codes: str) -> Callable[[F], F]:
    """Mark a test as the one proving these reason kinds."""

    def mark(test: F) -> F:
        COVERED.update(codes)
        return test

    return mark


def explain(
    member: MemberFacts,
    action: str = "BCS-E",
    *,
    clinic_id: str = "C1",
    year: int = 2026,
    history: Sequence[LedgerEntry] = (),
    runs: Sequence[Run] = (),
    as_of: date = AS_OF,
    clinics: dict[str, Clinic] | None = None,
    catalog: ProgramCatalog = CATALOG,
) -> Explanation:
    return explain_gap(
        member,
        clinic_id=clinic_id,
        action=ActionCode(action),
        year=year,
        clinics=clinics or CLINICS,
        catalog=catalog,
        history=history,
        runs=runs,
        as_of=as_of,
    )


def run(period: str, status: RunStatus = RunStatus.CALCULATED, kind: RunKind = RunKind.MONTHLY) -> Run:
    """A final run of `period`, in `status`."""
    at = datetime(2026, 12, 1, tzinfo=UTC)
    return Run(
        run_id=f"{kind.value}-{period}-final",
        run_kind=kind,
        period=period,
        mode=RunMode.FINAL,
        program_year=int(period[:4]),
        status=status,
        started_at=at,
        updated_at=at,
    )


def recorded(member: MemberFacts, month: str, clinics: dict[str, Clinic] | None = None) -> list[LedgerEntry]:
    """What the final run of `month` recorded for the member (its first run: no history)."""
    return member_awards(
        member,
        clinics=clinics or CLINICS,
        catalog=CATALOG,
        through_month=month,
        run_id=f"monthly-{month}-final",
    )


def step(found: Explanation, period: str, name: str) -> StepExplanation:
    return next(s for s in found.steps if s.period == period and s.step.value == name)


def stop(found: Explanation, period: str, name: str) -> Reason:
    """The first rule that stopped a step (the step must have one)."""
    reason = step(found, period, name).stopped_by
    assert reason is not None, f"{period} {name} was not stopped"
    return reason


def evidence(found: Explanation, reference: str) -> EvidenceExplanation:
    return next(e for e in found.evidence if e.reference == reference)


def codes(reasons: Iterable[Reason]) -> list[str]:
    return [r.code for r in reasons]


def stopped(found: Explanation) -> dict[tuple[str, str], str | None]:
    """Each step's first stopping rule (None for a step paid)."""
    return {(s.period, s.step.value): s.stopped_by.code if s.stopped_by else None for s in found.steps}
