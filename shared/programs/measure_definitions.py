"""One measure's definition as CMS ships it: its ages, lookbacks, value set OIDs and codes, validated.

`logic` names the rules that evaluate it (`shared/logic/measures/engine.py`); the other fields are the
parameters those rules read, and the only things a program may override (`apply_overrides`). The measures
CMS publishes no eCQM for (NCQA's AMR, IMA, WCV, W30, POD, PPC, DRR-E; the utilization and cost measures)
are defined the same way, without a `cms_id`, their codes listed in the definition itself. A utilization
or cost definition (`scoring` "utilization") yields a member's events or cost, not populations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

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
    scoring: ClassVar[Literal["proportion", "utilization"]] = "proportion"
    """A proportion's populations per member, or a utilization/cost measure's events and cost."""

    name: str = Field(min_length=1)
    program_code: str = Field(min_length=1)
    cms_id: str | None = Field(default=None, pattern=r"^CMS\d+$")
    """CMS's eCQM id; None for a measure CMS publishes no eCQM of."""
    url: str = Field(pattern=r"^https?://")
    note: str | None = None
    """Where the definition comes from and what it leaves out (the ones CMS does not publish)."""
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
    glycemic_status_below: float | None = None
    """When set, the numerator is instead a most recent result below it (NCQA's GSD <8.0%, controlled): a
    missing or unvalued result then does not meet it."""


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


# ---- NCQA's measures without an eCQM (APC) ----------------------------------------------------------------
class AsthmaMedication(_Frozen):
    """One class of asthma medication: a controller or a reliever, and how a fill counts in units (oral:
    one per `oral_days_per_unit` days of supply, at least one; an inhaler or an injection: one per fill)."""

    name: str = Field(min_length=1)
    role: Literal["controller", "reliever"]
    route: Literal["oral", "inhaler", "injection"]
    codes: tuple[Spec, ...] = Field(min_length=1)


class PersistentAsthma(_Frozen):
    """Persistent asthma in a year: `dispensing_events` asthma medication units, or asthma diagnosed on
    `diagnosis_days` distinct days with `with_dispensing_events` units."""

    dispensing_events: int = Field(ge=1)
    diagnosis_days: int = Field(ge=1)
    with_dispensing_events: int = Field(ge=0)


class AsthmaMedicationRatio(_Definition):
    logic: Literal["asthma_medication_ratio"]
    ratio_at_least: float = Field(gt=0, le=1)
    oral_days_per_unit: int = Field(ge=1)
    persistent: PersistentAsthma
    asthma_diagnoses: tuple[Spec, ...] = Field(min_length=1)
    exclusion_diagnoses: tuple[Spec, ...] = ()
    medications: tuple[AsthmaMedication, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _both_roles(self) -> AsthmaMedicationRatio:
        if {m.role for m in self.medications} != {"controller", "reliever"}:
            raise ValueError("medications must list controllers and relievers")
        return self


class ShortSeries(_Frozen):
    """A shorter series that also completes an antigen: `doses` doses at least `min_days_apart` apart."""

    doses: int = Field(ge=1)
    min_days_apart: int = Field(ge=0)


class AdolescentAntigen(_Frozen):
    """One antigen of IMA: `doses` doses on distinct days from the `from_birthday`th birthday through the
    measure's birthday (or the short series), or a contraindication by then."""

    doses: int = Field(ge=1)
    from_birthday: int = Field(ge=0)
    vaccines: tuple[Spec, ...] = Field(min_length=1)
    short_series: ShortSeries | None = None
    contraindications: tuple[Spec, ...] = ()


class AdolescentImmunization(_Definition):
    logic: Literal["adolescent_immunization"]
    birthday: int = Field(ge=1)
    """The members whose birthday of this age falls in the measurement period (IMA: the 13th)."""
    antigens: dict[str, AdolescentAntigen] = Field(min_length=1)
    exclusion_conditions: tuple[Spec, ...] = ()

    @property
    def components(self) -> tuple[str, ...]:
        """Each antigen."""
        return tuple(self.antigens)


class VisitWindow(_Frozen):
    """One rate of a visits measure: `visits` visits on distinct days. `anchor_months` None: the members
    in the definition's age band, visits in the period; else the members whose `anchor_months` month
    birthday falls in the period, visits from the `from_months` month birthday plus `from_days` (birth when
    None) through the `through_months` month birthday."""

    visits: int = Field(ge=1)
    anchor_months: int | None = Field(default=None, ge=1)
    from_months: int | None = Field(default=None, ge=0)
    from_days: int = Field(default=0, ge=0)
    through_months: int | None = Field(default=None, ge=1)


class WellCareVisits(_Definition):
    logic: Literal["well_care_visits"]
    visit_codes: tuple[Spec, ...] = Field(min_length=1)
    windows: dict[str, VisitWindow] = Field(min_length=1)

    @property
    def components(self) -> tuple[str, ...]:
        """Each window (W30's first 15 months and 15 to 30 months)."""
        return tuple(self.windows)


class OpioidMedication(_Frozen):
    """One OUD medication: its codes (NDC fills, HCPCS administrations) and the days an administration
    covers (a fill covers its days' supply)."""

    name: str = Field(min_length=1)
    codes: tuple[Spec, ...] = Field(min_length=1)
    administration_days: int = Field(default=1, ge=1)


class OpioidPharmacotherapy(_Definition):
    logic: Literal["opioid_pharmacotherapy"]
    intake_start: WindowStart
    intake_end: WindowStart
    negative_history_days: int = Field(ge=0)
    treatment_days: int = Field(ge=1)
    allowed_gap_days: int = Field(ge=0)
    diagnosis_lookback_days: int = Field(ge=0)
    oud_diagnoses: tuple[Spec, ...] = Field(min_length=1)
    medications: tuple[OpioidMedication, ...] = Field(min_length=1)


class PrenatalPostpartumCare(_Definition):
    logic: Literal["prenatal_postpartum_care"]
    delivery_from: WindowStart
    delivery_through: WindowStart
    deliveries: tuple[Spec, ...] = Field(min_length=1)
    prenatal_visits: tuple[Spec, ...] = Field(min_length=1)
    prenatal_days_before_delivery: tuple[int, int]
    """(first, last) days before the delivery a prenatal visit counts in (280, 176: the first trimester)."""
    postpartum_visits: tuple[Spec, ...] = Field(min_length=1)
    postpartum_days_after_delivery: tuple[int, int]

    @property
    def components(self) -> tuple[str, ...]:
        """Timeliness of prenatal care, and postpartum care."""
        return ("prenatal", "postpartum")


class DepressionRemission(_Definition):
    logic: Literal["depression_remission"]
    intake_start: WindowStart
    intake_end: WindowStart
    scores: tuple[Spec, ...] = Field(min_length=1)
    elevated_above: float
    remission_below: float
    response_reduction_percent: float = Field(gt=0, le=100)
    follow_up_months: tuple[int, int]
    diagnosis_lookback_days: int = Field(ge=0)
    depression_diagnoses: tuple[Spec, ...] = Field(min_length=1)
    exclusion_diagnoses: tuple[Spec, ...] = ()

    @property
    def components(self) -> tuple[str, ...]:
        """A follow-up score in the window, remission, and response."""
        return ("follow_up", "remission", "response")


# ---- utilization and cost ----------------------------------------------------------------------------------
class _Utilization(_Definition):
    scoring: ClassVar[Literal["proportion", "utilization"]] = "utilization"

    inpatient_bill_types: tuple[Annotated[str, Field(pattern=r"^[1-9][0-9]?$")], ...] = Field(min_length=1)
    """Type-of-bill prefixes, leading zero dropped, of an inpatient stay (`11`: hospital inpatient)."""
    exclude_hospice: bool = False
    """Leave out members in hospice during the period (NCQA's AHU and EDU)."""


class AcuteHospitalUtilization(_Utilization):
    logic: Literal["acute_hospital_utilization"]
    nonacute_revenue_codes: tuple[Annotated[str, Field(pattern=r"^[0-9]{4}$")], ...] = ()
    excluded_ms_drgs: tuple[Annotated[str, Field(pattern=r"^[0-9]{3}$")], ...] = ()
    excluded_discharge_dispositions: tuple[Annotated[str, Field(pattern=r"^[0-9]{2}$")], ...] = ()
    transfer_within_days: int = Field(ge=0)


class EmergencyDepartmentUtilization(_Utilization):
    logic: Literal["emergency_department_utilization"]
    ed_revenue_codes: tuple[Annotated[str, Field(pattern=r"^[0-9]{4}$")], ...] = Field(min_length=1)
    ed_procedure_codes: tuple[Annotated[str, Field(pattern=r"^[0-9A-Z]{5}$")], ...] = ()
    admission_within_days: int = Field(ge=0)


class TotalCostOfCare(_Utilization):
    logic: Literal["total_cost_of_care"]


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
    | StatinTherapy
    | AsthmaMedicationRatio
    | AdolescentImmunization
    | WellCareVisits
    | OpioidPharmacotherapy
    | PrenatalPostpartumCare
    | DepressionRemission
    | AcuteHospitalUtilization
    | EmergencyDepartmentUtilization
    | TotalCostOfCare,
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
