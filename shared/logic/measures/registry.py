"""Which evaluate function serves which measure, by folder name or Care Gap P4P program code."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.logic.measures.definitions import all_definitions
from shared.logic.measures.fhir import Interval, PatientRecord, Resource
from shared.logic.measures.result import PopulationResult
from shared.logic.measures.valuesets import ValueSetIndex

Evaluate = Callable[
    [PatientRecord | Iterable[Resource], Interval | tuple[date, date], ValueSetIndex], PopulationResult
]


class UnknownMeasureError(KeyError):
    """A measure name that is neither a known folder name nor a program code."""


@dataclass(frozen=True)
class Measure:
    """A measure's definition and its evaluate function."""

    name: str
    program_code: str
    url: str
    definition: dict[str, Any]
    evaluate: Evaluate


def _entry(entry: str) -> Evaluate:
    module, function = entry.split(":")
    evaluate: Evaluate = getattr(importlib.import_module(f"shared.logic.measures.{module}"), function)
    return evaluate


def measures() -> list[Measure]:
    """Every measure this engine evaluates (each definition names its `module:function`)."""
    return [Measure(d["name"], d["program_code"], d["url"], d, _entry(d["entry"])) for d in all_definitions()]


def get_measure(name: str) -> Measure:
    """A measure by its folder name (BreastCancerScreeningFHIR), program code (BCS-E) or CMS id (CMS125)."""
    wanted = name.strip().lower()
    for measure in measures():
        keys = {
            measure.name.lower(),
            measure.program_code.lower(),
            str(measure.definition.get("cms_id", "")).lower(),
        }
        if wanted in keys:
            return measure
    raise UnknownMeasureError(name)
