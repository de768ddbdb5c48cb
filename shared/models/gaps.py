"""A care gap: one action for one member in one period, with the steps completed so far."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.models.actions import ActionCode, Step


class GapStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    NOT_APPLICABLE = "not_applicable"
    PROSPECTIVE = "prospective"


class CompletedStep(BaseModel):
    """A step and the evidence that completed it first."""

    model_config = ConfigDict(frozen=True)

    step: Step
    action_date: date
    earned_month: str
    evidence_id: str
    reference: str


class Gap(BaseModel):
    """The state of one action for one member in one period.

    `period` starts with the measurement year; actions counted more often than yearly extend it
    (`2026-03` a month, `2026-Q2` a quarter, `2026-03-05` a date of service, `2026/HCC37` a condition,
    `2026/visit-3` the third well-child visit). Ledger entries use the same string.
    """

    model_config = ConfigDict(frozen=True)

    member_id: str
    action: ActionCode
    period: str
    status: GapStatus
    completed_steps: tuple[CompletedStep, ...] = ()
    next_action: Step | None = None
    due_date: date | None = None
    svu_at_stake: Decimal = Decimal(0)
    tags: tuple[str, ...] = ()
    result_tier: str | None = None
    detail: str | None = None
