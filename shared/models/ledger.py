"""Ledger entries: one SVU award (or its reversal) with everything a statement line needs."""

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


def ledger_entry_id(
    *, program: str, clinic_id: str, member_id: str, action: str, period: str, step: str, kind: str
) -> str:
    """Deterministic id of an award: the same step of the same gap can be recorded once per kind."""
    key = "|".join((program, clinic_id, member_id, action, period, step, kind))
    return hashlib.sha256(key.encode()).hexdigest()


class LedgerEntry(BaseModel):
    """One award. `amount_cents` = svu x multiplier x (1 + bonus_rate) x dollar_rate, in cents."""

    model_config = ConfigDict(frozen=True)

    program: str
    clinic_id: str
    member_id: str
    action: ActionCode
    period: str = Field(description="measurement year of the gap")
    step: Step
    kind: EntryKind = EntryKind.EARN
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
            step=self.step.value,
            kind=self.kind.value,
        )
