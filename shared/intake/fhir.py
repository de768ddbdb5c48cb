"""FHIR R4 (Bundle JSON or Bulk Data NDJSON) flattened into evidence-ready rows of strings.

JSON nesting has to be walked per resource; that walk only picks strings out. Every check and every
type cast happens afterwards with the same column expressions as the tabular kinds. Numbers are kept
as the text the file spells (`parse_float=str`), so a float never touches a value.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from shared.intake.csv_stream import UTF8_BOM, RawBatch
from shared.intake.errors import QuarantineError
from shared.intake.fhir_types import R4_RESOURCE_TYPES
from shared.intake.line_stream import check_utf8, line_pieces
from shared.intake.source import inflate
from shared.intake.validation import SOURCE_ROW
from shared.models.evidence import FHIR_SYSTEMS

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
"""The columns the fhir kind checks (`shared/intake/kinds.py`)."""

RECORD_COLUMNS = (
    "codes",
    "start_date",
    "end_date",
    "verification",
    "intent",
    "negated",
    "reasons",
    "value_codes",
    "encounter",
    "setting",
    "discharge",
    "body_site",
)
"""What the measure engine reads besides (`shared/logic/evidence.py` `fhir_evidence`): every coding of
the code and of coded values, reasons and body sites as `system|code` separated by spaces, the record's
period, a condition's verification, a request's intent, whether it was not done, an encounter's class
and discharge disposition, and the encounter an observation was made in (its reference)."""

SYSTEMS = FHIR_SYSTEMS
"""Code systems evidence can use, by their FHIR canonical URL."""


@dataclass(frozen=True)
class _Kind:
    concept: str
    """Path to the CodeableConcept."""
    dates: tuple[str, ...]
    """Fields `event_date` is read from, tried in order."""
    starts: tuple[str, ...] = ()
    """Fields the record's period starts at (a DateTime is a one-day period), tried in order."""
    ends: tuple[str, ...] = ()
    """Fields the record's period ends at."""


RESOURCES: dict[str, _Kind] = {
    "Immunization": _Kind(
        "vaccineCode", ("occurrenceDateTime",), ("occurrenceDateTime",), ("occurrenceDateTime",)
    ),
    "Observation": _Kind(
        "code",
        ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued"),
        ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant"),
        ("effectiveDateTime", "effectivePeriod.end", "effectiveInstant"),
    ),
    "Procedure": _Kind(
        "code",
        ("performedDateTime", "performedPeriod.start", "performedPeriod.end"),
        ("performedDateTime", "performedPeriod.start"),
        ("performedDateTime", "performedPeriod.end"),
    ),
    "Condition": _Kind(
        "code",
        ("onsetDateTime", "onsetPeriod.start", "recordedDate", "abatementDateTime", "abatementPeriod.end"),
        ("onsetDateTime", "onsetPeriod.start"),
        ("abatementDateTime", "abatementPeriod.end"),
    ),
    "MedicationDispense": _Kind("medicationCodeableConcept", ("whenHandedOver", "whenPrepared")),
    "Encounter": _Kind("type", ("period.start", "period.end"), ("period.start",), ("period.end",)),
    "MedicationRequest": _Kind("medicationCodeableConcept", ("authoredOn",)),
    "ServiceRequest": _Kind("code", ("authoredOn",)),
    "DeviceRequest": _Kind("codeCodeableConcept", ("authoredOn",)),
    "AllergyIntolerance": _Kind(
        "code",
        ("onsetDateTime", "onsetPeriod.start", "recordedDate"),
        ("onsetDateTime", "onsetPeriod.start"),
        ("onsetDateTime", "onsetPeriod.end"),
    ),
    "AdverseEvent": _Kind("event", ("recordedDate", "date"), ("recordedDate",), ("recordedDate",)),
}
"""Resource types that become rows: what their code is and where their dates are."""
_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})(T.*)?$")
_NDC_10 = re.compile(r"^(\d{4,5})-(\d{3,4})-(\d{1,2})$")
_NOT_PERFORMED = ("donotperform", "donotpeform")  # the second spelling is in published test data


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


def _first_date(resource: dict[str, Any], paths: tuple[str, ...]) -> str | None:
    return next((_date(_get(resource, p)) for p in paths if _get(resource, p) is not None), None)


def _ndc11(code: str) -> str:
    """NDC in FHIR is often the hyphenated 10-digit form; pad it to the 5-4-2 billing form."""
    match = _NDC_10.match(code)
    if not match:
        return code
    labeler, product, package = match.groups()
    return labeler.zfill(5) + product.zfill(4) + package.zfill(2)


def _codings(concept: Any) -> list[dict[str, Any]]:
    """The codings of a CodeableConcept, a Coding, or a list of either."""
    if isinstance(concept, list):
        return [c for item in concept for c in _codings(item)]
    if not isinstance(concept, dict):
        return []
    codings = concept.get("coding")
    if isinstance(codings, list):
        return [c for c in codings if isinstance(c, dict)]
    return [concept] if isinstance(concept.get("code"), str) else []


def _coding(concept: Any) -> tuple[str | None, str | None]:
    """(system name, code) of the first coding in a known system, else the first coding's raw system
    (of a CodeableConcept, or of a list of them such as an Encounter's `type`)."""
    dicts = _codings(concept)
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


def _codes(*concepts: Any) -> str | None:
    """Every coding of the concepts as `system|code`, separated by spaces (None when there is none)."""
    pairs = [
        f"{_text(c.get('system')) or ''}|{code}"
        for concept in concepts
        for c in _codings(concept)
        if (code := _text(c.get("code"))) and " " not in code
    ]
    return " ".join(pairs) or None


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


def _extensions(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for key in ("modifierExtension", "extension"):
        items = resource.get(key)
        if isinstance(items, list):
            found.extend(e for e in items if isinstance(e, dict))
    return found


def _negated(resource: dict[str, Any]) -> str | None:
    """ "true" when the resource says it must not be (or was not) done: doNotPerform, as an element or an
    extension."""
    flag = resource.get("doNotPerform")
    for ext in _extensions(resource):
        named = str(ext.get("url", "")).lower().endswith(_NOT_PERFORMED)
        if named and isinstance(ext.get("valueBoolean"), bool):
            flag = ext["valueBoolean"]
    return ("true" if flag else "false") if isinstance(flag, bool) else None


def _reasons(resource: dict[str, Any]) -> str | None:
    not_done = [
        ext.get("valueCodeableConcept")
        for ext in _extensions(resource)
        if str(ext.get("url", "")).endswith("notDoneReason")
    ]
    return _codes(resource.get("reasonCode"), resource.get("statusReason"), not_done)


def _value(node: dict[str, Any], path: str) -> str | None:
    value = _get(node, path)
    if value is None:
        value = next((node.get(k) for k in ("valueString", "valueInteger") if node.get(k) is not None), None)
    if isinstance(node.get("valueBoolean"), bool) and value is None:
        return "true" if node["valueBoolean"] else "false"
    return _text(value)


def _medication_period(resource: dict[str, Any]) -> tuple[str | None, str | None]:
    """A request's dosage bounds (its first instruction that has them)."""
    instructions = resource.get("dosageInstruction")
    for instruction in instructions if isinstance(instructions, list) else []:
        bounds = _get(instruction, "timing.repeat.boundsPeriod")
        if isinstance(bounds, dict):
            return _date(bounds.get("start")), _date(bounds.get("end"))
    return None, None


def _record(resource: dict[str, Any], kind: _Kind) -> dict[str, str | None]:
    start, end = _first_date(resource, kind.starts), _first_date(resource, kind.ends)
    rtype = resource["resourceType"]
    if rtype == "MedicationRequest":
        start, end = _medication_period(resource)
    _, verification = _coding(resource.get("verificationStatus"))
    return {
        "start_date": start,
        "end_date": end,
        "verification": verification,
        "intent": _text(resource.get("intent")),
        "negated": _negated(resource),
        "reasons": _reasons(resource),
        "encounter": _text(_get(resource, "encounter.reference")),
        "setting": _text(_get(resource, "class.code")),
        "discharge": _codes(_get(resource, "hospitalization.dischargeDisposition")),
        "body_site": _codes(resource.get("bodySite")),
    }


def _rows(
    resource: dict[str, Any], index: int, full_url: str | None, patients: dict[str, str]
) -> Iterator[dict[str, Any]]:
    rtype = resource["resourceType"]
    kind = RESOURCES[rtype]
    base = {
        "resource_type": rtype,
        "resource_id": _text(resource.get("id")) or full_url,
        "member_id": _member(resource, patients),
        "event_date": _first_date(resource, kind.dates),
        "status": _status(resource),
        "resource_index": str(index),
        **_record(resource, kind),
    }
    value_path, unit_path = "valueQuantity.value", "valueQuantity.unit"
    if rtype == "MedicationDispense":
        value_path, unit_path = "quantity.value", "quantity.unit"
        base["days_supply"] = _text(_get(resource, "daysSupply.value"))
    if rtype == "MedicationRequest":
        supply = _get(resource, "dispenseRequest.expectedSupplyDuration")
        if isinstance(supply, dict):
            base["days_supply"] = _text(supply.get("value"))
            unit_path = "dispenseRequest.expectedSupplyDuration.code"
    components = resource.get("component") if rtype == "Observation" else None
    if isinstance(components, list) and components and _get(resource, value_path) is None:
        # A blood-pressure panel carries systolic and diastolic as components: one row each.
        for part in components:
            if not isinstance(part, dict):
                continue
            system, code = _coding(_get(part, "code"))
            yield base | {
                "code_system": system,
                "code": code,
                "codes": _codes(part.get("code")),
                "value": _value(part, "valueQuantity.value"),
                "unit": _text(_get(part, "valueQuantity.unit")),
                "value_codes": _codes(part.get("valueCodeableConcept")),
            }
        return
    concept = _get(resource, kind.concept)
    system, code = _coding(concept)
    yield base | {
        "code_system": system,
        "code": code,
        "codes": _codes(concept),
        "value": _value(resource, value_path)
        if rtype == "Observation"
        else _text(_get(resource, value_path)),
        "unit": _text(_get(resource, unit_path)),
        "value_codes": _codes(resource.get("valueCodeableConcept")),
    }


def _loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=str, parse_int=str)


DOCUMENT_MAX = 64 * 1024 * 1024
"""The largest FHIR document (a Bundle, or one resource) read whole: a JSON document can only be parsed
whole. Bulk Data NDJSON (one resource a line) is read line by line and has no limit."""
RESOURCES_PER_BATCH = 20_000
Entry = tuple[dict[str, Any], str | None]


def _document_entries(document: Any) -> list[Entry]:
    """(resource, fullUrl) pairs of a parsed document: a Bundle's entries, or the resource itself."""
    if not isinstance(document, dict):
        raise QuarantineError("UNREADABLE", "not a FHIR Bundle nor NDJSON resources")
    rtype = document.get("resourceType")
    if rtype == "Bundle":
        entries = document.get("entry") or []
        if not isinstance(entries, list):
            raise QuarantineError("UNREADABLE", "Bundle.entry is not a list")
        return [
            (e["resource"], _text(e.get("fullUrl")))
            for e in entries
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
        ]
    if not isinstance(rtype, str):
        raise QuarantineError("UNREADABLE", "the document has no resourceType: not a FHIR resource")
    if isinstance(document.get("entry"), list):
        raise QuarantineError("UNREADABLE", "a document with entries whose resourceType is not Bundle")
    if rtype not in R4_RESOURCE_TYPES:
        raise QuarantineError("UNREADABLE", "the document's resourceType is not a FHIR R4 resource type")
    return [(document, None)]


def _line_resource(text: str, line: int) -> dict[str, Any]:
    try:
        resource = _loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise QuarantineError(
            "UNREADABLE", f"line {line} is not JSON: not a FHIR Bundle nor NDJSON"
        ) from None
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise QuarantineError("UNREADABLE", f"line {line} is not a FHIR resource")
    if resource["resourceType"] not in R4_RESOURCE_TYPES:
        raise QuarantineError("UNREADABLE", f"line {line}: the resourceType is not a FHIR R4 resource type")
    return resource


def _entry_batches(content: Iterator[bytes]) -> Iterator[list[Entry]]:
    """The file's resources in batches: NDJSON line by line, a document (a Bundle) whole."""
    pieces = line_pieces(content)
    first = next(pieces, None)
    if first is None:
        raise QuarantineError("EMPTY_FILE", "file has no content")
    piece, line = first[0].removeprefix(UTF8_BOM), first[1]
    check_utf8(piece, line)
    head = piece.lstrip()
    opening = head.split(b"\n", 1)[0].strip()
    try:
        probe = _loads(opening) if opening else None
    except (json.JSONDecodeError, RecursionError):
        probe = None
    if isinstance(probe, dict) and probe.get("resourceType") != "Bundle" and "entry" not in probe:
        yield from _ndjson(itertools.chain([(piece, line)], pieces))
        return
    # A document (a Bundle, pretty-printed or not): read whole, within DOCUMENT_MAX.
    parts, size = [piece], len(piece)
    for more, _ in pieces:
        size += len(more)
        if size > DOCUMENT_MAX:
            raise QuarantineError(
                "TOO_LARGE", f"a FHIR document over {DOCUMENT_MAX} bytes; send Bulk Data NDJSON instead"
            )
        parts.append(more)
    data = b"".join(parts)
    del parts
    check_utf8(data, 1)
    if not data.strip():
        raise QuarantineError("EMPTY_FILE", "file has no content")
    try:
        document = _loads(data)
    except (json.JSONDecodeError, RecursionError):
        raise QuarantineError("UNREADABLE", "not a FHIR Bundle nor NDJSON resources") from None
    entries = _document_entries(document)
    del document
    for start in range(0, len(entries), RESOURCES_PER_BATCH):
        yield entries[start : start + RESOURCES_PER_BATCH]


def _ndjson(pieces: Iterator[tuple[bytes, int]]) -> Iterator[list[Entry]]:
    for piece, first_line in pieces:
        check_utf8(piece, first_line)
        batch: list[Entry] = []
        for offset, raw in enumerate(piece.decode("utf-8").split("\n")):
            text = raw.strip()
            if text:
                batch.append((_line_resource(text, first_line + offset), None))
        if batch:
            yield batch


class FhirStream:
    """Flattened rows of one FHIR file's content (already inflated), in batches of strings."""

    def __init__(self, content: Iterator[bytes]) -> None:
        self._content = content
        self.skipped = 0
        """Resources of types that do not become rows (Patient, Coverage…), counted as read."""
        self._rows = 0
        self._resources = 0

    def batches(self) -> Iterator[RawBatch]:
        """`source_row` + FHIR_COLUMNS + RECORD_COLUMNS, as strings, in the file's order."""
        names = (*FHIR_COLUMNS, *RECORD_COLUMNS)
        for entries in _entry_batches(self._content):
            # A Bundle's Patient entries may be named by their fullUrl (`urn:uuid:…`).
            patients = {
                url: str(r["id"])
                for r, url in entries
                if url and r.get("resourceType") == "Patient" and _text(r.get("id"))
            }
            records: list[dict[str, Any]] = []
            for resource, url in entries:
                self._resources += 1
                rtype = resource.get("resourceType")
                if isinstance(rtype, str) and rtype in RESOURCES:
                    records.extend(_rows(resource, self._resources, url, patients))
                else:
                    self.skipped += 1
            if not records:
                continue
            frame = pl.DataFrame(records, schema=dict.fromkeys(names, pl.String))
            start = self._rows + 1
            self._rows += frame.height
            yield RawBatch(
                frame.select(
                    pl.int_range(start, start + frame.height, dtype=pl.Int64).alias(SOURCE_ROW), *names
                ),
                padded=True,
            )
        if self._rows == 0:
            raise QuarantineError("EMPTY_FILE", "no resources of a supported type")


def flatten_fhir(data: bytes) -> tuple[pl.DataFrame, int]:
    """Flatten a FHIR file into string rows (`source_row` + FHIR_COLUMNS + RECORD_COLUMNS) and count
    skipped resources (the whole file in memory: the eCQM decks, tests).

    Resources of the types in `RESOURCES` become rows (a panel Observation one per component); any
    other type (Patient, Coverage, Organization…) is skipped and only counted.
    """
    stream = FhirStream(inflate([data]))
    frames = [batch.frame for batch in stream.batches()]
    return pl.concat(frames), stream.skipped
