"""Measure definitions as data: CMS's eCQM parameters, the programs that rate them, and value sets.

`data/measures/<Measure>.json` holds one CMS definition as CMS ships it (ages, lookbacks, value set OIDs,
codes); `data/measures/common.json` the value sets the measures share; `data/measures/programs/<program>
.json` the rates a program pays on, each naming its measure (and a group or component of it) and the
`overrides` of the measure's parameters where the program differs from CMS. Every file is validated when
read, and an override is applied and the result validated again, so a bad one stops the load.

Value set expansions (`ValueSets`) are not shipped: they come from VSAC (or the CMS decks) as FHIR
ValueSet resources and are read by `load_valuesets`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from shared.models.evidence import normal_record_code, system_name

DATA_DIR = Path(__file__).parent / "data" / "measures"
PROGRAMS_DIR = DATA_DIR / "programs"
COMMON = "common"

Oid = Annotated[str, Field(pattern=r"^\d+(\.\d+)+$")]
"""A value set's OID (VSAC)."""
Code = Annotated[str, Field(pattern=r"^\S+\|\S+$")]
"""One code as `system|code`, the system being its FHIR canonical URL."""
Spec = Annotated[str, Field(pattern=r"^(\d+(\.\d+)+|\S+\|\S+)$")]
"""What a criterion names: a value set OID or one code."""


class MeasureFileError(ValueError):
    """A measure or program measure file that is not valid; the message names the file and the problem."""


class UnknownMeasureError(KeyError):
    """A measure name that is neither a definition's name, its program code nor its CMS id."""


class ValueSetError(ValueError):
    """A value set folder or file that cannot be used."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- value set expansions ----------------------------------------------------------------------------
VSAC_PREFIX = "http://cts.nlm.nih.gov/fhir/ValueSet/"


def oid_of(url_or_oid: str) -> str:
    """The OID of a VSAC value set URL (an OID stays as it is)."""
    return url_or_oid.rsplit("/", 1)[-1]


def code_key(system: str, code: str) -> tuple[str, str]:
    """A (system, code) pair as evidence spells it (`system_name`, `normal_record_code`)."""
    name = system_name(system)
    return name, normal_record_code(name, code)


def spec_key(spec: str) -> tuple[str, str]:
    """The (system, code) of a `system|code` spec, as evidence spells it."""
    system, _, code = spec.rpartition("|")
    return code_key(system, code)


class ValueSets:
    """Which value sets hold each (system, code), codes spelled as evidence spells them."""

    def __init__(self) -> None:
        self._members: dict[tuple[str, str], set[str]] = {}
        self._prefixes: dict[tuple[str, str], set[str]] = {}
        self._seen: dict[tuple[tuple[str, str], ...], frozenset[str]] = {}
        self.titles: dict[str, str] = {}

    @classmethod
    def from_resources(cls, resources: Iterable[Mapping[str, Any]]) -> ValueSets:
        """An index of FHIR ValueSet resources' expansions."""
        index = cls()
        for resource in resources:
            index.add(resource)
        return index

    def add(self, valueset: Mapping[str, Any]) -> None:
        """Add one ValueSet resource's expansion (nested `contains` included)."""
        if valueset.get("resourceType") != "ValueSet":
            raise ValueSetError("not a FHIR ValueSet")
        oid = oid_of(str(valueset.get("url") or valueset.get("id", "")))
        self.titles[oid] = str(valueset.get("title") or valueset.get("name") or oid)
        stack = list(valueset.get("expansion", {}).get("contains", []))
        while stack:
            item = stack.pop()
            stack.extend(item.get("contains", []))
            if item.get("code"):
                key = code_key(str(item.get("system", "")), str(item["code"]))
                self._members.setdefault(key, set()).add(oid)

    def __contains__(self, oid: object) -> bool:
        return oid in self.titles

    def oids(self, system: str, code: str) -> frozenset[str]:
        """The value sets holding a code spelled as evidence spells it."""
        found = self._members.get((system, code), set())
        if self._prefixes and system == "ICD10CM":
            found = found | {
                oid for n in range(3, len(code) + 1) for oid in self._prefixes.get((system, code[:n]), ())
            }
        return frozenset(found)

    def knows(self, system: str, code: str) -> bool:
        """Whether any value set holds the code."""
        return bool(self.oids(system, code))

    def oids_of(self, codes: tuple[tuple[str, str], ...]) -> frozenset[str]:
        """The value sets holding any of the codes (remembered: the same codes recur across members)."""
        found = self._seen.get(codes)
        if found is None:
            found = frozenset().union(*(self.oids(*pair) for pair in codes))
            if len(self._seen) > 200_000:
                self._seen.clear()
            self._seen[codes] = found
        return found

    def with_codes(self, additions: Mapping[str, Iterable[tuple[str, str]]]) -> ValueSets:
        """A copy in which each OID also holds the given (system, code) pairs; ICD-10-CM codes match by
        prefix (`E11` holds `E119`), as the menus' code sets do."""
        copy = ValueSets()
        copy._members = {key: set(oids) for key, oids in self._members.items()}
        copy._prefixes = {key: set(oids) for key, oids in self._prefixes.items()}
        copy.titles = dict(self.titles)
        for oid, pairs in additions.items():
            copy.titles.setdefault(oid, oid)
            for system, code in pairs:
                key = code_key(system, code)
                table = copy._prefixes if key[0] == "ICD10CM" else copy._members
                table.setdefault(key, set()).add(oid)
        return copy


def load_valuesets(folder: Path) -> ValueSets:
    """Every ValueSet expansion (`*.json`) in a folder, e.g. the CMS decks' `valuesets/`."""
    if not folder.is_dir():
        raise ValueSetError(f"value set folder not found: {folder}")
    resources = []
    for path in sorted(folder.glob("*.json")):
        try:
            resources.append(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise ValueSetError(f"{path.name}: not JSON") from exc
    try:
        return ValueSets.from_resources(resources)
    except ValueSetError as exc:
        raise ValueSetError(f"{folder}: {exc}") from None


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


def _merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = _merge(current, value)
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
    return parse_definition(_merge(definition.model_dump(mode="json"), overrides))


# ---- programs' rates -------------------------------------------------------------------------------------
class Rate(_Frozen):
    """One rate a program pays on: a measure, the group or component of it, and the program's overrides.

    `group` None counts a member in whichever group it falls (SPC's four risk groups are exclusive);
    `component` names a part of the measure (a CIS vaccine series, DSF's follow-up)."""

    rate: str = Field(min_length=1)
    measure: str
    group: int | None = Field(default=None, ge=0)
    component: str | None = None
    overrides: dict[str, Any] = {}


class ProgramMeasures(_Frozen):
    """The measures one program rates (`data/measures/programs/<program>.json`).

    `overrides` apply to every rate's measure (a rate's own override the same keys); `code_sets` name,
    per value set OID, the program's own code sets whose codes also count as that value set's (the
    claim codes of its menu), so claims rate where CMS's value sets list only EHR codes."""

    program: str = Field(min_length=1)
    note: str | None = None
    overrides: dict[str, Any] = {}
    code_sets: dict[Oid, tuple[str, ...]] = {}
    rates: tuple[Rate, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ProgramMeasures:
        names = [r.rate for r in self.rates]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"rates named twice: {', '.join(doubled)}")
        return self


class RatedMeasure(BaseModel):
    """A program's rate with its measure's definition, the program's overrides applied."""

    model_config = ConfigDict(frozen=True)

    rate: Rate
    definition: MeasureDefinition


class MeasureCatalog:
    """Every measure definition, the shared value sets, and the programs' rates, all validated."""

    def __init__(
        self,
        definitions: Iterable[MeasureDefinition],
        common: CommonDefinitions,
        programs: Iterable[ProgramMeasures] = (),
    ) -> None:
        self.definitions: dict[str, MeasureDefinition] = {d.name: d for d in definitions}
        self.common = common
        self._direct: frozenset[tuple[str, str]] | None = None
        self._overridden: dict[tuple[str, str], MeasureDefinition] = {}
        self._rated: dict[str, tuple[RatedMeasure, ...]] = {}
        for definition in self.definitions.values():
            self._check_names(definition)
        self.programs: dict[str, ProgramMeasures] = {}
        for program in programs:
            self.programs[program.program] = program
            self._rated[program.program] = tuple(self._rated_measure(program, r) for r in program.rates)

    def _check_names(self, definition: MeasureDefinition) -> None:
        unknown = [
            n
            for n in definition.qualifying_encounters
            if n not in self.common.valuesets and n not in definition.valuesets
        ]
        if unknown:
            raise ValueError(f"{definition.name}: unknown qualifying encounters {', '.join(unknown)}")

    def _rated_measure(self, program: ProgramMeasures, rate: Rate) -> RatedMeasure:
        where = f"{program.program} rate {rate.rate}"
        if rate.measure not in self.definitions:
            raise ValueError(f"{where}: no measure definition {rate.measure}")
        overrides = _merge(program.overrides, rate.overrides)
        key = (rate.measure, json.dumps(overrides, sort_keys=True))
        definition = self._overridden.get(key)
        if definition is None:
            try:
                definition = apply_overrides(self.definitions[rate.measure], overrides)
            except ValidationError as exc:
                raise ValueError(f"{where}: overrides do not validate: {_first_error(exc)}") from None
            # Rates of one measure with the same overrides share the definition (and its evaluation).
            self._overridden[key] = definition
        if rate.group is not None and rate.group >= definition.groups:
            raise ValueError(f"{where}: {rate.measure} has {definition.groups} group(s)")
        if rate.component is not None and rate.component not in definition.components:
            raise ValueError(f"{where}: {rate.measure} has no component {rate.component}")
        self._check_names(definition)
        return RatedMeasure(rate=rate, definition=definition)

    def get(self, name: str) -> MeasureDefinition:
        """A definition by its name (BreastCancerScreeningFHIR), program code (BCS-E) or CMS id (CMS125)."""
        wanted = name.strip().lower()
        for definition in self.definitions.values():
            if wanted in {
                definition.name.lower(),
                definition.program_code.lower(),
                definition.cms_id.lower(),
            }:
                return definition
        raise UnknownMeasureError(name)

    def rated(self, program: str) -> tuple[RatedMeasure, ...]:
        """The rates a program pays on (none when it has no measures file)."""
        return self._rated.get(program, ())

    def code_set_codes(
        self, program: str, code_sets: Mapping[str, Iterable[tuple[str, str]]]
    ) -> dict[str, list[tuple[str, str]]]:
        """Per OID, the codes of the program's code sets that count as its value set (`code_sets`: the
        program's code sets by name, as (system, code) pairs); a name the program lacks is an error."""
        wanted = self.programs.get(program)
        if wanted is None:
            return {}
        missing = sorted({n for names in wanted.code_sets.values() for n in names} - set(code_sets))
        if missing:
            raise MeasureFileError(f"programs/{program}.json: no code set named {', '.join(missing)}")
        return {
            oid: [pair for name in names for pair in code_sets[name]]
            for oid, names in wanted.code_sets.items()
        }

    def specs(self) -> Iterator[str]:
        """Every value set OID and code any definition names (what evidence has to keep)."""
        yield from self.common.valuesets.values()
        yield from _strings(self.common.model_dump(exclude={"valuesets"}))
        for definition in self.definitions.values():
            yield from _strings(definition.model_dump())

    def direct_codes(self) -> frozenset[tuple[str, str]]:
        """The single codes (not value sets) the definitions name, as evidence spells them."""
        if self._direct is None:
            self._direct = frozenset(spec_key(s) for s in self.specs() if "|" in s)
        return self._direct


_SPEC = re.compile(r"^(\d+(\.\d+)+|\S+\|\S+)$")


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        if _SPEC.match(node):
            yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _strings(value)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MeasureFileError(f"{path.name}: not JSON ({exc.msg})") from None


def load_measures(data_dir: Path = DATA_DIR) -> MeasureCatalog:
    """Read and validate every measure file, the shared value sets and the programs' rates."""
    try:
        common = CommonDefinitions.model_validate(_read(data_dir / f"{COMMON}.json"))
    except ValidationError as exc:
        raise MeasureFileError(f"{COMMON}.json: {_first_error(exc)}") from None
    definitions = []
    for path in sorted(data_dir.glob("*.json")):
        if path.stem == COMMON:
            continue
        try:
            definition = parse_definition(_read(path))
        except ValidationError as exc:
            raise MeasureFileError(f"{path.name}: {_first_error(exc)}") from None
        if definition.name != path.stem:
            raise MeasureFileError(f"{path.name}: names measure {definition.name}")
        definitions.append(definition)
    programs = []
    for path in sorted((data_dir / "programs").glob("*.json")):
        try:
            program = ProgramMeasures.model_validate(_read(path))
        except ValidationError as exc:
            raise MeasureFileError(f"programs/{path.name}: {_first_error(exc)}") from None
        if program.program != path.stem:
            raise MeasureFileError(f"programs/{path.name}: names program {program.program}")
        programs.append(program)
    try:
        return MeasureCatalog(definitions, common, programs)
    except ValueError as exc:
        raise MeasureFileError(str(exc)) from None


@cache
def measure_catalog() -> MeasureCatalog:
    """The packaged measure catalog, read once per process."""
    return load_measures()
