"""Care Gap P4P program definitions: action menu, rate cards, multipliers and bonus, validated at load.

Each `data/care_gap_*.json` file is one version in force between `effective_from` and `effective_to`; a
plan changes a rate by adding a file, without a deploy.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.models.actions import ActionCategory, ActionCode, LineOfBusiness, Sex, Step, Track

DATA_DIR = Path(__file__).parent / "data"


class ProgramNotFoundError(LookupError):
    """No program version is in force on the date asked for."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FrequencyPer(StrEnum):
    CALENDAR_YEAR = "calendar_year"
    MONTHS_15 = "months_15"
    DATE_OF_SERVICE = "date_of_service"
    DOSE = "dose"
    MONTH = "month"
    QUARTER = "quarter"
    PRESCRIPTION = "prescription"
    YEAR_PER_CONDITION = "year_per_condition"


class Frequency(_Frozen):
    count: int = Field(ge=1)
    per: FrequencyPer


class AgeAnchor(StrEnum):
    MEASUREMENT_YEAR_END = "measurement_year_end"
    ACTION_DATE = "action_date"
    ENROLLMENT_DATE = "enrollment_date"


class AgeBand(_Frozen):
    """Sex (None = any) and inclusive age bounds; months serve the infant visit and vaccine actions."""

    sex: Sex | None = None
    min_age: int | None = Field(default=None, ge=0)
    max_age: int | None = Field(default=None, ge=0)
    max_age_months: int | None = Field(default=None, ge=0)


class Eligibility(_Frozen):
    bands: tuple[AgeBand, ...] = Field(min_length=1)
    age_anchor: AgeAnchor = AgeAnchor.MEASUREMENT_YEAR_END
    conditions: tuple[str, ...] = Field(default=(), description="code-set names of required conditions")


class CodeSystem(StrEnum):
    CPT = "CPT"
    HCPCS = "HCPCS"
    CPT_II = "CPT_II"
    ICD10CM = "ICD10CM"
    NDC = "NDC"
    CVX = "CVX"
    LOINC = "LOINC"


class CodeSet(_Frozen):
    name: str
    code_system: CodeSystem
    codes: frozenset[str] = Field(min_length=1)


class ActionDefinition(_Frozen):
    """One row of an action menu."""

    code: ActionCode
    name: str
    description: str = ""
    category: ActionCategory
    steps: tuple[Step, ...] = Field(min_length=1)
    frequency: Frequency
    lines_of_business: frozenset[LineOfBusiness] = Field(min_length=1)
    eligibility: Eligibility
    evidence_codes: tuple[CodeSet, ...] = ()

    def procedure_codes(self) -> frozenset[str]:
        """CPT/HCPCS codes whose claim lines evidence the action (they share the `hcpcs_code` column)."""
        systems = (CodeSystem.CPT, CodeSystem.HCPCS, CodeSystem.CPT_II)
        return frozenset(c for cs in self.evidence_codes if cs.code_system in systems for c in cs.codes)


class RateCard(_Frozen):
    track: Track
    svu: dict[ActionCode, dict[Step, Decimal]]


class Multiplier(_Frozen):
    """A temporary uplift; `action`/`clinic_ids` None means every action/clinic."""

    name: str
    action: ActionCode | None = None
    clinic_ids: frozenset[str] | None = None
    start: date
    end: date
    factor: Decimal = Field(gt=0)

    def applies(self, action: str, clinic_id: str, day: date) -> bool:
        """True when the multiplier covers this action at this clinic on this date."""
        return (
            (self.action is None or self.action == action)
            and (self.clinic_ids is None or clinic_id in self.clinic_ids)
            and self.start <= day <= self.end
        )


class EarlyAdoptionBonus(_Frozen):
    rate: Decimal = Field(ge=0)
    adopted_by: date
    through: date


class CareGapProgram(_Frozen):
    """One version of the Care Gap P4P program."""

    program: str
    version: str
    example: bool
    note: str = ""
    effective_from: date
    effective_to: date
    measurement_year: int
    svu_dollar_rate: Decimal = Field(gt=0)
    max_multiplier: Decimal = Field(default=Decimal(2), gt=0)
    actions: tuple[ActionDefinition, ...]
    rate_cards: tuple[RateCard, ...]
    multipliers: tuple[Multiplier, ...] = ()
    early_adoption_bonus: EarlyAdoptionBonus | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CareGapProgram:
        if self.effective_to < self.effective_from:
            raise ValueError("effective_to before effective_from")
        codes = [a.code for a in self.actions]
        if len(codes) != len(set(codes)):
            raise ValueError("duplicate action code")
        by_code = {a.code: a for a in self.actions}
        for card in self.rate_cards:
            for code, steps in card.svu.items():
                if code not in by_code:
                    raise ValueError(f"rate card {card.track} prices unknown action {code}")
                if set(steps) != set(by_code[code].steps):
                    raise ValueError(f"rate card {card.track} must price every step of {code}")
        for m in self.multipliers:
            if m.factor > self.max_multiplier:
                raise ValueError(f"multiplier {m.name} above max_multiplier")
            if m.end < m.start:
                raise ValueError(f"multiplier {m.name} ends before it starts")
        return self

    def action(self, code: str) -> ActionDefinition:
        """The definition of an action code; KeyError when the menu lacks it."""
        for a in self.actions:
            if a.code == code:
                return a
        raise KeyError(code)

    def svu(self, track: Track, action: str, step: Step) -> Decimal:
        """SVUs of one step on a track's rate card (0 when the card does not price it)."""
        for card in self.rate_cards:
            if card.track is track:
                return card.svu.get(ActionCode(action), {}).get(step, Decimal(0))
        return Decimal(0)

    def multiplier(self, action: str, clinic_id: str, day: date) -> Decimal:
        """The largest multiplier in force (they do not stack), never above `max_multiplier`."""
        factors = [m.factor for m in self.multipliers if m.applies(action, clinic_id, day)]
        return min(max(factors, default=Decimal(1)), self.max_multiplier)

    def bonus_rate(self, enrolled_on: date, day: date) -> Decimal:
        """Early-adoption bonus for a clinic that enrolled on `enrolled_on`, for an action on `day`."""
        bonus = self.early_adoption_bonus
        if bonus is None or enrolled_on > bonus.adopted_by or day > bonus.through:
            return Decimal(0)
        return bonus.rate


class ProgramCatalog:
    """Every version of the program; answers which one is in force on a date."""

    def __init__(self, versions: tuple[CareGapProgram, ...]) -> None:
        self._versions = tuple(sorted(versions, key=lambda p: p.effective_from))

    @property
    def versions(self) -> tuple[CareGapProgram, ...]:
        return self._versions

    def in_force(self, day: date) -> CareGapProgram:
        """The version whose effective dates contain `day`."""
        for p in self._versions:
            if p.effective_from <= day <= p.effective_to:
                return p
        raise ProgramNotFoundError(f"no care_gap program in force on {day.isoformat()}")

    def find(self, day: date) -> CareGapProgram | None:
        """Like `in_force`, None instead of raising."""
        try:
            return self.in_force(day)
        except ProgramNotFoundError:
            return None


def parse_program(text: str) -> CareGapProgram:
    """Validate one program file's JSON text."""
    return CareGapProgram.model_validate(json.loads(text))


@lru_cache(maxsize=4)
def load_catalog(data_dir: Path = DATA_DIR) -> ProgramCatalog:
    """Load and validate every `care_gap_*.json` under `data_dir`."""
    files = sorted(data_dir.glob("care_gap_*.json"))
    return ProgramCatalog(tuple(parse_program(f.read_text(encoding="utf-8")) for f in files))


def load_program(on: date, data_dir: Path = DATA_DIR) -> CareGapProgram:
    """The Care Gap program version in force on `on`."""
    return load_catalog(data_dir).in_force(on)
