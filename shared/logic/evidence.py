"""Evidence from accepted rows: claim lines, pharmacy fills, registry doses and lab results whose code is
in an action's code set, attestations, and the condition facts (diagnoses, drug classes) eligibility
rules read; and the records only the measure engine reads (`record_action`): every claim line that states
its claim type (the utilization and cost measures count every line) and the diagnoses on it a measure
definition names itself, and the fills whose NDC a definition names (AMR's asthma medications)."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from shared.logic.dates import optional_date, required_date
from shared.logic.fhir_evidence import FHIR_SKIPPED_STATUSES as FHIR_SKIPPED_STATUSES
from shared.logic.fhir_evidence import fhir_evidence as fhir_evidence
from shared.models.actions import ActionCode, Step
from shared.models.evidence import (
    CLAIM_DETAIL_FIELDS,
    CONDITION_PREFIX,
    EVIDENCE_SCHEMA,
    Evidence,
    EvidenceSource,
    condition_action,
    empty_evidence,
    evidence_models,
    record_action,
)
from shared.programs.measures import measure_catalog
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


def _frame(parts: list[pl.DataFrame], **constants: str) -> pl.DataFrame:
    """Concatenate partial evidence frames and fill the columns they lack, typed as EVIDENCE_SCHEMA."""
    if not parts:
        return empty_evidence()
    frame = pl.concat(parts, how="diagonal_relaxed")
    fill = [pl.lit(v, pl.String).alias(k) for k, v in constants.items()]
    missing = [
        pl.lit(None).alias(c) for c in EVIDENCE_SCHEMA if c not in frame.columns and c not in constants
    ]
    return frame.with_columns(*fill, *missing).select(
        pl.col(name).cast(dtype) for name, dtype in EVIDENCE_SCHEMA.items()
    )


def _dated(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Date columns as dates, whether the frame holds them typed (intake) or as ISO text (tests, FHIR)."""
    text = [c for c in columns if c in frame.columns and frame.schema[c] == pl.String]
    return frame.with_columns(pl.col(c).str.to_date("%Y-%m-%d") for c in text) if text else frame


def _claim_columns(frame: pl.DataFrame, concept: str) -> list[pl.Expr]:
    details = [pl.col(c) for c in CLAIM_DETAIL_FIELDS if c in frame.columns]
    return [
        pl.col("member_id"),
        pl.col("action"),
        pl.col("step"),
        pl.col("claim_start_date").alias("action_date"),
        pl.col("received_date"),
        pl.col("source_row") if "source_row" in frame.columns else pl.lit(0).alias("source_row"),
        pl.col(concept).alias("concept"),
        pl.col("claim_id"),
        pl.col("claim_line_number"),
        pl.col("condition") if "condition" in frame.columns else pl.lit(None, pl.String).alias("condition"),
        *details,
    ]


def _claim_details(claims: pl.DataFrame) -> list[pl.Expr]:
    """The line's facility and cost details (`CLAIM_DETAIL_FIELDS`) the file has, typed, kept only on a line
    that states its claim type: a file from before these columns (whose lines state none, though they may
    carry an allowed amount) yields its evidence exactly as before."""
    present = [c for c in CLAIM_DETAIL_FIELDS if c in claims.columns]
    if "claim_type" not in present:
        return []
    stated = pl.col("claim_type").is_not_null()
    found = []
    for name in present:
        value = pl.col(name)
        dtype = EVIDENCE_SCHEMA[name]
        if dtype == pl.Date() and claims.schema[name] == pl.String:
            value = value.str.to_date("%Y-%m-%d")
        found.append(pl.when(stated).then(value.cast(dtype)).otherwise(None).alias(name))
    return found


def _measure_codes(system: str) -> frozenset[str]:
    """The codes of one system that measure definitions name themselves (`MeasureCatalog.direct_codes`)."""
    return frozenset(code for s, code in measure_catalog().direct_codes() if s == system)


def _stated_lines(live: pl.DataFrame, procedures: pl.DataFrame | None) -> pl.DataFrame | None:
    """A record (`QM:Claim`) of each line that states its claim type and that no procedure code of the menu
    kept: utilization and cost count every line."""
    if "claim_type" not in live.columns:
        return None
    lines = live.filter(pl.col("claim_type").is_not_null())
    if procedures is not None and not procedures.is_empty():
        kept = procedures.select("claim_id", "claim_line_number").unique()
        lines = lines.join(kept, on=["claim_id", "claim_line_number"], how="anti", maintain_order="left")
    if lines.is_empty():
        return None
    code = pl.col("hcpcs_code").cast(pl.String) if "hcpcs_code" in lines.columns else pl.lit(None, pl.String)
    lines = lines.with_columns(
        code.alias("hcpcs_code"), action=pl.lit(record_action("Claim")), step=pl.lit(Step.PERFORM.value)
    )
    return lines.select(_claim_columns(lines, "hcpcs_code"))


def _named_diagnoses(live: pl.DataFrame, kept: list[pl.DataFrame]) -> pl.DataFrame | None:
    """A record (`QM:Condition`, the code as its `condition` so a line's diagnoses are told apart) of each
    diagnosis a measure definition names on a line that states its claim type, unless the menu kept it
    from that line as a condition (a fact, or recapture evidence): a diagnosis evidencing a visit's step
    is read as the claim line's code, not as a condition."""
    if "claim_type" not in live.columns:
        return None
    named = _measure_codes("ICD10CM")
    long = _diagnoses(live.filter(pl.col("claim_type").is_not_null()), tuple(sorted(named)))
    if long.is_empty():
        return None
    found = long.filter(pl.col("dx").is_in(pl.Series(sorted(named), dtype=pl.String).implode())).unique(
        ["claim_id", "claim_line_number", "dx"], keep="first", maintain_order=True
    )
    as_condition = pl.col("action").str.starts_with(CONDITION_PREFIX) | pl.col("condition").is_not_null()
    seen = [
        k.filter(as_condition).select("claim_id", "claim_line_number", pl.col("concept").alias("dx"))
        for k in kept
    ]
    if seen:
        keys = ["claim_id", "claim_line_number", "dx"]
        found = found.join(pl.concat(seen), on=keys, how="anti", maintain_order="left")
    if found.is_empty():
        return None
    found = found.with_columns(
        pl.col("dx").alias("condition"),
        action=pl.lit(record_action("Condition")),
        step=pl.lit(Step.PERFORM.value),
    )
    return found.select(_claim_columns(found, "dx")).drop(CLAIM_DETAIL_FIELDS, strict=False)


def _diagnoses(claims: pl.DataFrame, prefixes: tuple[str, ...]) -> pl.DataFrame:
    """Claim keys + `dx` (normalized), one row per diagnosis that starts with one of `prefixes`.

    Codes are matched once per distinct value, and only lines carrying a wanted code are unpivoted:
    most diagnoses on most lines are of no program's interest.
    """
    present = [c for c in DX_COLUMNS if c in claims.columns]
    keys = [c for c in _CLAIM_KEYS if c in claims.columns]
    if not present or not prefixes:
        return pl.DataFrame()
    frame = claims.select(*keys, *(pl.col(c).cast(pl.String) for c in present))
    distinct = {v for c in present for v in frame.get_column(c).drop_nulls().unique().to_list()}
    wanted = {v: n for v in distinct if (n := v.strip().upper().replace(".", "")).startswith(prefixes)}
    if not wanted:
        return pl.DataFrame()
    values = pl.Series(sorted(wanted), dtype=pl.String)
    hit = frame.select(pl.col(c).is_in(values.implode()).alias(c) for c in present)
    # Only the diagnosis columns that carry a wanted code somewhere are unpivoted (most are empty).
    used = [c for c in present if hit.get_column(c).any()]
    lines = frame.filter(pl.any_horizontal(hit.get_column(c) for c in used))
    long = lines.unpivot(index=keys, on=used, value_name="dx").drop("variable")
    return long.filter(pl.col("dx").is_in(values.implode())).with_columns(
        pl.col("dx").replace_strict(wanted, return_dtype=pl.String)
    )


def _diagnosis_evidence(claims: pl.DataFrame, actions: list[ActionDefinition]) -> list[pl.DataFrame]:
    """Condition facts (one per member, condition and year) and diagnosis-evidenced steps, as frames.

    Codes are matched once per distinct diagnosis (ICD-10-CM sets match by prefix), then joined back.
    """
    conditions = _condition_sets(actions, CodeSystem.ICD10CM)
    dx_evidence = [
        (a, cs) for a in actions for cs in a.evidence_codes if cs.code_system is CodeSystem.ICD10CM
    ]
    every_prefix = {c for sets in conditions.values() for cs in sets for c in cs.codes}
    every_prefix.update(c for _, cs in dx_evidence for c in cs.codes)
    long = _diagnoses(claims, tuple(sorted(every_prefix)))
    if long.is_empty():
        return []
    distinct = long.get_column("dx").unique().to_list()
    fact_rows = [
        (dx, f"{CONDITION_PREFIX}{name}")
        for name, sets in sorted(conditions.items())
        for prefixes in [tuple(c for cs in sets for c in cs.codes)]
        for dx in distinct
        if dx.startswith(prefixes)
    ]
    step_rows = [
        (
            dx,
            action.code,
            action.last_step.value,
            cs.name if cs.name in action.recapture_sets else None,
            order,
        )
        for order, (action, cs) in enumerate(dx_evidence)
        for prefixes in [tuple(cs.codes)]
        for dx in distinct
        if dx.startswith(prefixes)
    ]
    parts = []
    if fact_rows:
        table = pl.DataFrame(fact_rows, schema={"dx": pl.String, "action": pl.String}, orient="row")
        year = pl.col("claim_start_date").dt.year()
        facts = (
            long.join(table, on="dx", how="inner", maintain_order="left")
            .filter(pl.struct("member_id", "action", year).is_first_distinct())
            .with_columns(step=pl.lit(Step.DIAGNOSIS.value))
        )
        parts.append(facts.select(_claim_columns(facts, "dx")))
    if step_rows:
        schema = {
            "dx": pl.String,
            "action": pl.String,
            "step": pl.String,
            "condition": pl.String,
            "order": pl.Int64,
        }
        table = pl.DataFrame(step_rows, schema=schema, orient="row")
        hits = (
            long.with_row_index("_row")
            .join(table, on="dx", how="inner")
            .sort("order", "_row")
            .unique(
                ["claim_id", "claim_line_number", "action", "condition"], keep="first", maintain_order=True
            )
        )
        parts.append(hits.select(_claim_columns(hits, "dx")))
    return parts


def claim_evidence_frame(
    claims: pl.DataFrame, actions: Iterable[ActionDefinition], *, file_id: str
) -> pl.DataFrame:
    """Evidence of medical claim lines, and condition facts from their diagnoses, as an evidence frame.

    A line whose `hcpcs_code` (CPT, HCPCS or CPT II) or a diagnosis is in an action's code set evidences
    the action's confirming step, once per line and action (HCC-DX: once per condition); its action
    date is the service date and it counts from the date the plan received it. Diagnoses in a condition
    code set become one fact per member, condition and year. Voids (frequency 8) carry no evidence.

    The measure engine's records, from the lines that state their claim type (a file from before the
    claim-type column yields exactly the evidence it did): such a line no procedure code of the menu kept
    is kept as `QM:Claim` (utilization and cost count every line), and a diagnosis on it that a measure
    definition names becomes `QM:Condition` unless the menu kept it from that line as a condition. Such a
    line carries its facility and cost details (`CLAIM_DETAIL_FIELDS`; None where the file lacks the
    column) on its procedure evidence and its record.

    Everything is column operations: the menu's codes are joined to the lines, never looped over them.
    """
    menu = _unique_actions(actions)
    if claims.is_empty():
        return empty_evidence()
    # Only the columns evidence reads are carried along: filtering and joining the whole line (thirty
    # columns, most of them strings) would copy every value of a large file several times over.
    needed = [c for c in (*_CLAIM_KEYS, "hcpcs_code", *DX_COLUMNS) if c in claims.columns]
    live = _dated(
        claims.select(
            *needed,
            *_claim_details(claims),
            pl.col("claim_frequency_code").cast(pl.String).alias("__frequency"),
        )
        .filter(pl.col("__frequency") != VOID_FREQUENCY_CODE)
        .drop("__frequency"),
        "claim_start_date",
        "received_date",
    )
    parts = []
    codes = _codes_by_action(menu, *PROCEDURE_SYSTEMS)
    if codes:
        by_action = {a.code: a for a in menu}
        rows = [
            (code, action, by_action[action].last_step.value) for action, cs in codes.items() for code in cs
        ]
        table = pl.DataFrame(
            rows, schema={"hcpcs_code": pl.String, "action": pl.String, "step": pl.String}, orient="row"
        )
        code = pl.col("hcpcs_code").cast(pl.String)
        # Most lines carry no code of the menu: the lines that do are found first and only they are joined.
        hits = (
            live.filter(code.is_in(table.get_column("hcpcs_code").unique().implode()))
            .with_columns(code)
            .join(table, on="hcpcs_code", how="inner", maintain_order="left")
        )
        parts.append(hits.select(_claim_columns(hits, "hcpcs_code")))
    procedures = parts[0] if parts else None
    diagnoses = []
    for found in _diagnosis_evidence(live, menu):
        if procedures is not None:
            # A line evidences an action once: a diagnosis adds nothing where its procedure already did
            # (recapture evidence, one per condition, is told apart by its condition).
            same = ["claim_id", "claim_line_number", "action", "condition"]
            found = found.join(
                procedures.select(same), on=same, how="anti", nulls_equal=True, maintain_order="left"
            )
        diagnoses.append(found)
    parts.extend(diagnoses)
    for record in (_stated_lines(live, procedures), _named_diagnoses(live, diagnoses)):
        if record is not None:
            parts.append(record)
    # Each part holds one item per line, action and condition (the evidence id's identity) by
    # construction: the code tables pair a code with an action once, and diagnosis hits are de-duplicated.
    return _frame(parts, source=EvidenceSource.MEDICAL_CLAIM.value, file_id=file_id)


def claim_evidence(
    claims: pl.DataFrame, actions: Iterable[ActionDefinition], *, file_id: str
) -> list[Evidence]:
    """`claim_evidence_frame` as models (small frames: tests and single members)."""
    return evidence_models(claim_evidence_frame(claims, actions, file_id=file_id))


def attestation_evidence(
    attestations: pl.DataFrame, actions: Iterable[ActionDefinition], *, file_id: str
) -> list[Evidence]:
    """One evidence item per attestation of a known action and one of its steps. A prescription may
    state its `days_supply` (it decides whether SPC/SPD count it monthly or quarterly)."""
    steps = {a.code: set(a.steps) for a in actions}
    found = []
    for row in attestations.iter_rows(named=True):
        action = ActionCode(str(row["action_code"]))
        if action not in steps or row["step"] not in {s.value for s in steps[action]}:
            continue
        supply = row.get("days_supply")
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
                days_supply=int(supply) if supply not in (None, "") else None,
            )
        )
    return found


def pharmacy_evidence(
    fills: pl.DataFrame, actions: Iterable[ActionDefinition], *, file_id: str
) -> list[Evidence]:
    """Paid fills whose NDC is in an action's code set (and, for refills, of its duration) evidence the
    dispense step; fills of a condition's drug class (NDC condition sets) become condition facts; a fill
    that gave neither and whose NDC a measure definition names (AMR's asthma medications) is kept as a
    record (`QM:MedicationDispense`)."""
    menu = _unique_actions(actions)
    codes = _codes_by_action(menu, CodeSystem.NDC)
    conditions = _condition_sets(menu, CodeSystem.NDC)
    named = _measure_codes(CodeSystem.NDC.value)
    if fills.is_empty() or not (codes or conditions or named):
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
        kept = False
        for code, action_codes in codes.items():
            if ndc in action_codes and by_action[code].accepts_days_supply(supply):
                item = Evidence(action=code, step=by_action[code].last_step, **base)
                kept |= found.setdefault(item.evidence_id, item) is item
        for name, sets in conditions.items():
            key = (str(row["member_id"]), name, day.year)
            if key not in facts and any(ndc in cs.codes for cs in sets):
                facts.add(key)
                item = Evidence(action=condition_action(name), step=Step.DIAGNOSIS, **base)
                kept |= found.setdefault(item.evidence_id, item) is item
        if not kept and ndc in named:
            item = Evidence(action=record_action("MedicationDispense"), step=Step.PERFORM, **base)
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
