"""A member's evidence as the clinical records the measures read.

FHIR evidence carries its record's details (`Evidence.kind` and after). The tabular kinds map to the same
records where they can: a medical claim line is a service that was done (a finished encounter, a completed
procedure, a resulted test), a claim diagnosis an active condition from the service date, a lab row a
final observation with its value, a registry dose a completed immunization, a fill a dispensed medication
for its days' supply. Attestations are not records: they do not confirm a service (Q13).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from shared.models.evidence import CONDITION_PREFIX, Evidence, EvidenceSource, coded

CLAIM = "Claim"
"""The kind of a medical claim line: it stands for an encounter, a procedure or a test that was done."""
_CPT = re.compile(r"^(\d{5}|\d{4}[FT])$")
_TABULAR_KINDS = {
    EvidenceSource.LAB: "Observation",
    EvidenceSource.IMMUNIZATION: "Immunization",
    EvidenceSource.PHARMACY_CLAIM: "MedicationDispense",
}


@dataclass(frozen=True, slots=True)
class Record:
    """One clinical record: what it is, its codes, when, and what it says."""

    kind: str
    codes: tuple[tuple[str, str], ...]
    day: date
    """The day it counts on (authored, effective/performed start, onset, dose)."""
    start: date | None
    """Its period's first day; None when it has none (or, for a condition, no onset)."""
    end: date | None
    """Its period's last day (a condition's abatement); None when open or unknown."""
    has_period: bool
    """False when the record states no period at all (an observation dated only by when it was issued)."""
    status: str | None = None
    verification: str | None = None
    intent: str | None = None
    negated: bool = False
    value: str | None = None
    value_codes: tuple[tuple[str, str], ...] = ()
    reasons: tuple[tuple[str, str], ...] = ()
    body_site: tuple[tuple[str, str], ...] = ()
    discharge: tuple[tuple[str, str], ...] = ()
    setting: str | None = None
    record_id: str | None = None
    encounter_id: str | None = None
    tabular: bool = False
    """From a claim, lab or registry row rather than a FHIR resource."""

    @property
    def has_value(self) -> bool:
        """Whether a result is recorded; a billed test or service stands for one."""
        return self.value is not None or bool(self.value_codes) or self.kind == CLAIM

    @property
    def quantity(self) -> float | None:
        """The result as a number, when it is one."""
        if self.value is None:
            return None
        try:
            return float(self.value)
        except ValueError:
            return None


def _claim_system(item: Evidence) -> str:
    if item.action.startswith(CONDITION_PREFIX) or item.condition is not None:
        return "ICD10CM"
    return "CPT" if _CPT.match(item.concept or "") else "HCPCS"


def _tabular(item: Evidence) -> Record | None:
    if item.concept is None:
        return None
    day = item.action_date
    if item.source is EvidenceSource.MEDICAL_CLAIM or (
        item.source is EvidenceSource.SUPPLEMENTAL and item.kind is None
    ):
        system = _claim_system(item)
        kind = "Condition" if system == "ICD10CM" else CLAIM
        end = None if kind == "Condition" else day
        return Record(kind, ((system, item.concept),), day, day, end, True, tabular=True)
    tabular_kind = _TABULAR_KINDS.get(item.source)
    if tabular_kind is None:
        return None
    system = {"Observation": "LOINC", "Immunization": "CVX", "MedicationDispense": "NDC"}[tabular_kind]
    supply = item.days_supply if tabular_kind == "MedicationDispense" else None
    end = day + timedelta(days=supply) if supply else day
    return Record(
        tabular_kind, ((system, item.concept),), day, day, end, True, value=item.result_value, tabular=True
    )


def _fhir(item: Evidence) -> Record | None:
    if item.concept is None or item.kind is None:
        return None
    codes = ((item.code_system or "", item.concept), *coded(item.codes))
    return Record(
        kind=item.kind,
        codes=codes,
        day=item.action_date,
        start=item.start_date,
        end=item.end_date,
        has_period=item.start_date is not None or item.end_date is not None,
        status=item.status,
        verification=item.verification,
        intent=item.intent,
        negated=bool(item.negated),
        value=item.result_value,
        value_codes=coded(item.value_codes),
        reasons=coded(item.reasons),
        body_site=coded(item.body_site),
        discharge=coded(item.discharge),
        setting=item.setting,
        record_id=item.record_id,
        encounter_id=item.encounter_id,
    )


_MADE: dict[int, tuple[Evidence, Record | None]] = {}
"""Each evidence item's record as made last, by the item's identity (the item is held with it, so its id
cannot be taken by another while here). Evidence and records are frozen, so the record is the same every
time; a run reads each member's evidence several times (the settlement, the pages' projection, the annual
counters), and the decoded evidence is kept between runs (`shared.dal.gap_state`)."""
_MADE_MAX = 250_000
"""Items held at most; past it the memo starts again empty."""


def _record(item: Evidence) -> Record | None:
    """The item's record (`_fhir` or `_tabular`), made once per item while it is held."""
    held = _MADE.get(id(item))
    if held is not None and held[0] is item:
        return held[1]
    record = _fhir(item) if item.kind is not None else _tabular(item)
    if len(_MADE) >= _MADE_MAX:
        _MADE.clear()
    _MADE[id(item)] = (item, record)
    return record


def records_of(evidence: Iterable[Evidence], known_by: date | None = None) -> list[Record]:
    """The member's records, from the evidence the plan knew of by `known_by` (None: all of it).

    One source row is one record per code, however many actions' steps it evidences (a claim line's
    diagnosis kept for a step and as a condition is two records: a claim line and a condition)."""
    seen: set[tuple[str, int, str, tuple[str, str]]] = set()
    found = []
    for item in evidence:
        if item.source is EvidenceSource.ATTESTATION:
            continue
        if known_by is not None and item.known_date > known_by:
            continue
        record = _record(item)
        if record is None:
            continue
        key = (item.file_id, item.source_row, record.kind, record.codes[0])
        if key in seen:
            continue
        seen.add(key)
        found.append(record)
    return found
