"""Measure definitions as data: CMS's eCQM parameters, the programs that rate them, and value sets.

`data/measures/<Measure>.json` holds one CMS definition as CMS ships it (ages, lookbacks, value set OIDs,
codes); `data/measures/common.json` the value sets the measures share; `data/measures/programs/<program>
.json` the rates a program pays on, each naming its measure (and a group or component of it) and the
`overrides` of the measure's parameters where the program differs from CMS. Every file is validated when
read, and an override is applied and the result validated again, so a bad one stops the load.

The definitions' models are in `measure_definitions.py`, value set expansions in `valuesets.py`; both are
re-exported here, the one place the engine and the tools import them from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.programs.measure_definitions import (
    AcuteHospitalUtilization,
    AdolescentAntigen,
    AdolescentImmunization,
    AgeRange,
    AsthmaMedication,
    AsthmaMedicationRatio,
    BloodPressure,
    BreastCancerScreening,
    CervicalCancerScreening,
    ChildhoodImmunization,
    ChlamydiaScreening,
    Code,
    ColorectalCancerScreening,
    ColorectalScreening,
    CommonDefinitions,
    ControllingBloodPressure,
    DepressionRemission,
    DepressionScreening,
    EmergencyDepartmentUtilization,
    EyeExam,
    GlycemicStatus,
    KidneyHealth,
    MeasureDefinition,
    Oid,
    OpioidMedication,
    OpioidPharmacotherapy,
    PersistentAsthma,
    PrenatalPostpartumCare,
    Rotavirus,
    ScreeningTest,
    ShortSeries,
    Spec,
    StatinTherapy,
    TotalCostOfCare,
    VaccineSeries,
    VisitWindow,
    WellCareVisits,
    WindowStart,
    apply_overrides,
    merge_overrides,
    parse_definition,
)
from shared.programs.valuesets import (
    ValueSetError,
    ValueSets,
    code_key,
    load_valuesets,
    oid_of,
    spec_key,
)

__all__ = [
    "AcuteHospitalUtilization",
    "AdolescentAntigen",
    "AdolescentImmunization",
    "AgeRange",
    "AsthmaMedication",
    "AsthmaMedicationRatio",
    "BloodPressure",
    "BreastCancerScreening",
    "CervicalCancerScreening",
    "ChildhoodImmunization",
    "ChlamydiaScreening",
    "Code",
    "ColorectalCancerScreening",
    "ColorectalScreening",
    "CommonDefinitions",
    "ControllingBloodPressure",
    "DepressionRemission",
    "DepressionScreening",
    "EmergencyDepartmentUtilization",
    "EyeExam",
    "GlycemicStatus",
    "KidneyHealth",
    "MeasureCatalog",
    "MeasureDefinition",
    "MeasureFileError",
    "Oid",
    "OpioidMedication",
    "OpioidPharmacotherapy",
    "PersistentAsthma",
    "PrenatalPostpartumCare",
    "ProgramMeasures",
    "Rate",
    "RatedMeasure",
    "Rotavirus",
    "ScreeningTest",
    "ShortSeries",
    "Spec",
    "StatinTherapy",
    "TotalCostOfCare",
    "UnknownMeasureError",
    "VaccineSeries",
    "ValueSetError",
    "ValueSets",
    "VisitWindow",
    "WellCareVisits",
    "WindowStart",
    "apply_overrides",
    "code_key",
    "load_measures",
    "load_valuesets",
    "measure_catalog",
    "oid_of",
    "parse_definition",
    "spec_key",
]

DATA_DIR = Path(__file__).parent / "data" / "measures"
PROGRAMS_DIR = DATA_DIR / "programs"
COMMON = "common"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MeasureFileError(ValueError):
    """A measure or program measure file that is not valid; the message names the file and the problem."""


class UnknownMeasureError(KeyError):
    """A measure name that is neither a definition's name, its program code nor its CMS id."""


# ---- programs' rates -------------------------------------------------------------------------------------
class Rate(_Frozen):
    """One rate a program pays on: a measure, the group or component of it, and the program's overrides.

    `group` None counts a member in whichever group it falls (SPC's four risk groups are exclusive);
    `component` names a part of the measure (a CIS vaccine series, DSF's follow-up)."""

    rate: str = Field(min_length=1)
    measure: str
    group: int | None = Field(default=None, ge=0)
    component: str | None = None
    parts: tuple[str, ...] = ()
    """Components rated each on its own under the one rate (APC's DSF-E: screening and follow-up)."""
    combination: tuple[str, ...] = ()
    """Components a member must all meet to meet the rate (CIS Combination 10, IMA Combination 2)."""
    overrides: dict[str, Any] = {}

    @model_validator(mode="after")
    def _one_selection(self) -> Rate:
        chosen = [n for n in ("component", "parts", "combination") if getattr(self, n)]
        if len(chosen) > 1:
            raise ValueError(f"rate {self.rate}: give one of {', '.join(chosen)}")
        return self

    def names(self) -> tuple[str, ...]:
        """Every component the rate reads."""
        return (*((self.component,) if self.component else ()), *self.parts, *self.combination)


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
        overrides = merge_overrides(program.overrides, rate.overrides)
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
        if definition.scoring == "utilization" and (rate.group is not None or rate.names()):
            raise ValueError(f"{where}: {rate.measure} counts events, it has no groups or components")
        for name in rate.names():
            if name not in definition.components:
                raise ValueError(f"{where}: {rate.measure} has no component {name}")
        self._check_names(definition)
        return RatedMeasure(rate=rate, definition=definition)

    def get(self, name: str) -> MeasureDefinition:
        """A definition by its name (BreastCancerScreeningFHIR), program code (BCS-E) or CMS id (CMS125)."""
        wanted = name.strip().lower()
        for definition in self.definitions.values():
            if wanted in {
                definition.name.lower(),
                definition.program_code.lower(),
                (definition.cms_id or definition.name).lower(),
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
