"""Claim versions across files: the netting rules every route agrees with (within one file, the staging
of `shared.intake.staging` applies the same rule to the file's own rows)."""

from __future__ import annotations

import polars as pl

REPLACEMENT = "7"
VOID = "8"


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
