"""Program phases (`p4p-program-design-steps.txt`, step 4): "Organize the P4P program into 2-4 Phases based on
provider and payor readiness: 1) Pay for Participation; 2) Pay for Reporting; 3) Pay for Performance; 4) Pay
for Success", and "Move into the next Phases until the program is fully implemented".

A Care Gap version may list dated `phases`; they cover the version's dates without a gap or an overlap, so
one phase is in force on every day. A version without phases pays for performance all year, as before.
- participation pays fixed amounts: per clinic-month in Care Gap P4P, and once when the clinic's technical-
  assistance onboarding activities are complete;
- reporting pays a fixed amount per clinic-month whose data-submission rules were met (which file kinds,
  due by which day of the month after, at most what share of rows rejected);
- performance pays the SVU menu (pay for action), as a version without phases does;
- success pays the SVUs of outcome actions only: by default those whose award varies with the member's
  result (CBP, GSD: "SVU award varies based on result type and change in health status").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.models.actions import ActionCode
from shared.models.files import FileKind
from shared.models.ledger import Phase

CENT = Decimal("0.01")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _whole_cents(value: Decimal) -> Decimal:
    if value != value.quantize(CENT):
        raise ValueError("an amount in dollars must be whole cents")
    return value


class _Dated(_Frozen):
    effective_from: date
    effective_through: date

    @model_validator(mode="after")
    def _in_order(self) -> _Dated:
        if self.effective_through < self.effective_from:
            raise ValueError("effective_through before effective_from")
        return self

    def covers(self, day: date) -> bool:
        """True when the phase is in force on `day`."""
        return self.effective_from <= day <= self.effective_through

    def pays_svu(self, action: str) -> bool:
        """True when the phase pays SVUs for an action (pay for performance or for success)."""
        return False


class ParticipationPhase(_Dated):
    """Pay for participation: `per_clinic_month` for every month a clinic is in Care Gap P4P (prorated by
    its days in the phase), and `onboarding_complete` once, the month every `onboarding_activities` (names
    of `ta_engagement` activities) is completed."""

    phase: Literal["participation"]
    per_clinic_month: Decimal = Field(ge=0, description="dollars per clinic-month")
    onboarding_complete: Decimal = Field(default=Decimal(0), ge=0, description="dollars, once per clinic")
    onboarding_activities: tuple[str, ...] = ()

    _cents = field_validator("per_clinic_month", "onboarding_complete")(_whole_cents)

    @model_validator(mode="after")
    def _onboarding_named(self) -> ParticipationPhase:
        if self.onboarding_complete > 0 and not self.onboarding_activities:
            raise ValueError("onboarding_complete pays for onboarding_activities: name at least one")
        return self


class SubmissionRules(_Frozen):
    """The plan's data-submission rules for a month: a file of each kind accepted by day `due_day` of the
    month after, and at most `max_reject_share` of those files' rows rejected."""

    file_kinds: tuple[FileKind, ...] = Field(min_length=1)
    due_day: int = Field(ge=1, le=28, description="day of the month after the month reported on")
    max_reject_share: Decimal = Field(ge=0, le=1, description="rejected rows / rows read, 0 to 1")


class ReportingPhase(_Dated):
    """Pay for reporting: `per_clinic_month` for every month (prorated by the clinic's days in the phase)
    whose files met the `submission` rules."""

    phase: Literal["reporting"]
    per_clinic_month: Decimal = Field(gt=0, description="dollars per clinic-month")
    submission: SubmissionRules

    _cents = field_validator("per_clinic_month")(_whole_cents)


class PerformancePhase(_Dated):
    """Pay for performance: the SVU menu, as a version without phases pays it."""

    phase: Literal["performance"]

    def pays_svu(self, action: str) -> bool:
        return True


class SuccessPhase(_Dated):
    """Pay for success: the SVUs of `outcome_actions` only (empty: every action whose award varies with the
    member's result, filled in by the program)."""

    phase: Literal["success"]
    outcome_actions: tuple[ActionCode, ...] = ()

    def pays_svu(self, action: str) -> bool:
        return action in self.outcome_actions


ProgramPhase = Annotated[
    ParticipationPhase | ReportingPhase | PerformancePhase | SuccessPhase, Field(discriminator="phase")
]
"""One dated phase of a program version; `phase` names which (an unknown name is refused at load)."""

PAYING_PHASES = (Phase.PARTICIPATION, Phase.REPORTING)
"""The phases that pay clinics fixed amounts, not SVUs."""


def _label(index: int, phase: _Dated) -> str:
    name = getattr(phase, "phase", "?")
    return f"phases[{index}] ({name}, {phase.effective_from.isoformat()} to {phase.effective_through})"


def check_phases(
    phases: Sequence[_Dated], effective_from: date, effective_to: date, actions: Iterable[ActionCode]
) -> None:
    """Refuse phases that overlap, leave a day of the version without a phase, reach outside the version's
    dates, or pay success for an action the menu lacks (ValueError naming the phase by its index)."""
    if not phases:
        return
    known = set(actions)
    ordered = sorted(enumerate(phases), key=lambda p: p[1].effective_from)
    for (i, earlier), (j, later) in pairwise(ordered):
        if later.effective_from <= earlier.effective_through:
            raise ValueError(f"{_label(j, later)} overlaps {_label(i, earlier)}: phases must not overlap")
        if (later.effective_from - earlier.effective_through).days > 1:
            raise ValueError(
                f"no phase is in force between {_label(i, earlier)} and {_label(j, later)}: phases must "
                "cover the version's dates without a gap"
            )
    first, last = ordered[0], ordered[-1]
    if first[1].effective_from != effective_from:
        raise ValueError(f"{_label(*first)} must start on the version's effective_from ({effective_from})")
    if last[1].effective_through != effective_to:
        raise ValueError(f"{_label(*last)} must end on the version's effective_to ({effective_to})")
    for index, phase in enumerate(phases):
        if isinstance(phase, SuccessPhase):
            unknown = sorted(set(phase.outcome_actions) - known)
            if unknown:
                raise ValueError(
                    f"{_label(index, phase)} names unknown outcome action(s) {', '.join(unknown)}"
                )
