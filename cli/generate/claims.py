"""Synthetic professional claims: encounters per member-month, lines per encounter, then adjustments.

Everything is columnar: counts are drawn per row and rows are multiplied with `explode`, so a 100,000
member year (about 4.8M lines) takes seconds. Rows are sorted before any draw is attached to them,
which keeps the output byte-identical for a seed.
"""

from __future__ import annotations

import polars as pl

from cli.generate import codes
from cli.generate.clinics import PCPS_PER_CLINIC, Clinic, OutsideProviders
from cli.generate.codes import Pool
from cli.generate.rng import Draws, pick

CLAIM_COLUMNS = (
    "claim_id",
    "claim_line_number",
    "claim_frequency_code",
    "original_claim_id",
    "member_id",
    "claim_start_date",
    "claim_end_date",
    "received_date",
    "paid_date",
    "hcpcs_code",
    "hcpcs_modifier_1",
    "hcpcs_modifier_2",
    *(f"diagnosis_code_{i}" for i in range(1, 13)),
    "place_of_service_code",
    "rendering_npi",
    "rendering_tin",
    "billing_clinic_id",
    "claim_type",
    "bill_type_code",
    "revenue_center_code",
    "admission_date",
    "discharge_date",
    "discharge_disposition_code",
    "ms_drg_code",
    "allowed_amount",
    "paid_amount",
    "payer_id",
)
OFFICE, LAB, PREVENTIVE, ER, MAMMOGRAPHY = range(5)
# Encounters per member-month (mean about 1.7) and the type of each; about 4 lines per member-month.
_ENCOUNTERS_PER_MONTH = (0.22, 0.30, 0.22, 0.14, 0.07, 0.05)
MAMMOGRAPHY_SHARE = 0.55
REPLACED_SHARE = 0.02
VOIDED_SHARE = 0.008
OUT_OF_CLINIC_SHARE = 0.08
MAMMOGRAPHY_AGES = (50, 73)  # age on Jan 1, so the woman is 50-74 on any day of the year


def claim_id_expr(seq: pl.Expr) -> pl.Expr:
    """`CLM` and ten digits for a 0-based sequence number (the +1e10 trick zero-pads cheaply)."""
    return pl.lit("CLM") + (seq.cast(pl.Int64) + 10_000_000_001).cast(pl.String).str.slice(1)


def _choose(draws: Draws, stream: str, n: int, pool: Pool) -> pl.Series:
    return draws.choice(stream, n, pool.weights)


def fee_schedule() -> dict[str, int]:
    """Allowed cents per code before the per-line spread."""
    fees: dict[str, int] = {}
    for pool in (
        codes.OFFICE_VISIT,
        codes.ER_VISIT,
        codes.ANNUAL_WELLNESS,
        codes.VISIT_EXTRAS,
        codes.LAB_TESTS,
        codes.MAMMOGRAPHY_PRIMARY,
        codes.SYSTOLIC,
        codes.DIASTOLIC,
        codes.HBA1C,
    ):
        fees.update(zip(pool.codes, pool.fees_cents, strict=True))
    fees.update({code: fee for _, code, fee in codes.PREVENTIVE_BY_AGE})
    fees[codes.MAMMOGRAPHY_TOMOSYNTHESIS[0]] = codes.MAMMOGRAPHY_TOMOSYNTHESIS[1]
    return fees


def _day_in(first: str, last: str, u: pl.Series | pl.Expr) -> pl.Expr:
    span = (pl.col(last) - pl.col(first)).dt.total_days() + 1
    return pl.col(first) + pl.duration(days=(u * span).floor().cast(pl.Int64))


def encounters(mm: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    """Visits and lab draws in each member-month: about 1.7 a month, infants seen more for well care."""
    n = mm.height
    enc = mm.with_columns(n_enc=draws.choice("encounters", n, _ENCOUNTERS_PER_MONTH))
    enc = enc.with_columns(enc=pl.int_ranges(0, pl.col("n_enc"))).explode("enc").drop_nulls("enc")
    m = enc.height
    u = draws.uniform("encounter_type", m)
    infant = pl.col("age") < 2
    enc_type = (
        pl.when(u < pl.when(infant).then(0.25).otherwise(0.03))
        .then(PREVENTIVE)
        .when(u < 0.06 + pl.when(infant).then(0.22).otherwise(0.0))
        .then(ER)
        .when(u < 0.32)
        .then(LAB)
        .otherwise(OFFICE)
    )
    return enc.with_columns(
        enc_type=enc_type,
        service_date=_day_in("first_day", "last_day", draws.uniform("service_day", m)),
        lag=3 + (draws.uniform("received_lag", m).pow(2) * 40).floor().cast(pl.Int64),
    ).select(*_ENCOUNTER_COLUMNS)


_MEMBER_COLUMNS = (
    "member_id",
    "age",
    "child",
    "gender",
    "line_of_business",
    "span_clinic",
    "span_pcp",
    "chronic_1",
    "chronic_2",
    "chronic_3",
)

_ENCOUNTER_COLUMNS = (
    "idx",
    pl.col("month").cast(pl.Int64),
    pl.col("enc").cast(pl.Int64),
    pl.col("enc_type").cast(pl.Int64),
    "service_date",
    pl.col("lag").cast(pl.Int64),
    *_MEMBER_COLUMNS,
)


def mammograms(mm: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    """One screening for a share of women 50-74, in one of their enrolled months, read late."""
    low, high = MAMMOGRAPHY_AGES
    women = mm.filter((pl.col("gender") == "F") & pl.col("age").is_between(low, high))
    women = women.with_columns(pick_key=draws.uniform("mammography_month", women.height))
    chosen = women.sort("idx", "pick_key").unique("idx", keep="first", maintain_order=True)
    chosen = chosen.filter(draws.uniform("mammography_screened", chosen.height) < MAMMOGRAPHY_SHARE)
    k = chosen.height
    return chosen.with_columns(
        enc=pl.lit(100, dtype=pl.Int64),
        enc_type=pl.lit(MAMMOGRAPHY, dtype=pl.Int64),
        service_date=_day_in("first_day", "last_day", draws.uniform("mammography_day", k)),
        lag=draws.integers("mammography_lag", k, 5, 60),
    ).select(*_ENCOUNTER_COLUMNS)


def claim_headers(
    enc: pl.DataFrame, clinics: list[Clinic], outside: OutsideProviders, draws: Draws
) -> pl.DataFrame:
    """Per encounter: claim id, dates, billing and rendering provider, diagnoses, line plan."""
    enc = enc.with_columns(received_date=pl.col("service_date") + pl.duration(days=pl.col("lag")))
    enc = enc.sort("received_date", "idx", "service_date", "enc").with_row_index("claim_seq")
    n = enc.height
    c = len(clinics)
    typ = pl.col("enc_type")
    clinic_visit = typ.is_in([OFFICE, PREVENTIVE])
    elsewhere = pl.lit(draws.uniform("out_of_clinic", n) < OUT_OF_CLINIC_SHARE) & (c > 1)
    hop = 1 + (pl.lit(draws.uniform("other_clinic", n)) * max(c - 1, 1)).floor().cast(pl.Int64)
    billing = pl.when(elsewhere).then((pl.col("span_clinic") + hop) % c).otherwise(pl.col("span_clinic"))
    pcp_of_billing = pl.col("billing") * PCPS_PER_CLINIC + pl.lit(draws.integers("pcp_line", n, 0, 2))
    pcp_npis = [npi for cl in clinics for npi in cl.pcp_npis]
    outside_npi = pl.lit(draws.integers("outside_npi", n, 0, 5))
    enc = enc.with_columns(billing=billing).with_columns(
        claim_id=claim_id_expr(pl.col("claim_seq")),
        billing_clinic_id=pl.when(clinic_visit).then(
            pick([cl.clinic_id for cl in clinics], pl.col("billing"))
        ),
        rendering_npi=pl.when(clinic_visit)
        .then(pick(pcp_npis, pcp_of_billing))
        .when(typ == LAB)
        .then(pick(outside.lab_npis, outside_npi % len(outside.lab_npis)))
        .when(typ == ER)
        .then(pick(outside.hospital_npis, outside_npi % len(outside.hospital_npis)))
        .otherwise(pick(outside.imaging_npis, outside_npi % len(outside.imaging_npis))),
        rendering_tin=pl.when(clinic_visit)
        .then(pick([cl.tin for cl in clinics], pl.col("billing")))
        .when(typ == LAB)
        .then(pl.lit(outside.lab_tin))
        .when(typ == ER)
        .then(pl.lit(outside.hospital_tin))
        .otherwise(pl.lit(outside.imaging_tin)),
        place_of_service_code=pl.when(clinic_visit)
        .then(pl.lit("11"))
        .when(typ == LAB)
        .then(pl.lit("81"))
        .when(typ == ER)
        .then(pl.lit("23"))
        .otherwise(pick(("22", "11"), pl.lit(draws.integers("mammography_pos", n, 0, 1)))),
        paid_lag=pl.lit(draws.integers("paid_lag", n, 5, 30)),
        pending=pl.lit(draws.uniform("pending", n) < 0.02),
    )
    return _diagnoses(enc, draws)


def _diagnoses(enc: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    n = enc.height
    typ = pl.col("enc_type")
    acute = pick(codes.ACUTE_DX.codes, pl.lit(_choose(draws, "acute_dx", n, codes.ACUTE_DX)))
    lab_dx = pick(codes.LAB_DX.codes, pl.lit(_choose(draws, "lab_dx", n, codes.LAB_DX)))
    mammo_dx = pick(
        codes.MAMMOGRAPHY_DX.codes, pl.lit(_choose(draws, "mammography_dx", n, codes.MAMMOGRAPHY_DX))
    )
    exam_pick = pl.lit(draws.integers("exam_dx", n, 0, 1))
    exam = (
        pl.when(pl.col("child"))
        .then(pick(codes.CHILD_EXAM_DX, exam_pick))
        .otherwise(pick(codes.ADULT_EXAM_DX, exam_pick))
    )
    chronic_first = pl.col("chronic_1").is_not_null() & pl.lit(draws.uniform("chronic_first", n) < 0.5)
    dx1 = (
        pl.when(typ == PREVENTIVE)
        .then(exam)
        .when(typ == MAMMOGRAPHY)
        .then(mammo_dx)
        .when(chronic_first & typ.is_in([OFFICE, LAB]))
        .then(pl.col("chronic_1"))
        .when(typ == LAB)
        .then(lab_dx)
        .otherwise(acute)
    )
    enc = enc.with_columns(diagnosis_code_1=dx1, chronic_lead=(dx1 == pl.col("chronic_1")).fill_null(False))
    carries = typ != MAMMOGRAPHY
    return enc.with_columns(
        diagnosis_code_2=pl.when(carries).then(
            pl.when("chronic_lead").then(pl.col("chronic_2")).otherwise(pl.col("chronic_1"))
        ),
        diagnosis_code_3=pl.when(carries).then(
            pl.when("chronic_lead").then(pl.col("chronic_3")).otherwise(pl.col("chronic_2"))
        ),
    )
