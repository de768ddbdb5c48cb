"""One measure's definition as CMS ships it: its ages, lookbacks, value set OIDs and codes, validated.

`logic` names the rules that evaluate it (`shared/logic/measures/engine.py`); the other fields are the
parameters those rules read, and the only things a program may override (`apply_overrides`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

Oid = Annotated[str, Field(pattern=r"^\d+(\.\d+)+$")]
"""A value set's OID (VSAC)."""
Code = Annotated[str, Field(pattern=r"^\S+\|\S+$")]
"""One code as `system|code`, the system being its FHIR canonical URL."""
Spec = Annotated[str, Field(pattern=r"^(\d+(\.\d+)+|\S+\|\S+)$")]
"""What a criterion names: a value set OID or one code."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- shared parts of a definition -----------------------------------------------------------------------
class AgeRange(_Frozen):
    """Ages in whole years, both ends inclusive, on the period's first or last day."""

    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=0)
    at: Literal["start", "end"] = "end"

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.max is not None and self.max < self.min:
            raise ValueError("age max below min")
        return self

    def holds(self, age: int | None) -> bool:
        """Whether an age lies in the range."""
        return age is not None and self.min <= age and (self.max is None or age <= self.max)


class CommonDefinitions(_Frozen):
    """The value sets and codes several measures share (hospice, palliative care, frailty, encounters)."""

    valuesets: dict[str, Oid]
    hospice_discharge: tuple[Code, ...]
    hospice_assessment: Code
    palliative_assessment: Code
    medical_equipment_used: Code
    housing_status: Code
    lives_in_nursing_home: Code
    yes: Code


class _Definition(_Frozen):
    name: str = Field(min_length=1)
    program_code: str = Field(min_length=1)
    cms_id: str = Field(pattern=r"^CMS\d+$")
    url: str = Field(pattern=r"^https?://")
    age: AgeRange | None = None
    gender: Literal["female", "male"] | None = None
    qualifying_encounters: tuple[str, ...] = ()
    valuesets: dict[str, Oid | tuple[Oid, ...]] = {}

    groups: int = 1
    """How many population groups (rates) its MeasureReport has."""

    @property
    def components(self) -> tuple[str, ...]:
        """Named parts a program may rate on their own (a vaccine series, a screening's follow-up)."""
        return ()

    def oid(self, name: str) -> str:
        """One named value set's OID."""
        value = self.valuesets[name]
        if not isinstance(value, str):
            raise TypeError(f"{self.name}: {name} names several value sets")
        return value

    def oids(self, name: str) -> tuple[str, ...]:
        """A named value set's OID, or the OIDs of a named list."""
        value = self.valuesets[name]
        return (value,) if isinstance(value, str) else value


class WindowStart(_Frozen):
    years_before: int = Field(ge=0)
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)


class BreastCancerScreening(_Definition):
    logic: Literal["breast_cancer_screening"]
    numerator_window_start: WindowStart
    left: Code
    right: Code


class ScreeningTest(_Frozen):
    years_before: int = Field(ge=0)
    min_age_at_test: int = Field(ge=0)


class CervicalCancerScreening(_Definition):
    logic: Literal["cervical_cancer_screening"]
    cytology: ScreeningTest
    hpv: ScreeningTest


class ColorectalScreening(_Frozen):
    kind: Literal["observation", "procedure"]
    valueset: str
    years_before: int = Field(ge=0)
    needs_value: bool = False


class ColorectalCancerScreening(_Definition):
    logic: Literal["colorectal_cancer_screening"]
    screenings: tuple[ColorectalScreening, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _named(self) -> ColorectalCancerScreening:
        unknown = [s.valueset for s in self.screenings if s.valueset not in self.valuesets]
        if unknown:
            raise ValueError(f"screenings name unknown value sets: {', '.join(unknown)}")
        return self


class BloodPressure(_Frozen):
    systolic: Code
    diastolic: Code
    systolic_below: float = Field(gt=0)
    diastolic_below: float = Field(gt=0)
    excluded_encounter_classes: tuple[str, ...]


class ControllingBloodPressure(_Definition):
    logic: Literal["controlling_blood_pressure"]
    hypertension_window_months: int = Field(ge=1, le=12)
    frailty_with_advanced_illness: AgeRange
    frailty_only: AgeRange
    blood_pressure: BloodPressure


class GlycemicStatus(_Definition):
    logic: Literal["glycemic_status"]
    glycemic_status_above: float
    glucose_management_indicator: Code


class EyeExam(_Definition):
    logic: Literal["eye_exam"]
    exam_lookback_years_without_retinopathy: int = Field(ge=0)


class KidneyHealth(_Definition):
    logic: Literal["kidney_health"]


class ChlamydiaScreening(_Definition):
    logic: Literal["chlamydia_screening"]
    pregnancy_test_follow_up_days: int = Field(ge=0)
    sexual_activity_question: Code
    yes_answers: tuple[Code, ...]


class Newborn(_Frozen):
    codes: tuple[Spec, ...]
    within_days: int = Field(ge=0)


class VaccineSeries(_Frozen):
    """One vaccine series of CIS: doses on distinct days from a minimum age through the 2nd birthday,
    or a contraindication, or the disease's history."""

    doses: int = Field(ge=1)
    from_days: int = Field(default=0, ge=0)
    from_first_birthday: bool = False
    vaccines: tuple[Spec, ...] = Field(min_length=1)
    contraindications: tuple[Spec, ...] = ()
    any_history: tuple[Spec, ...] = ()
    all_histories: tuple[Spec, ...] = ()
    newborn: Newborn | None = None
    on_second_birthday: tuple[Spec, ...] = ()


class Rotavirus(_Frozen):
    from_days: int = Field(ge=0)
    two_dose: tuple[Spec, ...]
    three_dose: tuple[Spec, ...]
    contraindications: tuple[Spec, ...] = ()


class ChildhoodImmunization(_Definition):
    logic: Literal["childhood_immunization"]
    exclusion_conditions: tuple[Spec, ...]
    vaccines: dict[str, VaccineSeries] = Field(min_length=1)
    rotavirus: Rotavirus

    @property
    def components(self) -> tuple[str, ...]:
        """Each vaccine series, rotavirus included."""
        return (*self.vaccines, "rotavirus")


class DepressionScreening(_Definition):
    logic: Literal["depression_screening"]
    screening_days_before_encounter: int = Field(ge=0)
    follow_up_days_after_encounter: int = Field(ge=0)
    screening_tools: tuple[Spec, ...] = Field(min_length=1)
    negative: Code
    positive: Code
    not_done_reasons: tuple[Oid, ...]

    @property
    def components(self) -> tuple[str, ...]:
        """Screened at a visit (any result), and followed up when positive."""
        return ("screening", "follow_up")


class StatinTherapy(_Definition):
    logic: Literal["statin_therapy"]
    groups: int = 4
    ldl_age: AgeRange
    ldl_at_least_mg_dl: float
    diabetes_age: AgeRange
    risk_age: AgeRange
    risk_at_least_percent: float
    risk_scores: tuple[Code, ...]
    ascvd_diagnosis_codes: tuple[Code, ...] = ()


MeasureDefinition = Annotated[
    BreastCancerScreening
    | CervicalCancerScreening
    | ColorectalCancerScreening
    | ControllingBloodPressure
    | GlycemicStatus
    | EyeExam
    | KidneyHealth
    | ChlamydiaScreening
    | ChildhoodImmunization
    | DepressionScreening
    | StatinTherapy,
    Field(discriminator="logic"),
]
"""One measure's definition; `logic` names the rules that evaluate it (`shared/logic/measures/`)."""

_DEFINITION: TypeAdapter[MeasureDefinition] = TypeAdapter(MeasureDefinition)


def parse_definition(data: Mapping[str, Any]) -> MeasureDefinition:
    """Validate one definition (a measure file's content)."""
    return _DEFINITION.validate_python(data)


def merge_overrides(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in, nested objects key by key."""
    merged = dict(base)
    for key, value in changes.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merge_overrides(current, value)
        else:
            merged[key] = value
    return merged


def apply_overrides(definition: MeasureDefinition, overrides: Mapping[str, Any]) -> MeasureDefinition:
    """The definition with a program's overrides merged in (nested objects merge key by key), validated
    again; `name`, `logic`, `cms_id` and `url` say which measure it is and cannot be overridden."""
    fixed = {"name", "logic", "cms_id", "url"} & set(overrides)
    if fixed:
        raise ValueError(f"cannot override {', '.join(sorted(fixed))}")
    if not overrides:
        return definition
    return parse_definition(merge_overrides(definition.model_dump(mode="json"), overrides))
