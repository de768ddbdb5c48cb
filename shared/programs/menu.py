"""One row of a Care Gap action menu as data: steps, frequency, lines of business, who it applies to,
the code sets whose evidence completes it, and the counting rules of its kind (visits, doses, results,
refills, recapture)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.models.actions import ActionCategory, ActionCode, LineOfBusiness, Sex, Step


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FrequencyPer(StrEnum):
    """How often an action can earn; it also decides how evidence groups into gaps (periods)."""

    CALENDAR_YEAR = "calendar_year"
    MONTHS_15 = "months_15"
    DATE_OF_SERVICE = "date_of_service"
    DOSE = "dose"
    MONTH = "month"
    QUARTER = "quarter"
    PRESCRIPTION = "prescription"
    YEAR_PER_CONDITION = "year_per_condition"


_PRESCRIPTION_FREQUENCIES = frozenset({FrequencyPer.MONTH, FrequencyPer.QUARTER, FrequencyPer.PRESCRIPTION})


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
    min_age_months: int | None = Field(default=None, ge=0)
    max_age_months: int | None = Field(default=None, ge=0)


class Eligibility(_Frozen):
    """Who the action applies to. `conditions`/`exclusions` name code sets of the program; a member has
    one when a fact of it (a diagnosis, or a fill of a drug class) falls in the measurement year or the
    `lookback_years` before it."""

    bands: tuple[AgeBand, ...] = Field(min_length=1)
    age_anchor: AgeAnchor = AgeAnchor.MEASUREMENT_YEAR_END
    conditions: tuple[str, ...] = Field(default=(), description="code-set names of required conditions")
    exclusions: tuple[str, ...] = Field(default=(), description="code-set names that exclude the member")
    lookback_years: int = Field(default=1, ge=0)


class CodeSystem(StrEnum):
    CPT = "CPT"
    HCPCS = "HCPCS"
    CPT_II = "CPT_II"
    ICD10CM = "ICD10CM"
    NDC = "NDC"
    CVX = "CVX"
    LOINC = "LOINC"


PROCEDURE_SYSTEMS = frozenset({CodeSystem.CPT, CodeSystem.HCPCS, CodeSystem.CPT_II})


def normal_code(system: CodeSystem, code: str) -> str:
    """Codes as files send them: upper case, no dots; CVX without leading zeros (`08` = `8`)."""
    text = code.strip().upper().replace(".", "")
    if system is CodeSystem.CVX:
        return text.lstrip("0") or "0"
    return text


class CodeSet(_Frozen):
    """Codes of one system. ICD-10-CM sets match by prefix (`E11` covers `E119`), the others exactly."""

    name: str
    code_system: CodeSystem
    codes: frozenset[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _normalise(self) -> CodeSet:
        object.__setattr__(self, "codes", frozenset(normal_code(self.code_system, c) for c in self.codes))
        return self

    def matches(self, code: str) -> bool:
        """True when `code` (as sent in a file) belongs to the set."""
        value = normal_code(self.code_system, code)
        if self.code_system is CodeSystem.ICD10CM:
            return any(value.startswith(prefix) for prefix in self.codes)
        return value in self.codes


class Window(_Frozen):
    """Ages (from birth) between which visits, screenings or doses count: from `from_months` months plus
    `from_days` days after birth, through the day the child is `through_months` months old (LSC's "by
    the 2nd birthday" is through 24 months: an age band counts whole months, so it would run a month on)."""

    from_months: int = Field(default=0, ge=0)
    from_days: int = Field(default=0, ge=0)
    through_months: int = Field(ge=1)


class ShortSeries(_Frozen):
    """A shorter series that also completes: every dose from `code_set` (RV two-dose vaccine), or first
    and last dose at least `min_span_days` apart (HPV)."""

    doses: int = Field(ge=1)
    code_set: str | None = None
    min_span_days: int = Field(default=0, ge=0)


class DoseRule(_Frozen):
    """An immunization series: `doses` distinct-day doses inside `window`, or per season for adult flu."""

    doses: int = Field(ge=1)
    window: Window | None = None
    season_start_month: int | None = Field(default=None, ge=1, le=12)
    short_series: ShortSeries | None = None

    @model_validator(mode="after")
    def _one_clock(self) -> DoseRule:
        if (self.window is None) == (self.season_start_month is None):
            raise ValueError("a dose rule counts either in an age window or per season")
        return self


class ResultBand(_Frozen):
    """One band of a result component: CPT II codes reporting it, or lab values up to `max_value`."""

    rank: int = Field(ge=0)
    codes: frozenset[str] = frozenset()
    max_value: Decimal | None = None
    max_inclusive: bool = False


class ResultComponent(_Frozen):
    """A measured value (systolic, diastolic, HbA1c): its LOINC codes and its bands, best first."""

    name: str
    loinc: frozenset[str]
    bands: tuple[ResultBand, ...] = Field(min_length=1)


class ResultScale(_Frozen):
    """How a reading's tier is read: each component's band rank, the worst one wins; `tiers[rank]` names
    it. A reading better than the member's previous one also earns `improvement` (change in status)."""

    components: tuple[ResultComponent, ...] = Field(min_length=1)
    tiers: tuple[str, ...] = Field(min_length=1)
    improvement: str = "improved"


class Tag(_Frozen):
    """A flag on a gap with its own due date, e.g. IHA: newly enrolled Medi-Cal, 120 days to act."""

    name: str
    line_of_business: LineOfBusiness
    within_days_of_enrollment: int = Field(ge=1)


class RequiredTest(_Frozen):
    """One test an occurrence needs before a confirming record completes it: evidence of any set in
    `any_of`, or of every set in `together` on dates at most `within_days` apart (HEDIS KED's uACR: a
    uACR code, or a quantitative urine albumin and a urine creatinine within four days)."""

    name: str
    any_of: tuple[str, ...] = ()
    together: tuple[str, ...] = ()
    within_days: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _some_way(self) -> RequiredTest:
        if not self.any_of and not self.together:
            raise ValueError(f"required test {self.name} names no code set")
        if len(self.together) == 1:
            raise ValueError(f"required test {self.name}: `together` needs two sets or more")
        return self

    @property
    def set_names(self) -> tuple[str, ...]:
        return (*self.any_of, *self.together)


class PrescriptionWindow(_Frozen):
    """How a Medication Management prescription earns. A prescription the assigned clinic attests, of a
    days supply in [`days_supply_min`, `days_supply_max`], opens the calendar `per` (month or quarter)
    it was written in, which earns each step once; a fill dispensed on the prescription date or up to
    `dispense_within_days` days after it confirms it, in whichever month or quarter the fill falls."""

    per: FrequencyPer
    days_supply_min: int = Field(default=1, ge=1)
    days_supply_max: int = Field(default=365, ge=1)
    dispense_within_days: int = Field(ge=0)

    @model_validator(mode="after")
    def _calendar(self) -> PrescriptionWindow:
        if self.per not in (FrequencyPer.MONTH, FrequencyPer.QUARTER):
            raise ValueError("a prescription window is a month or a quarter")
        if self.days_supply_min > self.days_supply_max:
            raise ValueError("days_supply_min is above days_supply_max")
        return self

    @property
    def quarterly(self) -> bool:
        return self.per is FrequencyPer.QUARTER

    def holds(self, days: int) -> bool:
        """True when a prescription of `days` days supply has this window."""
        return self.days_supply_min <= days <= self.days_supply_max


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
    evidence_sets: tuple[str, ...] = Field(default=(), description="program code sets evidencing it")
    evidence_codes: tuple[CodeSet, ...] = ()
    condition_codes: tuple[CodeSet, ...] = Field(default=(), description="resolved at load; do not write")
    recapture_sets: tuple[str, ...] = Field(default=(), description="HCC-DX: one gap per set per year")
    visit_window: Window | None = Field(
        default=None, description="W30 visits and other child actions count only inside this age window"
    )
    doses: DoseRule | None = None
    results: ResultScale | None = None
    days_supply_min: int | None = Field(default=None, ge=1)
    days_supply_max: int | None = Field(default=None, ge=1)
    due_days_after_condition: int | None = Field(
        default=None, ge=1, description="evidence counts from the condition's date through this many days"
    )
    prescription_windows: tuple[PrescriptionWindow, ...] = Field(
        default=(), description="medication: the windows prescriptions earn in, by days supply"
    )
    tags: tuple[Tag, ...] = ()
    requires: tuple[RequiredTest, ...] = Field(
        default=(), description="tests that must all be found before a confirming record completes it"
    )
    measure: str | None = Field(default=None, description="the measure definition the annual rate uses")

    @model_validator(mode="after")
    def _rules_fit_frequency(self) -> ActionDefinition:
        per = self.frequency.per
        for test in self.requires:
            unknown = [n for n in test.set_names if n not in self.evidence_sets]
            if unknown:
                raise ValueError(
                    f"{self.code}: required test {test.name} names {unknown[0]}, not an evidence set"
                )
        if self.category.value == "immunization" and self.doses is None:
            raise ValueError(f"{self.code}: an immunization needs a dose rule")
        if per is FrequencyPer.MONTHS_15 and self.visit_window is None:
            raise ValueError(f"{self.code}: a visit count needs a visit window")
        if per is FrequencyPer.YEAR_PER_CONDITION and not self.recapture_sets:
            raise ValueError(f"{self.code}: recapture needs condition code sets")
        if Step.DIAGNOSIS in self.steps:
            raise ValueError(f"{self.code}: diagnosis is not an SVU step")
        if self.due_days_after_condition is not None and (
            per is not FrequencyPer.CALENDAR_YEAR or not self.eligibility.conditions
        ):
            raise ValueError(f"{self.code}: days after a condition need a yearly action with a condition")
        self._check_prescription_windows()
        return self

    def _check_prescription_windows(self) -> None:
        windows, per = self.prescription_windows, self.frequency.per
        if (self.category.value == "medication") != bool(windows):
            raise ValueError(f"{self.code}: prescription windows are for, and needed by, medication actions")
        if per in _PRESCRIPTION_FREQUENCIES and not windows:
            raise ValueError(f"{self.code}: a {per.value} frequency counts prescriptions: name their windows")
        if per is not FrequencyPer.PRESCRIPTION and any(w.per is not per for w in windows):
            raise ValueError(f"{self.code}: frequency {per.value}: its prescriptions earn per {per.value}")
        ranges = sorted((w.days_supply_min, w.days_supply_max) for w in windows)
        if any(low <= high for (_, high), (low, _) in pairwise(ranges)):
            raise ValueError(f"{self.code}: prescription windows overlap in days supply")

    def procedure_codes(self) -> frozenset[str]:
        """CPT/HCPCS codes whose claim lines evidence the action (they share the `hcpcs_code` column)."""
        return self.codes(*PROCEDURE_SYSTEMS)

    def codes(self, *systems: CodeSystem) -> frozenset[str]:
        """Every evidence code of the given systems."""
        return frozenset(c for cs in self.evidence_codes if cs.code_system in systems for c in cs.codes)

    def evidence_sets_named(self, name: str) -> tuple[CodeSet, ...]:
        """Every evidence code set of one name (a name may span systems, e.g. CPT and LOINC)."""
        return tuple(cs for cs in self.evidence_codes if cs.name == name)

    def evidence_set(self, name: str) -> CodeSet | None:
        """An evidence code set by name (the first of that name)."""
        return next((cs for cs in self.evidence_codes if cs.name == name), None)

    def condition_set(self, name: str) -> tuple[CodeSet, ...]:
        """The condition code sets of one name (a name may span systems, e.g. ICD-10 and NDC)."""
        return tuple(cs for cs in self.condition_codes if cs.name == name)

    def accepts_days_supply(self, days: int | None) -> bool:
        """Refill actions take fills of their own duration only (30-day vs 90-day)."""
        if days is None:
            return self.days_supply_min is None
        low, high = self.days_supply_min or 1, self.days_supply_max or 365
        return low <= days <= high

    def prescription_window(self, days: int | None) -> PrescriptionWindow:
        """The window of a prescription of `days` days supply: the first one when the supply is unknown
        or held by none (a prescription is taken for the shortest until a fill says otherwise)."""
        windows = self.prescription_windows
        if days is not None:
            found = next((w for w in windows if w.holds(days)), None)
            if found is not None:
                return found
        return windows[0]

    @property
    def first_step(self) -> Step:
        return self.steps[0]

    @property
    def last_step(self) -> Step:
        """The step a claim or supplemental record confirms (claim, final dose, dispense)."""
        return self.steps[-1]


def add_months(day: date, months: int) -> date:
    """`day` plus whole months, clamped to the month's end (Jan 31 + 1 month = Feb 28)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    following = date(year + month // 12, month % 12 + 1, 1)
    last = date.fromordinal(following.toordinal() - 1).day
    return date(year, month, min(day.day, last))
