"""APC Element 1, direct services: whether a claim line is capitated or paid fee-for-service under the
practice's track with the line's payer (the seed's tables 1 and 2; docs/apc.md).

A line is capitated when a capitated row of the track covers its code and no fee-for-service exception
of the track lists it. Exceptions apply across the track's rows, not only to the row that lists them: in
track C a home visit (99341) is in "Other E&M", which pays it fee-for-service, and also in the medicine
range 90757-99756, which lists no home visits; the table means home visits are fee-for-service.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
from pydantic import BaseModel, ConfigDict

from shared.logic.dates import month_end
from shared.models.members import ApcPaymentTrack, Clinic
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
    lines: pl.DataFrame, practices: Mapping[str, Clinic], direct_services: DirectServices, *, plan_payer: str
) -> pl.DataFrame:
    """A practice's lines and allowed dollars by payer and month, capitated or fee-for-service under the
    track the practice has with the line's payer that month (`Clinic.apc_track_on`, on the month's last
    day), and the row or exception that decided it. `lines` has `practice_id`, `payer_id` (None: the deploying
    plan, `plan_payer`; a frame without the column is all the plan's), `month`, `hcpcs_code`,
    `allowed_amount`; lines of practices not in `practices`, or on no track with their payer, are left out;
    each distinct code is classified once per track. Columns: practice_id, payer_id, month, track, payment
    (`capitated` | `fee_for_service`), category, lines, allowed_amount."""
    if "payer_id" not in lines.columns:
        lines = lines.with_columns(payer_id=pl.lit(None, pl.String))
    lines = lines.filter(pl.col("practice_id").is_in(sorted(practices))).with_columns(
        payer_id=pl.col("payer_id").cast(pl.String).fill_null(plan_payer)
    )
    slots = lines.select("practice_id", "payer_id", "month").unique()
    tracks = pl.DataFrame(
        [
            (p, payer, m, practices[p].apc_track_on(payer, month_end(m)).value)
            for p, payer, m in slots.iter_rows()
        ],
        schema={"practice_id": pl.String, "payer_id": pl.String, "month": pl.String, "track": pl.String},
        orient="row",
    )
    with_track = lines.join(tracks, on=["practice_id", "payer_id", "month"], how="inner").filter(
        pl.col("track") != ApcPaymentTrack.NONE.value
    )
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
        .group_by("practice_id", "payer_id", "month", "track", "payment", "category")
        .agg(
            lines=pl.len(), allowed_amount=pl.col("allowed_amount").cast(pl.Decimal(18, 2)).fill_null(0).sum()
        )
        .sort("practice_id", "payer_id", "month", "payment", "category")
    )
