"""APC Element 1, direct services: whether a claim line is capitated or paid fee-for-service under the
practice's track with the plan (the seed's tables 1 and 2; docs/apc.md).

A line is capitated when a capitated row of the track covers its code and no fee-for-service exception
of the track lists it. Exceptions apply across the track's rows, not only to the row that lists them: in
track C a home visit (99341) is in "Other E&M", which pays it fee-for-service, and also in the medicine
range 90757-99756, which lists no home visits; the table means home visits are fee-for-service.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
from pydantic import BaseModel, ConfigDict

from shared.models.members import ApcPaymentTrack
from shared.programs.apc import DirectServices


class ServiceClassification(BaseModel):
    """A claim line's payment under the track: `capitated`, the capitated row covering its code (if any),
    and the fee-for-service exception or table entry that lists it (if any)."""

    model_config = ConfigDict(frozen=True)

    track: ApcPaymentTrack
    capitated: bool
    row: str | None
    fee_for_service: str | None


def classify_service(
    direct_services: DirectServices, track: ApcPaymentTrack, hcpcs_code: str
) -> ServiceClassification:
    """How a line with `hcpcs_code` is paid on `track`. A practice with no APC track (`none`) or on FFS+
    is paid fee-for-service for everything; a track the program does not define is a `LookupError`."""
    if track is ApcPaymentTrack.NONE:
        return ServiceClassification(track=track, capitated=False, row=None, fee_for_service=None)
    rules = direct_services.track(track)
    if rules is None:
        raise LookupError(f"the program defines no direct-services track {track.value}")
    code = hcpcs_code.strip().upper()
    row = next((r.name for r in rules.capitated if code in r.codes), None)
    exception = next((e.name for e in rules.exceptions() if code in e), None)
    return ServiceClassification(
        track=track, capitated=row is not None and exception is None, row=row, fee_for_service=exception
    )


NO_CODE = "no HCPCS code"
"""The category of a line without a service code (an institutional room or pharmacy line)."""
OTHER = "all other direct, billable services"
"""The category of a fee-for-service line no row or exception of the track lists."""


def direct_services_report(
    lines: pl.DataFrame, tracks: Mapping[str, ApcPaymentTrack], direct_services: DirectServices
) -> pl.DataFrame:
    """A practice's lines and allowed dollars by month, capitated or fee-for-service, and the row or exception
    that decided it: `lines` has `practice_id`, `month`, `hcpcs_code`, `allowed_amount`; each distinct code is
    classified once per track. Columns: practice_id, month, track, payment (`capitated` |
    `fee_for_service`), category, lines, allowed_amount."""
    with_track = lines.with_columns(
        track=pl.col("practice_id").replace_strict(
            {p: t.value for p, t in tracks.items()}, default=None, return_dtype=pl.String
        )
    ).filter(pl.col("track").is_not_null())
    pairs = with_track.select("track", "hcpcs_code").unique()
    decided: list[tuple[str, str | None, str, str | None]] = []
    for track, code in pairs.iter_rows():
        if code is None:
            decided.append((track, code, "fee_for_service", NO_CODE))
            continue
        found = classify_service(direct_services, ApcPaymentTrack(track), code)
        category = found.row if found.capitated else (found.fee_for_service or OTHER)
        decided.append((track, code, "capitated" if found.capitated else "fee_for_service", category))
    schema = {"track": pl.String, "hcpcs_code": pl.String, "payment": pl.String, "category": pl.String}
    classes = pl.DataFrame(decided, schema=schema, orient="row")
    return (
        with_track.join(classes, on=["track", "hcpcs_code"], how="left", nulls_equal=True)
        .group_by("practice_id", "month", "track", "payment", "category")
        .agg(
            lines=pl.len(), allowed_amount=pl.col("allowed_amount").cast(pl.Decimal(18, 2)).fill_null(0).sum()
        )
        .sort("practice_id", "month", "payment", "category")
    )
