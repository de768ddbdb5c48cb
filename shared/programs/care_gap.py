"""Care Gap P4P program definitions: action menu, rate cards, multipliers and bonus, validated at load.

Each `data/care_gap/*.json` file is one version in force between `effective_from` and `effective_to`; a
plan changes a rate by adding a file, without a deploy. Versions dropped under the curated bucket's
`programs/` prefix are merged over the shipped ones (`shared/programs/stored.py`)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.models.actions import ActionCode, Step, Track
from shared.models.ledger import Phase
from shared.programs.menu import (
    ActionDefinition,
    AgeAnchor,
    AgeBand,
    CodeSet,
    CodeSystem,
    DoseRule,
    Eligibility,
    Frequency,
    FrequencyPer,
    ResultScale,
    Window,
)
from shared.programs.phases import ProgramPhase, SuccessPhase, check_phases
from shared.programs.versions import ProgramNotFoundError, VersionCatalog, VersionedProgram

__all__ = [
    "ActionDefinition",
    "AgeAnchor",
    "AgeBand",
    "CareGapProgram",
    "CodeSet",
    "CodeSystem",
    "DoseRule",
    "Eligibility",
    "Frequency",
    "FrequencyPer",
    "ProgramCatalog",
    "ProgramNotFoundError",
    "ResultScale",
    "Window",
    "load_catalog",
    "load_program",
    "parse_program",
]

DATA_DIR = Path(__file__).parent / "data"
PROGRAM = "care_gap"
MAX_MULTIPLIER = Decimal(2)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RateCard(_Frozen):
    """SVUs per action step for one track; `result_svu` adds SVUs to the confirming step of actions
    whose award varies by result (tier names of the action's scale, plus its improvement name)."""

    track: Track
    svu: dict[ActionCode, dict[Step, Decimal]]
    result_svu: dict[ActionCode, dict[str, Decimal]] = {}


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


class ApprovalRule(_Frozen):
    """Who may approve a run: by default never an identity that started or recalculated it (four eyes);
    `single_operator` lets one person do both, for a plan too small to have two."""

    single_operator: bool = False


class EarlyAdoptionBonus(_Frozen):
    rate: Decimal = Field(ge=0)
    adopted_by: date
    through: date


def _resolve_code_sets(data: Any) -> Any:
    """Inline the program's named code sets into each action (evidence and condition sets)."""
    if not isinstance(data, dict) or "code_sets" not in data:
        return data
    named: dict[str, list[Any]] = {}
    for code_set in data.get("code_sets") or ():
        named.setdefault(str(code_set["name"]), []).append(code_set)
    actions = []
    for raw in data.get("actions") or ():
        action = dict(raw)
        eligibility = action.get("eligibility") or {}
        condition_names = [
            *eligibility.get("conditions", ()),
            *eligibility.get("exclusions", ()),
            *action.get("recapture_sets", ()),
        ]
        doses = action.get("doses") or {}
        short = doses.get("short_series") or {}
        evidence_names = [
            *action.get("evidence_sets", ()),
            *([short["code_set"]] if short.get("code_set") else []),
        ]
        for name in (*condition_names, *evidence_names):
            if name not in named:
                raise ValueError(f"action {action.get('code')} names unknown code set {name}")
        inline = list(action.get("evidence_codes", ()))
        action["evidence_codes"] = inline + [cs for n in dict.fromkeys(evidence_names) for cs in named[n]]
        action["condition_codes"] = [cs for n in dict.fromkeys(condition_names) for cs in named[n]]
        actions.append(action)
    return data | {"actions": actions}


class CareGapProgram(VersionedProgram):
    """One version of the Care Gap P4P program."""

    program: Literal["care_gap"]
    svu_dollar_rate: Decimal = Field(gt=0)
    max_multiplier: Decimal = Field(default=MAX_MULTIPLIER, gt=0, le=MAX_MULTIPLIER)
    code_sets: tuple[CodeSet, ...] = ()
    actions: tuple[ActionDefinition, ...]
    rate_cards: tuple[RateCard, ...]
    multipliers: tuple[Multiplier, ...] = ()
    early_adoption_bonus: EarlyAdoptionBonus | None = None
    approval: ApprovalRule = ApprovalRule()
    earnings_guarantee: bool = Field(
        default=False,
        description="the year's Care Gap clinics are guaranteed a prorated Benchmark bonus and made whole",
    )
    funding_pool: Decimal | None = Field(
        default=None, ge=0, description="the year's budget, in dollars: approval warns when it is exceeded"
    )
    refuse_approval_over_pool: bool = Field(
        default=False, description="approval refuses a run whose projected year exceeds the pool"
    )
    phases: tuple[ProgramPhase, ...] = Field(
        default=(),
        description="dated phases covering the version (`shared/programs/phases.py`); none: performance",
    )

    @model_validator(mode="before")
    @classmethod
    def _inline_code_sets(cls, data: Any) -> Any:
        return _resolve_code_sets(data)

    @model_validator(mode="after")
    def _consistent(self) -> CareGapProgram:
        codes = [a.code for a in self.actions]
        if len(codes) != len(set(codes)):
            raise ValueError("duplicate action code")
        by_code = {a.code: a for a in self.actions}
        for action in self.actions:
            if not action.evidence_codes:
                raise ValueError(f"action {action.code} has no evidence code set")
        for card in self.rate_cards:
            _check_card(card, by_code)
        if len({c.track for c in self.rate_cards}) != len(self.rate_cards):
            raise ValueError("two rate cards for one track")
        for m in self.multipliers:
            if m.factor > self.max_multiplier:
                raise ValueError(f"multiplier {m.name} above max_multiplier")
            if m.end < m.start:
                raise ValueError(f"multiplier {m.name} ends before it starts")
            if m.action is not None and m.action not in by_code:
                raise ValueError(f"multiplier {m.name} names unknown action {m.action}")
        check_phases(self.phases, self.effective_from, self.effective_to, by_code)
        return self

    def phase_on(self, day: date) -> ProgramPhase | None:
        """The phase in force on `day`; None for a version without phases (pay for performance)."""
        return next((p for p in self.phases if p.covers(day)), None)

    def pays_svu(self, action: str, day: date) -> tuple[bool, Phase | None]:
        """Whether the phase in force on `day` pays SVUs for `action`, and that phase (None without phases).
        Success pays its outcome actions: by default every action whose award varies with the result."""
        phase = self.phase_on(day)
        if phase is None:
            return True, None
        if isinstance(phase, SuccessPhase) and not phase.outcome_actions:
            return any(a.code == action and a.results is not None for a in self.actions), Phase.SUCCESS
        return phase.pays_svu(action), Phase(phase.phase)

    def result_svu(self, track: Track, action: str, tier: str | None) -> Decimal:
        """SVUs a result tier (or the improvement) adds on a track's card; 0 when unpriced or None."""
        if tier is None:
            return Decimal(0)
        for card in self.rate_cards:
            if card.track is track:
                return card.result_svu.get(ActionCode(action), {}).get(tier, Decimal(0))
        return Decimal(0)

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


class ProgramCatalog(VersionCatalog[CareGapProgram]):
    """Every version of the Care Gap P4P program; answers which one is in force on a date."""

    program_name = "care_gap"


def _check_card(card: RateCard, by_code: dict[ActionCode, ActionDefinition]) -> None:
    for code, steps in card.svu.items():
        if code not in by_code:
            raise ValueError(f"rate card {card.track} prices unknown action {code}")
        if set(steps) != set(by_code[code].steps):
            raise ValueError(f"rate card {card.track} must price every step of {code}")
        if any(v < 0 for v in steps.values()):
            raise ValueError(f"rate card {card.track} has a negative SVU for {code}")
    for code, tiers in card.result_svu.items():
        scale = by_code[code].results if code in by_code else None
        if scale is None:
            raise ValueError(f"rate card {card.track} prices results of {code}, which has none")
        if set(tiers) != {*scale.tiers, scale.improvement}:
            raise ValueError(f"rate card {card.track} must price every result tier of {code}")
    for code, action in by_code.items():
        if code in card.svu and action.results is not None and code not in card.result_svu:
            raise ValueError(f"rate card {card.track} must price the result tiers of {code}")


def parse_program(text: str) -> CareGapProgram:
    """Validate one program file's JSON text."""
    return CareGapProgram.model_validate(json.loads(text))


@lru_cache(maxsize=4)
def load_catalog(data_dir: Path = DATA_DIR) -> ProgramCatalog:
    """Load and validate every packaged Care Gap version (`data/care_gap/*.json`)."""
    files = sorted((data_dir / PROGRAM).glob("*.json"))
    return ProgramCatalog(tuple(parse_program(f.read_text(encoding="utf-8")) for f in files))


def load_program(on: date, data_dir: Path = DATA_DIR) -> CareGapProgram:
    """The Care Gap program version in force on `on`."""
    return load_catalog(data_dir).in_force(on)
