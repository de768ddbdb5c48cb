"""Ledger entries: one SVU award, its reversal, or a clinic balance carried between runs.

Entries are append-only. An award that loses its basis is never updated: a later run writes a REVERSAL
(negative amount, `reverses` = the award's id). A step that is earned again after a reversal gets the
next `generation`, so its id differs from the reversed award's. A clinic whose month nets negative pays
nothing: a CARRY_OUT entry brings its month to zero and the next run opens with a matching CARRY_IN.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field

from shared.models.actions import ActionCode, Step


class EntryKind(StrEnum):
    EARN = "EARN"
    REVERSAL = "REVERSAL"
    CARRY_OUT = "CARRY_OUT"
    CARRY_IN = "CARRY_IN"

    @property
    def is_balance(self) -> bool:
        """A clinic balance moved between runs, not an award of a member."""
        return self in (EntryKind.CARRY_OUT, EntryKind.CARRY_IN)


def ledger_entry_id(
    *,
    program: str,
    clinic_id: str,
    member_id: str,
    action: str,
    period: str,
    step: str,
    kind: str,
    generation: int = 0,
) -> str:
    """Deterministic id of an entry: the same step of the same gap is recorded once per kind and generation.

    Generation 0 keeps the original key so ids written before generations existed stay valid.
    """
    parts = [program, clinic_id, member_id, action, period, step, kind]
    if generation:
        parts.append(str(generation))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class LedgerEntry(BaseModel):
    """One entry. For awards `amount_cents` = svu x multiplier x (1 + bonus_rate) x dollar_rate, in cents."""

    model_config = ConfigDict(frozen=True)

    program: str
    clinic_id: str
    member_id: str
    action: ActionCode
    period: str = Field(description="measurement year of the gap, or the run month of a balance entry")
    step: Step | None = Field(default=None, description="None on balance entries")
    kind: EntryKind = EntryKind.EARN
    generation: int = Field(default=0, ge=0)
    reverses: str | None = Field(default=None, description="id of the entry this one reverses or carries")
    svu: Decimal
    multiplier: Decimal
    bonus_rate: Decimal
    dollar_rate: Decimal
    amount_cents: int
    rule_version: str
    evidence_ids: tuple[str, ...]
    evidence_refs: tuple[str, ...]
    action_date: date
    earned_month: str = Field(pattern=r"^\d{4}-\d{2}$")
    run_id: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def entry_id(self) -> str:
        return ledger_entry_id(
            program=self.program,
            clinic_id=self.clinic_id,
            member_id=self.member_id,
            action=self.action,
            period=self.period,
            step=self.step.value if self.step else "",
            kind=self.kind.value,
            generation=self.generation,
        )

    @property
    def is_balance(self) -> bool:
        """A clinic's carried balance (CARRY_OUT, CARRY_IN, or the reversal of one), not a member's award."""
        return self.kind.is_balance or (self.kind is EntryKind.REVERSAL and not self.member_id)

    @property
    def slot(self) -> tuple[str, str, str, str, str]:
        """The gap step an award pays for, whatever the clinic: at most one award of a slot is live."""
        return (self.program, self.member_id, self.action, self.period, self.step.value if self.step else "")
