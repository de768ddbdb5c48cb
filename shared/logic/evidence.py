"""Evidence from accepted rows: claim lines whose code is in an action's code set, and attestations."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from shared.logic.dates import optional_date, required_date
from shared.models.actions import ActionCode, Step
from shared.models.evidence import Evidence, EvidenceSource
from shared.programs.care_gap import ActionDefinition

VOID_FREQUENCY_CODE = "8"


def _codes_by_action(actions: Iterable[ActionDefinition]) -> dict[ActionCode, frozenset[str]]:
    merged: dict[ActionCode, set[str]] = {}
    for action in actions:
        merged.setdefault(action.code, set()).update(action.procedure_codes())
    return {code: frozenset(codes) for code, codes in merged.items() if codes}


def claim_evidence(
    claims: pl.DataFrame, actions: Iterable[ActionDefinition], *, file_id: str
) -> list[Evidence]:
    """One evidence item per claim line and action whose `hcpcs_code` is in the action's code set.

    The line evidences the `claim` step; its action date is the service date and it counts from the
    date the plan received it. Voids (frequency 8) carry no evidence.
    """
    codes = _codes_by_action(actions)
    if claims.is_empty() or not codes:
        return []
    wanted = frozenset().union(*codes.values())
    relevant = claims.filter(
        pl.col("hcpcs_code").cast(pl.String).is_in(list(wanted))
        & (pl.col("claim_frequency_code").cast(pl.String) != VOID_FREQUENCY_CODE)
    )
    found = []
    for row in relevant.iter_rows(named=True):
        code = str(row["hcpcs_code"])
        for action, action_codes in codes.items():
            if code not in action_codes:
                continue
            found.append(
                Evidence(
                    member_id=str(row["member_id"]),
                    action=action,
                    step=Step.CLAIM,
                    action_date=required_date(row["claim_start_date"]),
                    received_date=optional_date(row["received_date"]),
                    source=EvidenceSource.MEDICAL_CLAIM,
                    file_id=file_id,
                    source_row=int(row.get("source_row") or 0),
                    concept=code,
                    claim_id=str(row["claim_id"]),
                    claim_line_number=int(row["claim_line_number"]),
                )
            )
    return found


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
                attestation_id=str(row["attestation_id"]),
                attesting_clinic_id=str(row["clinic_id"]),
            )
        )
    return found
