"""Claim versions across files: only the net claim's evidence stays in the gap state.

A claim is *live* when nothing replaces or voids it, and, if it is itself a replacement, it is the
winning replacement of its original (latest received date, then greatest claim key: the rule of
`shared.intake.net_claim_versions`). The index only grows, so a claim can die but never revive; hence
applying each file as "record facts → apply live evidence → retract what died → re-check" reaches
the same gap state whatever order files arrive in, and however often they are redelivered.

The re-check after applying closes the race of two files processed at once (an original and its
void): each writes its facts before reading the other's, so at least one of them sees both.
Versions are kept per member (`shared/dal/claim_versions.py`), so one file costs one read of each member
it names, not one per claim, and evidence stays a frame throughout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from shared.dal.claim_versions import REPLACEMENT, VOID, ClaimVersion, ClaimVersionRepository
from shared.dal.gap_state import GapStateRepository
from shared.models.evidence import fill_key, medical_key, with_claim_key

REVERSED_SUFFIX = "#reversed"


class NetStatus(StrEnum):
    CURRENT = "current"
    REPLACED = "replaced"
    VOIDED = "voided"


@dataclass(frozen=True)
class VersionEffect:
    """What a file did to the gap state's evidence (counts of evidence rows)."""

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
        .agg(pl.col("claim_frequency_code").max(), pl.col("received_date").max(), pl.col("member_id").first())
        .sort("claim_id", "original_claim_id")
    )
    return [
        ClaimVersion(
            original_claim_key=medical_key(row["original_claim_id"]),
            received_date=str(row["received_date"]),
            claim_key=medical_key(row["claim_id"]),
            frequency=row["claim_frequency_code"],
            file_id=file_id,
            member_id=str(row["member_id"]),
        )
        for row in versions.iter_rows(named=True)
    ]


def pharmacy_versions(accepted: pl.DataFrame, file_id: str) -> list[ClaimVersion]:
    """Reversals of an accepted pharmacy frame: each voids the paid fill with its claim id and fill."""
    reversals = (
        accepted.filter(pl.col("claim_status") == "reversed")
        .group_by("claim_id", "fill_number")
        .agg(pl.col("dispensing_date").max(), pl.col("member_id").first())
        .sort("claim_id", "fill_number")
    )
    return [
        ClaimVersion(
            original_claim_key=fill_key(row["claim_id"], row["fill_number"]),
            received_date=str(row["dispensing_date"]),
            claim_key=fill_key(row["claim_id"], row["fill_number"]) + REVERSED_SUFFIX,
            frequency=VOID,
            file_id=file_id,
            member_id=str(row["member_id"]),
        )
        for row in reversals.iter_rows(named=True)
    ]


def winner(versions: Iterable[ClaimVersion]) -> str | None:
    """The replacement that stands for an original: latest received, then greatest key; None if none."""
    replacements = [v for v in versions if v.frequency == REPLACEMENT]
    if not replacements:
        return None
    return max(replacements, key=lambda v: (v.received_date, v.claim_key)).claim_key


def _by_original(versions: Iterable[ClaimVersion]) -> dict[str, list[ClaimVersion]]:
    grouped: dict[str, list[ClaimVersion]] = {}
    for v in versions:
        grouped.setdefault(v.original_claim_key, []).append(v)
    return grouped


def dead_claims(versions: Iterable[ClaimVersion]) -> set[str]:
    """Claims that versions kill: every original they name, and replacements that lost to a sibling."""
    dead = set()
    for original, named in _by_original(versions).items():
        standing = winner(named)
        dead.add(original)
        dead.update(v.claim_key for v in named if v.frequency == REPLACEMENT and v.claim_key != standing)
    return dead


def net_status(index: ClaimVersionRepository, member_id: str, claim_key: str) -> tuple[NetStatus, str | None]:
    """A claim's standing in the index and the claim that supersedes it (None when current)."""
    versions = _by_original(index.versions_of([member_id]).get(member_id, [])).get(claim_key, [])
    if not versions:
        return NetStatus.CURRENT, None
    voids = [v for v in versions if v.frequency == VOID]
    if voids:
        return NetStatus.VOIDED, min(voids).claim_key
    return NetStatus.REPLACED, winner(versions)


def _pairs(dead: Mapping[str, Iterable[str]]) -> pl.DataFrame:
    rows = [(member, key) for member, keys in dead.items() for key in keys]
    return pl.DataFrame(rows, schema={"member_id": pl.String, "claim_key": pl.String}, orient="row")


def _originals_by_member(versions: Iterable[ClaimVersion]) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for v in versions:
        grouped.setdefault(v.member_id, set()).add(v.original_claim_key)
    return grouped


def _family(known: Iterable[ClaimVersion], originals: set[str]) -> set[str]:
    """The originals and every claim that names one of them."""
    return originals | {v.claim_key for v in known if v.original_claim_key in originals}


class ClaimVersionKeeper:
    """Applies one file's evidence to the gap state so that only net claims' evidence remains."""

    def __init__(self, index: ClaimVersionRepository, gaps: GapStateRepository) -> None:
        self._index = index
        self._gaps = gaps

    def _known(self, member_ids: Iterable[str]) -> tuple[dict[str, list[ClaimVersion]], dict[str, set[str]]]:
        known = self._index.versions_of(member_ids)
        return known, {m: dead_claims(vs) for m, vs in known.items()}

    def apply(self, versions: list[ClaimVersion], evidence: pl.DataFrame) -> VersionEffect:
        """Record the file's versions, apply the evidence of its live claims, retract evidence that died."""
        self._index.put_versions(versions)
        keyed = with_claim_key(evidence)
        claims = keyed.filter(pl.col("claim_key").is_not_null())
        members = set(claims.get_column("member_id").unique().to_list()) | {v.member_id for v in versions}
        known, dead = self._known(members)
        # Rows without a claim key have a null key and so never match a dead claim.
        applied = keyed.join(_pairs(dead), on=["member_id", "claim_key"], how="anti", maintain_order="left")
        self._gaps.put_evidence(applied.drop("claim_key"))

        # Retract what this file's versions killed, and this file's own dead claims: an earlier delivery
        # of the file may have applied them before the version that kills them arrived.
        retract: dict[str, set[str]] = {}
        for member_id, originals in _originals_by_member(versions).items():
            retract[member_id] = _family(known.get(member_id, []), originals) & dead.get(member_id, set())
        withheld = claims.join(_pairs(dead), on=["member_id", "claim_key"], how="semi").select(
            "member_id", "claim_key"
        )
        for member_id, key in withheld.unique().iter_rows():
            retract.setdefault(member_id, set()).add(key)
        retracted = self._gaps.retract_claims(retract)

        # Re-check: a version written by a file processed at the same time may have killed what we applied.
        applied_members = applied.filter(pl.col("claim_key").is_not_null()).get_column("member_id").unique()
        _, again = self._known(applied_members.to_list())
        changed = {m: keys - dead.get(m, set()) for m, keys in again.items() if keys - dead.get(m, set())}
        if changed:
            died = applied.join(_pairs(changed), on=["member_id", "claim_key"], how="semi")
            late: dict[str, set[str]] = {}
            for member_id, key in died.select("member_id", "claim_key").unique().iter_rows():
                late.setdefault(member_id, set()).add(key)
            retracted += self._gaps.retract_claims(late)
        return VersionEffect(
            applied=applied.height, withheld=keyed.height - applied.height, retracted=retracted
        )
