"""FHIR R4 (Bundle JSON or Bulk Data NDJSON) flattened into evidence-ready rows of strings.

JSON nesting has to be walked per resource; that walk only picks strings out. Every check and every
type cast happens afterwards with the same column expressions as the tabular kinds. Numbers are kept
as the text the file spells (`parse_float=str`), so a float never touches a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import polars as pl

from shared.intake.errors import QuarantineError
from shared.intake.parsing import SOURCE_ROW, UTF8_BOM, check_utf8, gunzip_if_needed, is_blank

FHIR_COLUMNS = (
    "resource_type",
    "resource_id",
    "member_id",
    "code_system",
    "code",
    "event_date",
    "value",
    "unit",
    "days_supply",
    "status",
    "resource_index",
)

SYSTEMS = {
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://loinc.org": "LOINC",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "HCPCS",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "HCPCS",
    "urn:oid:2.16.840.1.113883.6.285": "HCPCS",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "http://hl7.org/fhir/sid/ndc": "NDC",
}
"""Code systems evidence can use, by their FHIR canonical URL."""

# resource type -> (path to its CodeableConcept, date fields tried in order)
RESOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Immunization": ("vaccineCode", ("occurrenceDateTime",)),
    "Observation": ("code", ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued")),
    "Procedure": ("code", ("performedDateTime", "performedPeriod.start")),
    "Condition": ("code", ("onsetDateTime", "recordedDate")),
    "MedicationDispense": ("medicationCodeableConcept", ("whenHandedOver", "whenPrepared")),
}
_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})(T.*)?$")
_NDC_10 = re.compile(r"^(\d{4,5})-(\d{3,4})-(\d{1,2})$")


def _get(node: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _date(value: Any) -> str | None:
    """The calendar day of a FHIR date/dateTime; partial dates are passed on to fail the date check."""
    if not isinstance(value, str):
        return None
    match = _DATE_PREFIX.match(value)
    return match.group(1) if match else value


def _ndc11(code: str) -> str:
    """NDC in FHIR is often the hyphenated 10-digit form; pad it to the 5-4-2 billing form."""
    match = _NDC_10.match(code)
    if not match:
        return code
    labeler, product, package = match.groups()
    return labeler.zfill(5) + product.zfill(4) + package.zfill(2)


def _coding(concept: Any) -> tuple[str | None, str | None]:
    """(system name, code) of the first coding in a known system, else the first coding's raw system."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(codings, list):
        return None, None
    dicts = [c for c in codings if isinstance(c, dict)]
    for coding in dicts:
        system = SYSTEMS.get(str(coding.get("system")))
        code = _text(coding.get("code"))
        if system is not None:
            if code is not None and system == "ICD10CM":
                code = code.replace(".", "")
            if code is not None and system == "NDC":
                code = _ndc11(code)
            return system, code
    if dicts:
        return _text(dicts[0].get("system")) or "UNKNOWN", _text(dicts[0].get("code"))
    return None, None


def _member(resource: dict[str, Any], patients: dict[str, str]) -> str | None:
    reference = _text(_get(resource, "patient.reference")) or _text(_get(resource, "subject.reference"))
    if reference is None:
        return None
    if reference in patients:
        return patients[reference]
    kind, _, ident = reference.rpartition("/")
    return ident if kind.endswith("Patient") and ident else None


def _status(resource: dict[str, Any]) -> str | None:
    status = _text(resource.get("status"))
    if status is None:
        _, status = _coding(resource.get("clinicalStatus"))
    return status


def _rows(
    resource: dict[str, Any], index: int, full_url: str | None, patients: dict[str, str]
) -> Iterator[dict]:
    rtype = resource["resourceType"]
    concept_path, date_paths = RESOURCES[rtype]
    base = {
        "resource_type": rtype,
        "resource_id": _text(resource.get("id")) or full_url,
        "member_id": _member(resource, patients),
        "event_date": next(
            (_date(_get(resource, p)) for p in date_paths if _get(resource, p) is not None), None
        ),
        "status": _status(resource),
        "resource_index": str(index),
    }
    value_path, unit_path = "valueQuantity.value", "valueQuantity.unit"
    if rtype == "MedicationDispense":
        value_path, unit_path = "quantity.value", "quantity.unit"
        base["days_supply"] = _text(_get(resource, "daysSupply.value"))
    components = resource.get("component") if rtype == "Observation" else None
    if isinstance(components, list) and components and _get(resource, value_path) is None:
        # A blood-pressure panel carries systolic and diastolic as components: one row each.
        for part in components:
            system, code = _coding(_get(part, "code"))
            yield base | {
                "code_system": system,
                "code": code,
                "value": _text(_get(part, "valueQuantity.value")),
                "unit": _text(_get(part, "valueQuantity.unit")),
            }
        return
    system, code = _coding(_get(resource, concept_path))
    value = _get(resource, value_path)
    if value is None and rtype == "Observation":
        value = resource.get("valueString")
    yield base | {
        "code_system": system,
        "code": code,
        "value": _text(value),
        "unit": _text(_get(resource, unit_path)),
    }


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=str, parse_int=str)


def _entries(text: str) -> list[tuple[dict[str, Any], str | None]]:
    """(resource, fullUrl) pairs from a Bundle, a single resource, or NDJSON lines."""
    try:
        document = _loads(text)
    except (json.JSONDecodeError, RecursionError):
        document = None
    if isinstance(document, dict) and document.get("resourceType") == "Bundle":
        entries = document.get("entry") or []
        if not isinstance(entries, list):
            raise QuarantineError("UNREADABLE", "Bundle.entry is not a list")
        return [
            (e["resource"], _text(e.get("fullUrl")))
            for e in entries
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
        ]
    if isinstance(document, dict):
        return [(document, None)]
    out: list[tuple[dict[str, Any], str | None]] = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            resource = _loads(line)
        except (json.JSONDecodeError, RecursionError):
            raise QuarantineError("UNREADABLE", "not a FHIR Bundle nor NDJSON") from None
        if not isinstance(resource, dict):
            raise QuarantineError("UNREADABLE", "an NDJSON line is not a resource")
        out.append((resource, None))
    return out


def flatten_fhir(data: bytes) -> tuple[pl.DataFrame, int]:
    """Flatten a FHIR file into string rows (`source_row` + FHIR_COLUMNS) and count skipped resources.

    Resources of the types in `RESOURCES` become rows (a panel Observation one per component); any
    other type (Patient, Encounter, Coverage…) is skipped and only counted.
    """
    data = gunzip_if_needed(data)
    if is_blank(data):
        raise QuarantineError("EMPTY_FILE", "file has no content")
    check_utf8(data)
    entries = _entries(data.removeprefix(UTF8_BOM).decode("utf-8"))
    patients = {
        url: str(r["id"])
        for r, url in entries
        if url and r.get("resourceType") == "Patient" and _text(r.get("id"))
    }
    records: list[dict[str, Any]] = []
    skipped = 0
    for index, (resource, url) in enumerate(entries, start=1):
        rtype = resource.get("resourceType")
        if isinstance(rtype, str) and rtype in RESOURCES:
            records.extend(_rows(resource, index, url, patients))
        else:
            skipped += 1
    if not records:
        raise QuarantineError("EMPTY_FILE", "no resources of a supported type")
    frame = pl.DataFrame(records, schema=dict.fromkeys(FHIR_COLUMNS, pl.String))
    return frame.with_row_index(SOURCE_ROW, offset=1).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64)), skipped
