"""Reading the exports back: every resource validated by `fhir.resources`' R4B models after a JSON round
trip, and small readers for the parts the profiles fix (references, codings, extensions, populations)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.composition import Composition
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.measurereport import MeasureReport
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.patient import Patient

MODELS = {
    m.__name__: m
    for m in (Bundle, Composition, DetectedIssue, MeasureReport, Organization, Parameters, Patient)
}

Resource = dict[str, Any]


def validated(resource: Resource) -> Resource:
    """The resource as JSON would carry it, after its R4B model accepted it (nested resources included)."""
    text = json.dumps(resource)
    MODELS[resource["resourceType"]].model_validate_json(text)
    back: Resource = json.loads(text)
    return back


def resources(bundle: Resource, resource_type: str | None = None) -> list[Resource]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if resource_type is None or e["resource"]["resourceType"] == resource_type
    ]


def resolve(bundle: Resource, ref: dict[str, Any]) -> Resource:
    """The entry a reference points at, by full URL (exactly one must match)."""
    found = [e["resource"] for e in bundle["entry"] if e["fullUrl"] == ref["reference"]]
    assert len(found) == 1, ref
    return found[0]


def codings(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept["coding"]}


def extension(element: dict[str, Any], url: str, key: str = "extension") -> dict[str, Any]:
    found = [e for e in element.get(key, []) if e["url"] == url]
    assert len(found) == 1, (url, element.get(key))
    return found[0]


def populations(part: dict[str, Any]) -> dict[str, int]:
    """Population code → count of a group or stratum (each coded in the measure-population system)."""
    found = {}
    for population in part["population"]:
        ((system, code),) = codings(population["code"])
        assert system == "http://terminology.hl7.org/CodeSystem/measure-population"
        found[code] = population["count"]
    return found


def cents(money: dict[str, Any]) -> int:
    """A USD Money's value in cents, refusing anything finer than a cent."""
    assert money["currency"] == "USD"
    value = Decimal(str(money["value"])) * 100
    assert value == value.to_integral_value(), money
    return int(value)
