"""Point-of-care app attestations: BCS-E schedule and perform steps by the member's assigned clinic.

Most screenings are attested before their claim arrives; some women have a perform attestation that no
claim ever follows (the chart-request cases), some only a schedule step.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from cli.generate.claims import MAMMOGRAPHY_AGES
from cli.generate.clinics import Clinic
from cli.generate.codes import MAMMOGRAPHY_PRIMARY
from cli.generate.rng import Draws

ATTESTATION_COLUMNS = (
    "attestation_id",
    "clinic_id",
    "member_id",
    "action_code",
    "step",
    "action_date",
    "attested_by",
    "result_code",
    "result_value",
)
ATTESTED_SCREENING_SHARE = 0.7
PERFORMED_WITHOUT_CLAIM_SHARE = 0.2
SCHEDULED_ONLY_SHARE = 0.12
USERS_PER_CLINIC = 4


def _days(expr: pl.Expr) -> pl.Expr:
    return pl.duration(days=expr)


def _screened(claims: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    """Schedule and perform steps around claimed mammograms, mostly dated before the claim is received."""
    mammograms = (
        claims.filter(
            (pl.col("claim_frequency_code") == "1")
            & (pl.col("claim_line_number") == 1)
            & pl.col("hcpcs_code").is_in(MAMMOGRAPHY_PRIMARY.codes)
        )
        .select("member_id", "claim_start_date", "received_date")
        .sort("member_id", "claim_start_date")
    )
    n = mammograms.height
    attested = mammograms.filter(pl.lit(draws.uniform("bcs_attested", n)) < ATTESTED_SCREENING_SHARE)
    k = attested.height
    late = pl.lit(draws.uniform("bcs_perform_late", k)) < 0.15
    perform_after = pl.when(late).then(pl.lit(draws.integers("bcs_perform_late_days", k, 4, 20)))
    schedule = attested.select(
        "member_id",
        step=pl.lit("schedule"),
        action_date=pl.col("claim_start_date") - _days(pl.lit(draws.integers("bcs_schedule_lead", k, 7, 45))),
    )
    perform = attested.select(
        "member_id",
        step=pl.lit("perform"),
        action_date=pl.col("claim_start_date")
        + _days(perform_after.otherwise(pl.lit(draws.integers("bcs_perform_days", k, 0, 3)))),
    )
    return pl.concat([schedule, perform])


def _unclaimed(member_months: pl.DataFrame, claims: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    """Women 50-74 with no mammogram claim: some attested a screening anyway, some only scheduled one."""
    low, high = MAMMOGRAPHY_AGES
    claimed = (
        claims.filter(pl.col("hcpcs_code").is_in(MAMMOGRAPHY_PRIMARY.codes)).select("member_id").unique()
    )
    women = member_months.filter((pl.col("gender") == "F") & pl.col("age").is_between(low, high)).join(
        claimed, on="member_id", how="anti"
    )
    women = women.sort("idx", "month").with_columns(
        pick_key=draws.uniform("bcs_unclaimed_month", women.height)
    )
    chosen = women.sort("idx", "pick_key").unique("idx", keep="first", maintain_order=True)
    n = chosen.height
    u = pl.lit(draws.uniform("bcs_unclaimed", n))
    chosen = chosen.with_columns(
        kind=pl.when(u < PERFORMED_WITHOUT_CLAIM_SHARE)
        .then(pl.lit("perform"))
        .when(u < PERFORMED_WITHOUT_CLAIM_SHARE + SCHEDULED_ONLY_SHARE)
        .then(pl.lit("schedule")),
        day=pl.col("first_day")
        + _days(
            (
                pl.lit(draws.uniform("bcs_unclaimed_day", n))
                * ((pl.col("last_day") - pl.col("first_day")).dt.total_days() + 1)
            )
            .floor()
            .cast(pl.Int64)
        ),
        lead=pl.lit(draws.integers("bcs_unclaimed_lead", n, 7, 45)),
    ).filter(pl.col("kind").is_not_null())
    schedule = chosen.select(
        "member_id",
        step=pl.lit("schedule"),
        action_date=pl.when(pl.col("kind") == "perform")
        .then(pl.col("day") - _days(pl.col("lead")))
        .otherwise(pl.col("day")),
    )
    perform = chosen.filter(pl.col("kind") == "perform").select(
        "member_id", step=pl.lit("perform"), action_date=pl.col("day")
    )
    return pl.concat([schedule, perform])


def make_attestations(
    member_months: pl.DataFrame,
    spans: pl.DataFrame,
    claims: pl.DataFrame,
    clinics: list[Clinic],
    year: int,
    draws: Draws,
) -> pl.DataFrame:
    """BCS-E attestations by the clinic a member is assigned to on the action date, in Care Gap clinics."""
    steps = pl.concat([_screened(claims, draws), _unclaimed(member_months, claims, draws)])
    care_gap = pl.DataFrame(
        {
            "assigned_clinic_id": [c.clinic_id for c in clinics if c.program == "care_gap"],
            "program_start": [c.program_enrollment_date for c in clinics if c.program == "care_gap"],
        },
        schema={"assigned_clinic_id": pl.String, "program_start": pl.Date},
    )
    # The app only exists for Care Gap clinics, and only from the day a clinic joins.
    assigned = steps.join(
        spans.select("member_id", "span_start", "span_end", "assigned_clinic_id"), on="member_id", how="inner"
    ).filter(
        (pl.col("action_date") >= pl.col("span_start"))
        & (pl.col("span_end").is_null() | (pl.col("action_date") <= pl.col("span_end")))
        & pl.col("action_date").is_between(date(year, 1, 1), date(year, 12, 31))
    )
    assigned = assigned.join(care_gap, on="assigned_clinic_id", how="inner").filter(
        pl.col("action_date") >= pl.col("program_start")
    )
    assigned = assigned.sort("action_date", "assigned_clinic_id", "member_id", pl.col("step") != "schedule")
    n = assigned.height
    user = pl.lit(draws.integers("bcs_user", n, 1, USERS_PER_CLINIC)).cast(pl.String)
    return assigned.with_row_index("seq").select(
        attestation_id=pl.lit("ATT")
        + (pl.col("seq").cast(pl.Int64) + 10_000_000_001).cast(pl.String).str.slice(1),
        clinic_id=pl.col("assigned_clinic_id"),
        member_id=pl.col("member_id"),
        action_code=pl.lit("BCS-E"),
        step=pl.col("step"),
        action_date=pl.col("action_date"),
        attested_by=pl.lit("user-") + pl.col("assigned_clinic_id").str.to_lowercase() + pl.lit("-") + user,
        result_code=pl.lit(None, pl.String),
        result_value=pl.lit(None, pl.String),
        payer_id=pl.lit(None, pl.String),
    )
