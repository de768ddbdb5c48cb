"""Evidence from flattened FHIR rows (`shared.intake.fhir.flatten_fhir`): the steps they evidence, and the
clinical records the measure engine reads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import polars as pl

from shared.logic.dates import optional_date
from shared.models.actions import Step
from shared.models.evidence import (
    Evidence,
    EvidenceSource,
    coded,
    codes_text,
    condition_action,
    record_action,
)
from shared.programs.measures import ValueSets, code_key, measure_catalog
from shared.programs.menu import ActionDefinition, CodeSystem, normal_code


def _unique_actions(actions: Iterable[ActionDefinition]) -> list[ActionDefinition]:
    # Several program versions may define one action: the newest definition's code sets win.
    return list({a.code: a for a in actions}.values())


FHIR_SKIPPED_STATUSES = frozenset({"entered-in-error", "not-done", "cancelled", "stopped", "refuted"})
_FHIR_SOURCES = {
    CodeSystem.CVX: EvidenceSource.IMMUNIZATION,
    CodeSystem.LOINC: EvidenceSource.LAB,
    CodeSystem.CPT: EvidenceSource.SUPPLEMENTAL,
    CodeSystem.HCPCS: EvidenceSource.SUPPLEMENTAL,
    CodeSystem.ICD10CM: EvidenceSource.SUPPLEMENTAL,
    CodeSystem.NDC: EvidenceSource.PHARMACY_CLAIM,
}
CARE_GAP_RESOURCES = frozenset(
    {"Immunization", "Observation", "Procedure", "Condition", "MedicationDispense"}
)
"""The FHIR resources whose codes evidence an action's step; the others are records the measures read."""
_SUPPLY_DAYS = frozenset({"d", "day", "days"})


def _day(value: object) -> date | None:
    try:
        return optional_date(value)
    except ValueError:
        return None


def _pairs(text: object) -> list[tuple[str, str]]:
    return [code_key(s, c) for s, c in coded(text if isinstance(text, str) else None)]


def _record_period(row: dict[str, Any], day: date) -> tuple[date | None, date | None]:
    """The record's period; a medication order's runs from when it was written (or its dosage starts)
    through its dosage bounds, else through the supply it covers, else that day (QI-Core)."""
    start, end = _day(row.get("start_date")), _day(row.get("end_date"))
    if row.get("resource_type") != "MedicationRequest":
        return start, end
    first = min(start, day) if start else day
    if end is None:
        supply = _whole(row.get("days_supply"))
        unit = str(row.get("unit") or "d").lower()
        end = first + timedelta(days=supply) if supply is not None and unit in _SUPPLY_DAYS else first
    return first, end


def _whole(value: object) -> int | None:
    try:
        return int(float(str(value))) if value not in (None, "") else None
    except ValueError:
        return None


def _record_fields(row: dict[str, Any], system: str, code: str, day: date) -> dict[str, Any]:
    """What a flattened row says about its record (see `Evidence`), codes spelled as evidence spells them."""
    others = [pair for pair in _pairs(row.get("codes")) if pair != (system, code)]
    start, end = _record_period(row, day)
    encounter = row.get("encounter")
    negated = row.get("negated")
    return {
        "kind": row["resource_type"],
        "code_system": system,
        "codes": codes_text(dict.fromkeys(others)),
        "status": row.get("status") or None,
        "verification": row.get("verification") or None,
        "intent": row.get("intent") or None,
        "negated": None if negated in (None, "") else str(negated).lower() == "true",
        "reasons": codes_text(_pairs(row.get("reasons"))),
        "value_codes": codes_text(_pairs(row.get("value_codes"))),
        "unit": row.get("unit") or None,
        "start_date": start,
        "end_date": end,
        "record_id": row.get("resource_id") or None,
        "encounter_id": str(encounter).rsplit("/", 1)[-1] if encounter else None,
        "setting": row.get("setting") or None,
        "discharge": codes_text(_pairs(row.get("discharge"))),
        "body_site": codes_text(_pairs(row.get("body_site"))),
    }


def _matters(fields: dict[str, Any], system: str, code: str, valuesets: ValueSets | None) -> bool:
    """Whether a record names a code some measure reads (a value set's, or a definition's own). Every
    encounter does: it is the setting other records name (a reading taken in an emergency room)."""
    if fields["kind"] == "Encounter":
        return True
    direct = measure_catalog().direct_codes()
    pairs = [(system, code), *coded(fields["codes"]), *coded(fields["value_codes"])]
    return any(p in direct or (valuesets is not None and valuesets.knows(*p)) for p in pairs)


def fhir_evidence(
    rows: pl.DataFrame,
    actions: Iterable[ActionDefinition],
    *,
    file_id: str,
    valuesets: ValueSets | None = None,
) -> list[Evidence]:
    """Evidence from flattened FHIR rows (see docs/file-specs.md).

    Doses, observations, procedures, conditions and dispenses whose code is in an action's code set
    evidence its step (conditions also become facts), unless their status says the event did not
    happen. Every item of a row carries the record's details (`Evidence.kind` and after) when the rows
    have them (`shared.intake.fhir.RECORD_COLUMNS`); a row that evidences no step but names a code a
    measure reads (in `valuesets`, or a definition's own code) is kept as a record (`record_action`),
    negations and encounters included. Rows without a member, a code or a readable date are passed over.
    """
    menu = _unique_actions(actions)
    found: dict[str, Evidence] = {}
    for row in rows.iter_rows(named=True):
        day = _day(row.get("event_date"))
        if not row.get("member_id") or not row.get("code") or not row.get("code_system") or day is None:
            continue
        raw_system, rtype = str(row["code_system"]), str(row.get("resource_type"))
        system, code = code_key(raw_system, str(row["code"]))
        fields = _record_fields(row, system, code, day) if "codes" in row else {}
        kept = False
        if rtype in CARE_GAP_RESOURCES and raw_system in _CODE_SYSTEMS:
            skipped = str(row.get("status") or "").lower() in FHIR_SKIPPED_STATUSES
            kept = not skipped and _action_evidence(row, menu, file_id, day, fields, found)
        if not kept and fields and _matters(fields, system, code, valuesets):
            record = Evidence(
                member_id=str(row["member_id"]),
                action=record_action(rtype),
                step=Step.PERFORM,
                action_date=day,
                source=EvidenceSource.SUPPLEMENTAL,
                file_id=file_id,
                source_row=int(row.get("source_row") or 0),
                concept=code,
                result_value=row.get("value") or None,
                days_supply=_whole(row.get("days_supply")),
                **fields,
            )
            found.setdefault(record.evidence_id, record)
    return list(found.values())


_CODE_SYSTEMS = frozenset(s.value for s in CodeSystem)


def _action_evidence(
    row: dict[str, Any],
    menu: list[ActionDefinition],
    file_id: str,
    day: date,
    fields: dict[str, Any],
    found: dict[str, Evidence],
) -> bool:
    """Add the row's evidence of the menu's steps and condition facts; whether it gave any that no other
    row had given (a second record of one code on one day is kept as a record instead)."""
    system = CodeSystem(str(row["code_system"]))
    code = normal_code(system, str(row["code"]))
    supply = _whole(row.get("days_supply"))
    base = {
        "member_id": str(row["member_id"]),
        "action_date": day,
        "source": _FHIR_SOURCES[system],
        "file_id": file_id,
        "source_row": int(row.get("source_row") or 0),
        "concept": code,
        "result_value": row.get("value") or None,
        "days_supply": supply,
        **fields,
    }
    if system is CodeSystem.NDC:
        base |= {"claim_id": str(row["resource_id"]), "claim_line_number": 0}
    added = False
    for action in menu:
        for cs in action.evidence_codes:
            if cs.code_system is system and cs.matches(code):
                if system is CodeSystem.NDC and not action.accepts_days_supply(supply):
                    continue
                condition = cs.name if cs.name in action.recapture_sets else None
                item = Evidence(action=action.code, step=action.last_step, condition=condition, **base)
                added |= found.setdefault(item.evidence_id, item) is item
        for cs in action.condition_codes:
            if cs.code_system is system and cs.matches(code):
                item = Evidence(action=condition_action(cs.name), step=Step.DIAGNOSIS, **base)
                added |= found.setdefault(item.evidence_id, item) is item
    return added
