"""Evidence from accepted rows: claim lines, pharmacy fills, registry doses and lab results whose code is
in an action's code set, attestations, and the condition facts (diagnoses, drug classes) eligibility
rules read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import polars as pl

from shared.logic.dates import optional_date, required_date
from shared.models.actions import ActionCode, Step
from shared.models.evidence import Evidence, EvidenceSource, condition_action
from shared.programs.menu import (
    PROCEDURE_SYSTEMS,
    ActionDefinition,
    CodeSet,
    CodeSystem,
    normal_code,
)

VOID_FREQUENCY_CODE = "8"
DX_COLUMNS = tuple(f"diagnosis_code_{i}" for i in range(1, 13))
_CLAIM_KEYS = (
    "member_id",
    "claim_id",
    "claim_line_number",
    "claim_start_date",
    "received_date",
    "source_row",
)


def _codes_by_action(
    actions: Iterable[ActionDefinition], *systems: CodeSystem
) -> dict[ActionCode, frozenset[str]]:
    merged: dict[ActionCode, set[str]] = {}
    for action in actions:
        merged.setdefault(action.code, set()).update(action.codes(*systems))
    return {code: frozenset(codes) for code, codes in merged.items() if codes}


def _unique_actions(actions: Iterable[ActionDefinition]) -> list[ActionDefinition]:
    # Several program versions may define one action: the newest definition's code sets win.
    by_code = {a.code: a for a in actions}
    return list(by_code.values())


def _condition_sets(actions: Iterable[ActionDefinition], system: CodeSystem) -> dict[str, list[CodeSet]]:
    sets: dict[str, list[CodeSet]] = {}
    for action in actions:
        for cs in action.condition_codes:
            if cs.code_system is system and cs not in sets.get(cs.name, []):
                sets.setdefault(cs.name, []).append(cs)
    return sets


def _prefix_filter(codes: Iterable[str]) -> pl.Expr:
    pattern = "^(?:" + "|".join(sorted(codes)) + ")"
    return pl.col("dx").str.contains(pattern)


def _claim_item(
    row: dict[str, Any],
    *,
    action: ActionCode,
    step: Step,
    concept: str,
    file_id: str,
    condition: str | None = None,
) -> Evidence:
    return Evidence(
        member_id=str(row["member_id"]),
        action=action,
        step=step,
        action_date=required_date(row["claim_start_date"]),
        received_date=optional_date(row["received_date"]),
        source=EvidenceSource.MEDICAL_CLAIM,
        file_id=file_id,
        source_row=int(row.get("source_row") or 0),
        concept=concept,
        claim_id=str(row["claim_id"]),
        claim_line_number=int(row["claim_line_number"]),
        condition=condition,
    )


def _diagnoses(claims: pl.DataFrame) -> pl.DataFrame:
    present = [c for c in DX_COLUMNS if c in claims.columns]
    keys = [c for c in _CLAIM_KEYS if c in claims.columns]
    if not present:
        return pl.DataFrame()
    frame = claims.select(*keys, *(pl.col(c).cast(pl.String) for c in present))
    return frame.unpivot(index=keys, on=present, value_name="dx").drop_nulls("dx").drop("variable")


def _diagnosis_evidence(
    claims: pl.DataFrame, actions: list[ActionDefinition], file_id: str
) -> Iterator[Evidence]:
    conditions = _condition_sets(actions, CodeSystem.ICD10CM)
    dx_evidence = [
        (a, cs) for a in actions for cs in a.evidence_codes if cs.code_system is CodeSystem.ICD10CM
    ]
    if not conditions and not dx_evidence:
        return
    long = _diagnoses(claims)
    if long.is_empty():
        return
    long = long.with_columns(dx=pl.col("dx").str.to_uppercase().str.replace_all(".", "", literal=True))
    year = pl.col("claim_start_date").cast(pl.String).str.slice(0, 4)
    for name, sets in sorted(conditions.items()):
        codes = {c for cs in sets for c in cs.codes}
        # One fact per member, condition and year per file is enough for eligibility.
        hits = (
            long.filter(_prefix_filter(codes))
            .with_columns(_year=year)
            .unique(["member_id", "_year"], keep="first", maintain_order=True)
        )
        for row in hits.iter_rows(named=True):
            yield _claim_item(
                row, action=condition_action(name), step=Step.DIAGNOSIS, concept=row["dx"], file_id=file_id
            )
    for action, cs in dx_evidence:
        hits = long.filter(_prefix_filter(cs.codes)).unique(
            ["claim_id", "claim_line_number"], keep="first", maintain_order=True
        )
        recapture = cs.name if cs.name in action.recapture_sets else None
        for row in hits.iter_rows(named=True):
            yield _claim_item(
                row,
                action=action.code,
                step=action.last_step,
                concept=row["dx"],
                file_id=file_id,
                condition=recapture,
            )


def claim_evidence(
    claims: pl.DataFrame, actions: Iterable[ActionDefinition], *, file_id: str
) -> list[Evidence]:
    """Evidence items of medical claim lines, and condition facts from their diagnoses.

    A line whose `hcpcs_code` (CPT, HCPCS or CPT II) or a diagnosis is in an action's code set evidences
    the action's confirming step, once per line and action (HCC-DX: once per condition); its action
    date is the service date and it counts from the date the plan received it. Diagnoses in a condition
    code set become one fact per member, condition and year. Voids (frequency 8) carry no evidence.
    """
    menu = _unique_actions(actions)
    codes = _codes_by_action(menu, *PROCEDURE_SYSTEMS)
    if claims.is_empty():
        return []
    live = claims.filter(pl.col("claim_frequency_code").cast(pl.String) != VOID_FREQUENCY_CODE)
    found: dict[str, Evidence] = {}
    if codes:
        wanted = frozenset().union(*codes.values())
        relevant = live.filter(pl.col("hcpcs_code").cast(pl.String).is_in(list(wanted)))
        by_action = {a.code: a for a in menu}
        for row in relevant.iter_rows(named=True):
            code = str(row["hcpcs_code"])
            for action, action_codes in codes.items():
                if code in action_codes:
                    step = by_action[action].last_step
                    item = _claim_item(row, action=action, step=step, concept=code, file_id=file_id)
                    found.setdefault(item.evidence_id, item)
    for item in _diagnosis_evidence(live, menu, file_id):
        found.setdefault(item.evidence_id, item)
    return list(found.values())


def attestation_evidence(
    attestations: pl.DataFrame, actions: Iterable[ActionDefinition], *, file_id: str
) -> list[Evidence]:
    """One evidence item per attestation of a known action and one of its steps."""
    steps = {a.code: set(a.steps) for a in actions}
    found = []
    for row in attestations.iter_rows(named=True):
        action = ActionCode(str(row["action_code"]))
        if action not in steps or row["step"] not in {s.value for s in steps[action]}:
            continue
        found.append(
            Evidence(
                member_id=str(row["member_id"]),
                action=action,
                step=Step(row["step"]),
                action_date=required_date(row["action_date"]),
                source=EvidenceSource.ATTESTATION,
                file_id=file_id,
                source_row=int(row.get("source_row") or 0),
                concept=row.get("result_code") or None,
                result_value=row.get("result_value") or None,
                attestation_id=str(row["attestation_id"]),
                attesting_clinic_id=str(row["clinic_id"]),
            )
        )
    return found


def pharmacy_evidence(
    fills: pl.DataFrame, actions: Iterable[ActionDefinition], *, file_id: str
) -> list[Evidence]:
    """Paid fills whose NDC is in an action's code set (and, for refills, of its duration) evidence the
    dispense step; fills of a condition's drug class (NDC condition sets) become condition facts."""
    menu = _unique_actions(actions)
    codes = _codes_by_action(menu, CodeSystem.NDC)
    conditions = _condition_sets(menu, CodeSystem.NDC)
    if fills.is_empty() or not (codes or conditions):
        return []
    paid = fills.filter(pl.col("claim_status").cast(pl.String) == "paid")
    found: dict[str, Evidence] = {}
    facts: set[tuple[str, str, int]] = set()
    by_action = {a.code: a for a in menu}
    for row in paid.iter_rows(named=True):
        ndc = normal_code(CodeSystem.NDC, str(row["ndc_code"]))
        supply = int(row["days_supply"])
        day = required_date(row["dispensing_date"])
        base = {
            "member_id": str(row["member_id"]),
            "action_date": day,
            "received_date": optional_date(row.get("paid_date")) or day,
            "source": EvidenceSource.PHARMACY_CLAIM,
            "file_id": file_id,
            "source_row": int(row.get("source_row") or 0),
            "concept": ndc,
            "claim_id": str(row["claim_id"]),
            "claim_line_number": int(row["fill_number"]),
            "days_supply": supply,
        }
        for code, action_codes in codes.items():
            if ndc in action_codes and by_action[code].accepts_days_supply(supply):
                item = Evidence(action=code, step=by_action[code].last_step, **base)
                found.setdefault(item.evidence_id, item)
        for name, sets in conditions.items():
            key = (str(row["member_id"]), name, day.year)
            if key not in facts and any(ndc in cs.codes for cs in sets):
                facts.add(key)
                item = Evidence(action=condition_action(name), step=Step.DIAGNOSIS, **base)
                found.setdefault(item.evidence_id, item)
    return list(found.values())


def _supplemental(
    rows: pl.DataFrame,
    actions: Iterable[ActionDefinition],
    *,
    file_id: str,
    system: CodeSystem,
    code_column: str,
    date_column: str,
    source: EvidenceSource,
    value_column: str | None = None,
) -> list[Evidence]:
    menu = _unique_actions(actions)
    codes = _codes_by_action(menu, system)
    if rows.is_empty() or not codes:
        return []
    found: dict[str, Evidence] = {}
    for row in rows.iter_rows(named=True):
        code = normal_code(system, str(row[code_column]))
        for action in menu:
            if code in codes.get(action.code, ()):
                item = Evidence(
                    member_id=str(row["member_id"]),
                    action=action.code,
                    step=action.last_step,
                    action_date=required_date(row[date_column]),
                    source=source,
                    file_id=file_id,
                    source_row=int(row.get("source_row") or 0),
                    concept=code,
                    result_value=(row.get(value_column) or None) if value_column else None,
                )
                found.setdefault(item.evidence_id, item)
    return list(found.values())


def immunization_evidence(
    doses: pl.DataFrame, actions: Iterable[ActionDefinition], *, file_id: str
) -> list[Evidence]:
    """Registry/EHR doses whose CVX code is in an immunization action's code set (supplemental data)."""
    return _supplemental(
        doses,
        actions,
        file_id=file_id,
        system=CodeSystem.CVX,
        code_column="cvx_code",
        date_column="immunization_date",
        source=EvidenceSource.IMMUNIZATION,
    )


def lab_evidence(labs: pl.DataFrame, actions: Iterable[ActionDefinition], *, file_id: str) -> list[Evidence]:
    """Lab results and vitals whose LOINC code is in an action's code set, with their values (CBP, GSD)."""
    return _supplemental(
        labs,
        actions,
        file_id=file_id,
        system=CodeSystem.LOINC,
        code_column="loinc_code",
        date_column="result_date",
        source=EvidenceSource.LAB,
        value_column="result_value",
    )


FHIR_SKIPPED_STATUSES = frozenset({"entered-in-error", "not-done", "cancelled", "stopped", "refuted"})
_FHIR_SOURCES = {
    CodeSystem.CVX: EvidenceSource.IMMUNIZATION,
    CodeSystem.LOINC: EvidenceSource.LAB,
    CodeSystem.CPT: EvidenceSource.SUPPLEMENTAL,
    CodeSystem.HCPCS: EvidenceSource.SUPPLEMENTAL,
    CodeSystem.ICD10CM: EvidenceSource.SUPPLEMENTAL,
    CodeSystem.NDC: EvidenceSource.PHARMACY_CLAIM,
}


def fhir_evidence(rows: pl.DataFrame, actions: Iterable[ActionDefinition], *, file_id: str) -> list[Evidence]:
    """Evidence from flattened FHIR rows (see docs/file-specs.md): doses, observations, procedures,
    conditions and dispenses whose code is in an action's code set; conditions also become facts.
    Rows whose status says the event did not happen are skipped."""
    menu = _unique_actions(actions)
    found: dict[str, Evidence] = {}
    for row in rows.iter_rows(named=True):
        if str(row.get("status") or "").lower() in FHIR_SKIPPED_STATUSES:
            continue
        system = CodeSystem(str(row["code_system"]))
        code = normal_code(system, str(row["code"]))
        supply = int(row["days_supply"]) if row.get("days_supply") else None
        base = {
            "member_id": str(row["member_id"]),
            "action_date": required_date(row["event_date"]),
            "source": _FHIR_SOURCES[system],
            "file_id": file_id,
            "source_row": int(row.get("source_row") or 0),
            "concept": code,
            "result_value": row.get("value") or None,
            "days_supply": supply,
        }
        if system is CodeSystem.NDC:
            base |= {"claim_id": str(row["resource_id"]), "claim_line_number": 0}
        for action in menu:
            for cs in action.evidence_codes:
                if cs.code_system is system and cs.matches(code):
                    if system is CodeSystem.NDC and not action.accepts_days_supply(supply):
                        continue
                    condition = cs.name if cs.name in action.recapture_sets else None
                    item = Evidence(action=action.code, step=action.last_step, condition=condition, **base)
                    found.setdefault(item.evidence_id, item)
            for cs in action.condition_codes:
                if cs.code_system is system and cs.matches(code):
                    item = Evidence(action=condition_action(cs.name), step=Step.DIAGNOSIS, **base)
                    found.setdefault(item.evidence_id, item)
    return list(found.values())
