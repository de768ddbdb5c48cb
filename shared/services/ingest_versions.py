"""Claim versions across files: only the net claim's evidence stays in the gap state.

A claim is *live* when nothing replaces or voids it, and, if it is itself a replacement, it is the
winning replacement of its original (latest received date, then greatest claim key: the rule of
`shared.intake.net_claim_versions`). The index only grows, so a claim can die but never revive; hence
applying each file as "record facts → apply live evidence → retract what died → re-check" reaches
the same gap state whatever order files arrive in, and however often they are redelivered.

The re-check after applying closes the race of two files processed at once (an original and its
void): each writes its facts before reading the other's, so at least one of them sees both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from shared.dal.claim_versions import (
    REPLACEMENT,
    VOID,
    ClaimEvidenceRecord,
    ClaimVersion,
    ClaimVersionRepository,
    EvidenceRef,
)
from shared.dal.gap_state import GapStateRepository
from shared.models.evidence import Evidence

MEDICAL = "MED#"
PHARMACY = "RX#"
REVERSED_SUFFIX = "#reversed"


def medical_key(claim_id: str) -> str:
    """Index key of a medical claim."""
    return f"{MEDICAL}{claim_id}"


def fill_key(claim_id: str, fill_number: int) -> str:
    """Index key of a pharmacy fill (claim id + fill number)."""
    return f"{PHARMACY}{claim_id}#{fill_number}"


class NetStatus(StrEnum):
    CURRENT = "current"
    REPLACED = "replaced"
    VOIDED = "voided"


@dataclass(frozen=True)
class VersionEffect:
    """What a file did to the gap state's evidence."""

    applied: int = 0
    withheld: int = 0
    retracted: int = 0


def medical_versions(accepted: pl.DataFrame, file_id: str) -> list[ClaimVersion]:
    """Replacements and voids of an accepted medical claims frame, one per claim."""
    versions = (
        accepted.filter(
            pl.col("claim_frequency_code").is_in([REPLACEMENT, VOID])
            & pl.col("original_claim_id").is_not_null()
            & (pl.col("original_claim_id") != pl.col("claim_id"))
        )
        .group_by("claim_id", "original_claim_id")
        .agg(pl.col("claim_frequency_code").max(), pl.col("received_date").max())
        .sort("claim_id", "original_claim_id")
    )
    return [
        ClaimVersion(
            original_claim_key=medical_key(row["original_claim_id"]),
            received_date=str(row["received_date"]),
            claim_key=medical_key(row["claim_id"]),
            frequency=row["claim_frequency_code"],
            file_id=file_id,
        )
        for row in versions.iter_rows(named=True)
    ]


def pharmacy_versions(accepted: pl.DataFrame, file_id: str) -> list[ClaimVersion]:
    """Reversals of an accepted pharmacy frame: each voids the paid fill with its claim id and fill."""
    reversals = (
        accepted.filter(pl.col("claim_status") == "reversed")
        .group_by("claim_id", "fill_number")
        .agg(pl.col("dispensing_date").max())
        .sort("claim_id", "fill_number")
    )
    return [
        ClaimVersion(
            original_claim_key=fill_key(row["claim_id"], row["fill_number"]),
            received_date=str(row["dispensing_date"]),
            claim_key=fill_key(row["claim_id"], row["fill_number"]) + REVERSED_SUFFIX,
            frequency=VOID,
            file_id=file_id,
        )
        for row in reversals.iter_rows(named=True)
    ]


def medical_records(accepted: pl.DataFrame, evidence: Iterable[Evidence]) -> dict[str, ClaimEvidenceRecord]:
    """Per claim that yields evidence: its version facts and the refs of its evidence items."""
    refs: dict[str, set[EvidenceRef]] = {}
    for item in evidence:
        if item.claim_id is not None:
            refs.setdefault(item.claim_id, set()).add(EvidenceRef(item.member_id, item.evidence_id))
    if not refs:
        return {}
    claims = (
        accepted.filter(pl.col("claim_id").is_in(sorted(refs)))
        .group_by("claim_id")
        .agg(
            pl.col("claim_frequency_code").max(),
            pl.col("original_claim_id").drop_nulls().first(),
            pl.col("received_date").max(),
        )
    )
    records = {}
    for row in claims.iter_rows(named=True):
        original = row["original_claim_id"]
        is_version = row["claim_frequency_code"] in (REPLACEMENT, VOID) and original not in (
            None,
            row["claim_id"],
        )
        key = medical_key(row["claim_id"])
        records[key] = ClaimEvidenceRecord(
            claim_key=key,
            frequency=row["claim_frequency_code"] if is_version else "1",
            original_claim_key=medical_key(original) if is_version else None,
            received_date=str(row["received_date"]),
            refs=tuple(sorted(refs[row["claim_id"]])),
        )
    return records


def winner(versions: Iterable[ClaimVersion]) -> str | None:
    """The replacement that stands for an original: latest received, then greatest key; None if none."""
    replacements = [v for v in versions if v.frequency == REPLACEMENT]
    if not replacements:
        return None
    return max(replacements, key=lambda v: (v.received_date, v.claim_key)).claim_key


def net_status(index: ClaimVersionRepository, claim_key: str) -> tuple[NetStatus, str | None]:
    """A claim's standing in the index and the claim that supersedes it (None when current)."""
    versions = index.versions_naming([claim_key]).get(claim_key, [])
    if not versions:
        return NetStatus.CURRENT, None
    voids = [v for v in versions if v.frequency == VOID]
    if voids:
        return NetStatus.VOIDED, min(voids).claim_key
    return NetStatus.REPLACED, winner(versions)


class ClaimVersionKeeper:
    """Applies one file's claims to the gap state so that only net claims' evidence remains."""

    def __init__(self, index: ClaimVersionRepository, gaps: GapStateRepository) -> None:
        self._index = index
        self._gaps = gaps

    def _live(self, records: Mapping[str, ClaimEvidenceRecord]) -> set[str]:
        originals = {r.original_claim_key for r in records.values() if r.original_claim_key}
        named = self._index.versions_naming({*records, *originals})
        live = set()
        for key, record in records.items():
            if named.get(key):
                continue
            if record.original_claim_key and winner(named.get(record.original_claim_key, [])) != key:
                continue
            live.add(key)
        return live

    def _dead_under(self, originals: set[str]) -> set[str]:
        """Originals named by a version, and the replacements that lost to a sibling."""
        named = self._index.versions_naming(originals)
        dead = set(originals)
        for versions in named.values():
            standing = winner(versions)
            dead.update(
                v.claim_key for v in versions if v.frequency == REPLACEMENT and v.claim_key != standing
            )
        return dead

    def _retract(self, keys: set[str]) -> int:
        if not keys:
            return 0
        records = self._index.evidence_records(keys)
        refs = [ref for record in records.values() for ref in record.refs]
        return self._index.retract(refs) if refs else 0

    def apply(
        self,
        versions: list[ClaimVersion],
        records: Mapping[str, ClaimEvidenceRecord],
        evidence: Iterable[Evidence],
    ) -> VersionEffect:
        """Record the file's facts, apply evidence of its live claims, retract evidence that died."""
        self._index.put_versions(versions)
        self._index.put_evidence_records(records.values())
        live = self._live(records)
        by_claim = {ref: key for key, record in records.items() for ref in record.refs}
        items = list(evidence)
        applied = [
            e
            for e in items
            if e.claim_id is None or by_claim.get(EvidenceRef(e.member_id, e.evidence_id)) in live
        ]
        self._gaps.put_evidence(applied)
        dead = self._dead_under({v.original_claim_key for v in versions}) | (set(records) - live)
        retracted = self._retract(dead)
        # Re-check: a version written by a file processed at the same time may have killed what we applied.
        died = live - self._live({k: records[k] for k in live})
        retracted += self._retract(died)
        return VersionEffect(applied=len(applied), withheld=len(items) - len(applied), retracted=retracted)
