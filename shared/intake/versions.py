"""Duplicates, key conflicts and claim versions: within one file here, across files in the net helpers."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from shared.intake.parsing import SOURCE_ROW
from shared.intake.schema import KindSchema, Reason
from shared.intake.validation import REJECT_SCHEMA
from shared.models.files import FileKind

REPLACEMENT = "7"
VOID = "8"


@dataclass(frozen=True)
class Reconciled:
    """Valid rows sorted into accepted, duplicates, superseded originals and key conflicts."""

    accepted: pl.DataFrame
    conflicts: pl.DataFrame
    duplicate: int
    superseded: int


def _superseded_mask(valid: pl.DataFrame, kind: FileKind) -> pl.Expr | None:
    if kind is FileKind.MEDICAL_CLAIMS:
        refs = valid.filter(
            pl.col("claim_frequency_code").is_in([REPLACEMENT, VOID])
            & (pl.col("original_claim_id") != pl.col("claim_id"))
        ).get_column("original_claim_id")
        return pl.col("claim_id").is_in(refs.unique().implode())
    if kind is FileKind.PHARMACY_CLAIMS:
        reversed_fills = valid.filter(pl.col("claim_status") == "reversed").select(
            pl.concat_str("claim_id", pl.col("fill_number").cast(pl.String), separator="\x1f").alias("fill")
        )
        fill = pl.concat_str("claim_id", pl.col("fill_number").cast(pl.String), separator="\x1f")
        return (pl.col("claim_status") == "paid") & fill.is_in(reversed_fills.get_column("fill").implode())
    return None


def reconcile(valid: pl.DataFrame, schema: KindSchema, kind: FileKind) -> Reconciled:
    """Drop exact duplicates, reject natural-key conflicts, and hold back originals the file replaces."""
    key = list(schema.natural_key or schema.content)
    # Only rows whose key repeats need the costly whole-row comparison; most files have none. A hash
    # collision only sends a row down the exact path below, so hashing first is safe and much cheaper.
    repeated = valid.select(pl.struct(key).hash().is_duplicated()).to_series()
    conflicts = pl.DataFrame(schema=REJECT_SCHEMA)
    duplicate = 0
    kept = valid
    if repeated.any():
        crowd = valid.filter(repeated)
        first = crowd.filter(pl.struct(schema.content).is_first_distinct())
        duplicate = crowd.height - first.height
        if schema.natural_key is not None:
            clash = pl.len().over(key) > 1
            conflicts = first.filter(clash).select(
                SOURCE_ROW,
                pl.lit(key[0]).alias("field"),
                pl.lit(Reason.KEY_CONFLICT.value).alias("reason_code"),
            )
            first = first.filter(~clash)
        kept = pl.concat([valid.filter(~repeated), first]).sort(SOURCE_ROW)
    mask = _superseded_mask(kept, kind)
    if mask is None:
        return Reconciled(accepted=kept, conflicts=conflicts, duplicate=duplicate, superseded=0)
    current = kept.filter(~mask)
    return Reconciled(
        accepted=current, conflicts=conflicts, duplicate=duplicate, superseded=kept.height - current.height
    )


def net_claim_versions(claims: pl.DataFrame) -> pl.DataFrame:
    """Net medical claim lines: replacements (7) supersede and voids (8) cancel `original_claim_id`.

    `claims` holds every known line of some claims, possibly from many files. Chains resolve because
    every referenced claim drops out. When two replacements name the same original, the later
    received one (then the greater claim_id) wins. Void lines are never services, so they go too.
    """
    lines = claims.unique(subset=["claim_id", "claim_line_number"], keep="last", maintain_order=True)
    versions = lines.filter(
        pl.col("claim_frequency_code").is_in([REPLACEMENT, VOID])
        & (pl.col("original_claim_id") != pl.col("claim_id"))
    )
    referenced = versions.get_column("original_claim_id").unique().implode()
    losing = (
        versions.filter(pl.col("claim_frequency_code") == REPLACEMENT)
        .group_by("original_claim_id", "claim_id")
        .agg(pl.col("received_date").max())
        .sort("received_date", "claim_id", descending=True)
        .filter(pl.int_range(pl.len()).over("original_claim_id") > 0)
        .get_column("claim_id")
        .implode()
    )
    return lines.filter(
        ~pl.col("claim_id").is_in(referenced)
        & ~pl.col("claim_id").is_in(losing)
        & (pl.col("claim_frequency_code") != VOID)
    )


def net_pharmacy_fills(fills: pl.DataFrame) -> pl.DataFrame:
    """Net pharmacy fills: a reversed fill cancels the paid fill with its claim_id and fill_number."""
    key = ["claim_id", "fill_number"]
    reversed_keys = fills.filter(pl.col("claim_status") == "reversed").select(key).unique()
    paid = fills.filter(pl.col("claim_status") == "paid").unique(subset=key, keep="last", maintain_order=True)
    return paid.join(reversed_keys, on=key, how="anti", maintain_order="left")
