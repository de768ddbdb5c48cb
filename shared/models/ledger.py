"""Ledger entries: what a run pays (or takes back, or carries), for whom, and on what basis.

Entries are append-only. An entry that loses its basis is never updated: a later run writes a REVERSAL
(negative amount, `reverses` = the entry's id). A slot earned again after a reversal gets the next
`generation`, so its id differs from the reversed one's. A clinic whose run nets negative is paid nothing:
a CARRY_OUT brings its run to zero and the next run opens with a matching CARRY_IN.

An entry says what it pays for in its `basis`, with only the fields that kind of payment needs: an SVU
award (a step of a care gap), a measure incentive (an annual program's result for a line of business), a
performance incentive (APC Element 3), a guarantee top-up (the Care Gap earnings guarantee), a PMPM payment
of a member-month (APC Element 2), a phase payment (a Care Gap program phase paying for participation or
reporting), or a carried balance. Every entry names its `payer`,
the plan that pays it, so plans paying together need no change to the ledger.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    computed_field,
    model_serializer,
    model_validator,
)

from shared.models.actions import ActionCode, Step

DEFAULT_PAYER = "plan"
BENCHMARK_SCHEME = "benchmark"
"""The scheme of Benchmark P4P's measure incentives."""
"""The payer of a deployment that names none: the deploying plan (`PLAN_ID`)."""


class EntryKind(StrEnum):
    EARN = "EARN"
    REVERSAL = "REVERSAL"
    CARRY_OUT = "CARRY_OUT"
    CARRY_IN = "CARRY_IN"

    @property
    def is_balance(self) -> bool:
        """A clinic balance moved between runs, not an award of a member."""
        return self in (EntryKind.CARRY_OUT, EntryKind.CARRY_IN)


class Phase(StrEnum):
    """A program phase (`p4p-program-design-steps.txt`, step 4): what the program pays for while it is in
    force."""

    PARTICIPATION = "participation"
    REPORTING = "reporting"
    PERFORMANCE = "performance"
    SUCCESS = "success"


class _Basis(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SvuAward(_Basis):
    """One step of a member's care gap: amount = svu x multiplier x (1 + bonus_rate) x dollar_rate.

    `phase` is the program phase in force on the action date (performance or success), None for a program
    version without phases (pay for performance all year)."""

    basis: Literal["svu_award"] = "svu_award"
    action: ActionCode
    step: Step
    svu: Decimal
    multiplier: Decimal
    bonus_rate: Decimal
    dollar_rate: Decimal
    phase: Phase | None = None

    @model_serializer(mode="wrap")
    def _without_unset_phase(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        # An award of a program without phases is stored exactly as before phases existed.
        body: dict[str, Any] = handler(self)
        if self.phase is None:
            body.pop("phase", None)
        return body

    def slot_key(self) -> tuple[str, str]:
        return self.action, self.step.value


class MeasureLine(_Basis):
    """One measure's part in a measure incentive: its rate against its target, and what it was worth."""

    measure: str
    weight: Decimal = Decimal(0)
    denominator: int = Field(ge=0)
    numerator: int = Field(ge=0)
    rate: Decimal | None = None
    benchmark: Decimal | None = None
    prior_rate: Decimal | None = None
    counted: bool = False
    met_by: str | None = Field(default=None, description="benchmark | improvement | attainment | None")
    amount_cents: int | None = Field(default=None, description="the measure's own share, where it has one")


class MeasureIncentive(_Basis):
    """An annual program's payment for one line of business: its measures and how they combine."""

    basis: Literal["measure_incentive"] = "measure_incentive"
    scheme: str = Field(description="the program that pays it, e.g. benchmark")
    line_of_business: str
    assigned_members: int = Field(ge=0)
    amount_per_member: Decimal
    composite: Decimal
    measures: tuple[MeasureLine, ...] = ()

    def slot_key(self) -> tuple[str, str]:
        return self.scheme, self.line_of_business


class GuaranteeTopUp(_Basis):
    """A part of the Care Gap earnings guarantee for a program year (prorated Benchmark bonus, make-whole)."""

    basis: Literal["guarantee_top_up"] = "guarantee_top_up"
    component: Literal["prorated_benchmark", "make_whole"]
    year: int
    enrollment_date: date
    days_before: int = Field(ge=0)
    days_on_care_gap: int = Field(ge=0)
    benchmark_full_year_cents: int
    care_gap_earnings_cents: int
    equivalent_benchmark_cents: int

    def slot_key(self) -> tuple[str, str]:
        return "guarantee", self.component


class PerformanceLine(_Basis):
    """One measure (or DSF-E component) of a performance incentive: its rate against the program's levels,
    the category it reached and its share and amount (APC Element 3)."""

    measure: str
    component: str = ""
    unit: str = Field(description="percent | per_1000_member_years | dollars_pmpm")
    denominator: int = Field(ge=0, description="members, or member months for utilization and cost")
    numerator: int = Field(ge=0, description="members met, events, or cost in cents")
    rate: Decimal | None = None
    baseline: Decimal | None = None
    mpt: Decimal | None = None
    threshold: Decimal | None = None
    gold: Decimal | None = None
    category: str = Field(description="attainment | improvement | ineligible | invalid")
    share: Decimal = Field(ge=0, description="the share of the maximum, scaled, to 10 places")
    amount_cents: int = Field(ge=0)
    reason: str = ""


class PerformanceIncentive(_Basis):
    """A practice's performance incentive for a measurement year (APC Element 3): the maximum (incentive
    PMPM x member months), the validity rule in force (valid of applicable measures, target and scale) and
    each measure's line."""

    basis: Literal["performance_incentive"] = "performance_incentive"
    scheme: str = Field(description="the program element that pays it, e.g. apc_element3")
    practice_type: str
    member_months: int = Field(ge=0)
    max_pmpm: Decimal
    maximum_cents: int = Field(ge=0)
    applicable_measures: int = Field(ge=0)
    valid_measures: int = Field(ge=0)
    target: Decimal
    scale: Decimal
    measures: tuple[PerformanceLine, ...] = ()

    def slot_key(self) -> tuple[str, str]:
        return self.scheme, ""


class PmpmPayment(_Basis):
    """One attributed member-month of a per-member-per-month payment (APC Element 2): PMPM x age/sex
    factor x (1 + HPI uplift), half up to the cent, or nothing in a month the practice missed a
    technical-assistance requirement (`ta_missed` names each)."""

    basis: Literal["pmpm_payment"] = "pmpm_payment"
    scheme: str = Field(description="the program element that pays it, e.g. apc_element2")
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    pmpm: Decimal
    age: int = Field(ge=0)
    gender: str
    factor: Decimal
    hpi_decile: int | None = Field(default=None, ge=1, le=10)
    uplift: Decimal
    ta_compliant: bool
    ta_missed: tuple[str, ...] = ()

    def slot_key(self) -> tuple[str, str]:
        return self.scheme, self.month


PhaseReason = Literal["enrolled_month", "onboarding_complete", "reporting_month"]
"""What a phase payment pays for: the clinic's days in Care Gap P4P in a participation month, its onboarding
complete (once), or a reporting month whose data-submission rules were met."""


class PhasePayment(_Basis):
    """A clinic's fixed payment of a program phase (participation or reporting), for a month or once.

    amount = `amount` (the program file's dollars) x `days` / `days_in_month`, half up to the cent, for a
    month (the days the clinic was in Care Gap P4P while the phase was in force); `amount` itself once
    (onboarding complete). `rule` says, in the plan's words, the rule that was met."""

    basis: Literal["phase_payment"] = "phase_payment"
    phase: Phase
    reason: PhaseReason
    phase_from: date = Field(description="the first day of the phase that pays it")
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="the month paid for, or in which it was met")
    amount: Decimal = Field(ge=0, description="the program file's amount, in dollars")
    days: int = Field(ge=0)
    days_in_month: int = Field(ge=0, description="0 for a one-time amount")
    rule: str

    def slot_key(self) -> tuple[str, str]:
        # A month's payment is one per phase start (two phases may share a month); onboarding is once.
        if self.reason == "onboarding_complete":
            return "phase_onboarding_complete", ""
        return f"phase_{self.reason}", self.phase_from.isoformat()


class CarriedBalance(_Basis):
    """A clinic's negative run carried to the next run (CARRY_OUT), or brought in (CARRY_IN)."""

    basis: Literal["carried_balance"] = "carried_balance"

    def slot_key(self) -> tuple[str, str]:
        return "", ""


Basis = Annotated[
    SvuAward
    | MeasureIncentive
    | PerformanceIncentive
    | GuaranteeTopUp
    | PmpmPayment
    | PhasePayment
    | CarriedBalance,
    Field(discriminator="basis"),
]

_SVU_FIELDS = ("svu", "multiplier", "bonus_rate", "dollar_rate")


def ledger_entry_id(
    *,
    program: str,
    payer: str,
    clinic_id: str,
    member_id: str,
    key: tuple[str, str],
    period: str,
    kind: str,
    generation: int = 0,
) -> str:
    """Deterministic id of an entry: one slot (program, payer, clinic, member, basis key, period) is recorded
    once per kind and generation."""
    parts = [program, clinic_id, member_id, key[0], period, key[1], kind]
    if generation:
        parts.append(str(generation))
    if payer != DEFAULT_PAYER:
        parts.append(f"payer={payer}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class LedgerEntry(BaseModel):
    """One entry of the ledger; `amount_cents` is what it pays (negative for a reversal or a carry-in)."""

    model_config = ConfigDict(frozen=True)

    program: str
    payer: str = DEFAULT_PAYER
    clinic_id: str
    member_id: str = Field(description="the member an award is for; '' for a clinic's entries")
    period: str = Field(description="measurement year of the gap or program, or the run month of a balance")
    kind: EntryKind = EntryKind.EARN
    generation: int = Field(default=0, ge=0)
    reverses: str | None = Field(default=None, description="id of the entry this one reverses or carries")
    basis: Basis
    amount_cents: int
    rule_version: str
    evidence_ids: tuple[str, ...] = ()
    evidence_refs: tuple[str, ...] = ()
    action_date: date
    earned_month: str = Field(pattern=r"^\d{4}-\d{2}$")
    run_id: str

    @model_validator(mode="before")
    @classmethod
    def _stored_before_bases(cls, data: Any) -> Any:
        # Entries written before the basis existed carry the SVU fields flat; read them as they were meant.
        if not isinstance(data, dict) or "basis" in data:
            return data
        flat = dict(data)
        if flat.get("step"):
            basis = {"basis": "svu_award", "action": flat.get("action"), "step": flat.get("step")}
            basis |= {name: flat.get(name) for name in _SVU_FIELDS}
        else:
            basis = {"basis": "carried_balance"}
        for name in ("action", "step", *_SVU_FIELDS):
            flat.pop(name, None)
        return flat | {"basis": basis}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def entry_id(self) -> str:
        return ledger_entry_id(
            program=self.program,
            payer=self.payer,
            clinic_id=self.clinic_id,
            member_id=self.member_id,
            key=self.basis.slot_key(),
            period=self.period,
            kind=self.kind.value,
            generation=self.generation,
        )

    @property
    def action(self) -> str:
        """The action an SVU award pays for; '' for other entries."""
        return self.basis.action if isinstance(self.basis, SvuAward) else ""

    @property
    def step(self) -> Step | None:
        """The step an SVU award pays for; None for other entries."""
        return self.basis.step if isinstance(self.basis, SvuAward) else None

    @property
    def is_balance(self) -> bool:
        """A clinic's carried balance (CARRY_OUT, CARRY_IN, or the reversal of one), not an award."""
        return isinstance(self.basis, CarriedBalance)

    @property
    def slot(self) -> tuple[str, ...]:
        """What an award pays for, whatever the clinic: at most one award of a slot is live."""
        key = self.basis.slot_key()
        return (self.program, self.payer, self.member_id, key[0], self.period, key[1])
