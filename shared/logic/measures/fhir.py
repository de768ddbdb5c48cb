"""A small FHIR R4 reader: one patient's resources, codings, dates and intervals as the eCQMs use them."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

Resource = dict[str, Any]

# Only these statuses say an observation's result can be used (QI-Core common logic).
FINAL_OBSERVATION = frozenset({"final", "amended", "corrected"})
_DAY = timedelta(days=1)
_MICRO = timedelta(microseconds=1)


class FhirReadError(ValueError):
    """A file or bundle that is not FHIR JSON this reader understands."""


@dataclass(frozen=True)
class Interval:
    """A closed interval of instants; a None end is unbounded unless `unknown_end` says it is unknown."""

    start: datetime | None
    end: datetime | None
    unknown_end: bool = False

    def start_day(self) -> date:
        """The interval's first day (date.min when unbounded)."""
        return self.start.date() if self.start else date.min

    def end_day(self) -> date:
        """The interval's last day (date.max when unbounded)."""
        return self.end.date() if self.end else date.max

    def overlaps_days(self, other: Interval) -> bool:
        """CQL `overlaps day of`: the two share at least one day (unknown, so false, with an unknown end)."""
        if self.unknown_end:
            return False
        return self.start_day() <= other.end_day() and self.end_day() >= other.start_day()

    def during_days(self, other: Interval) -> bool:
        """CQL `during day of`: every day of this interval lies in the other."""
        if self.unknown_end:
            return False
        return self.start_day() >= other.start_day() and self.end_day() <= other.end_day()


def day_interval(first: date, last: date) -> Interval:
    """The interval from the start of `first` to the end of `last` (UTC)."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + _DAY - _MICRO
    return Interval(start, end)


def day_in(day: date | None, interval: Interval) -> bool:
    """Whether a day falls within an interval at day precision."""
    return day is not None and interval.start_day() <= day <= interval.end_day()


def parse_datetime(value: str | None, *, upper: bool = False) -> datetime | None:
    """A FHIR date/dateTime/instant as a UTC datetime; partial dates give their first (or last) instant."""
    if not value:
        return None
    text = value.strip()
    try:
        if len(text) == 4:
            year = int(text)
            return (
                datetime(year + 1, 1, 1, tzinfo=UTC) - _MICRO if upper else datetime(year, 1, 1, tzinfo=UTC)
            )
        if len(text) == 7:
            year, month = int(text[:4]), int(text[5:7])
            first = datetime(year, month, 1, tzinfo=UTC)
            if not upper:
                return first
            nxt = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
            return nxt - _MICRO
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + _DAY - _MICRO if upper else start
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FhirReadError("unreadable date") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(value: str | None) -> date | None:
    """A FHIR date (or the day of a dateTime)."""
    moment = parse_datetime(value)
    return moment.date() if moment else None


def to_interval(resource: Resource, prefix: str) -> Interval | None:
    """`<prefix>DateTime` / `<prefix>Period` / `<prefix>Instant` / `<prefix>` as an interval."""
    for suffix in ("DateTime", "Instant", "Date", ""):
        value = resource.get(prefix + suffix)
        if isinstance(value, str):
            return Interval(parse_datetime(value), parse_datetime(value, upper=True))
    period = resource.get(prefix + "Period", resource.get(prefix))
    if isinstance(period, dict):
        return period_interval(period)
    return None


def period_interval(period: dict[str, Any] | None) -> Interval | None:
    """A FHIR Period as an interval (a missing end stays open)."""
    if not period:
        return None
    return Interval(parse_datetime(period.get("start")), parse_datetime(period.get("end"), upper=True))


def codings(concept: Any) -> Iterator[tuple[str, str]]:
    """(system, code) of each coding in a CodeableConcept, a Coding, or a list of them."""
    if isinstance(concept, list):
        for item in concept:
            yield from codings(item)
        return
    if not isinstance(concept, dict):
        return
    if "coding" in concept:
        yield from codings(concept["coding"])
    elif "code" in concept and isinstance(concept.get("code"), str):
        yield (concept.get("system", ""), concept["code"])


def has_code(concept: Any, system: str, code: str) -> bool:
    """Whether a concept carries exactly this system and code."""
    return any(s == system and c == code for s, c in codings(concept))


def modifier_flag(resource: Resource, name: str) -> bool | None:
    """A boolean (modifier) extension whose url ends with `name`, e.g. doNotPerform."""
    for ext in resource.get("modifierExtension", []) + resource.get("extension", []):
        if str(ext.get("url", "")).lower().endswith(name.lower()) and "valueBoolean" in ext:
            return bool(ext["valueBoolean"])
    return None


def reference_id(reference: Any) -> str | None:
    """The id part of a `Type/id` reference."""
    if not isinstance(reference, dict) or not reference.get("reference"):
        return None
    return str(reference["reference"]).rsplit("/", 1)[-1]


@dataclass
class PatientRecord:
    """One patient's resources, indexed by type and by `Type/id`."""

    patient: Resource
    by_type: dict[str, list[Resource]] = field(default_factory=lambda: defaultdict(list))
    by_ref: dict[str, Resource] = field(default_factory=dict)

    @classmethod
    def from_resources(cls, resources: Iterable[Resource]) -> PatientRecord:
        """Index a patient's resources; exactly one Patient is required."""
        items = list(resources)
        patients = [r for r in items if r.get("resourceType") == "Patient"]
        if len(patients) != 1:
            raise FhirReadError("expected exactly one Patient resource")
        record = cls(patient=patients[0])
        for resource in items:
            kind = str(resource.get("resourceType", ""))
            record.by_type[kind].append(resource)
            if resource.get("id"):
                record.by_ref[f"{kind}/{resource['id']}"] = resource
        return record

    def of(self, *kinds: str) -> list[Resource]:
        """All resources of the given types."""
        return [r for kind in kinds for r in self.by_type.get(kind, [])]

    def resolve(self, reference: Any) -> Resource | None:
        """The resource a reference points at, when it is in this record."""
        if isinstance(reference, dict) and reference.get("reference"):
            return self.by_ref.get(str(reference["reference"]))
        return None

    @property
    def birth_date(self) -> date | None:
        """The patient's birth date."""
        return parse_date(self.patient.get("birthDate"))

    @property
    def gender(self) -> str | None:
        """The administrative gender."""
        value = self.patient.get("gender")
        return str(value) if value else None


def expand(items: Iterable[Resource]) -> Iterator[Resource]:
    """Resources, with Bundles opened up into their entries."""
    for item in items:
        if item.get("resourceType") == "Bundle":
            yield from expand(entry["resource"] for entry in item.get("entry", []) if "resource" in entry)
        else:
            yield item


def read_resources(paths: Iterable[Path]) -> list[Resource]:
    """Every FHIR resource in the given JSON files or folders (Bundles unpacked)."""
    found: list[Resource] = []
    for path in paths:
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                data = json.loads(file.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise FhirReadError(f"{file.name}: not JSON") from exc
            if not isinstance(data, dict) or "resourceType" not in data:
                raise FhirReadError(f"{file.name}: not a FHIR resource")
            found.extend(expand([data]))
    return found


def group_by_patient(resources: Iterable[Resource]) -> list[PatientRecord]:
    """Split resources into one record per Patient, by their subject/patient/beneficiary reference."""
    items = list(resources)
    patients = {f"Patient/{r.get('id')}": r for r in items if r.get("resourceType") == "Patient"}
    grouped: dict[str, list[Resource]] = {ref: [res] for ref, res in patients.items()}
    shared: list[Resource] = []
    for resource in items:
        if resource.get("resourceType") == "Patient":
            continue
        owner = None
        for key in ("subject", "patient", "beneficiary"):
            ref = resource.get(key)
            if isinstance(ref, dict) and ref.get("reference") in grouped:
                owner = ref["reference"]
                break
        if owner is None:
            shared.append(resource)  # Medications, Organizations: visible to every patient
        else:
            grouped[owner].append(resource)
    return [PatientRecord.from_resources(group + shared) for group in grouped.values()]
