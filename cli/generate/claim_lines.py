"""Claim lines per encounter, amounts, and the replacement (7) and void (8) claims that follow originals."""

from __future__ import annotations

import polars as pl

from cli.generate import codes
from cli.generate.claims import (
    CLAIM_COLUMNS,
    ER,
    LAB,
    MAMMOGRAPHY,
    OFFICE,
    PREVENTIVE,
    REPLACED_SHARE,
    VOIDED_SHARE,
    claim_headers,
    claim_id_expr,
    encounters,
    fee_schedule,
    mammograms,
)
from cli.generate.clinics import Clinic, OutsideProviders
from cli.generate.facility import facility_claims
from cli.generate.rng import Draws, pick

PROFESSIONAL = "professional"

_EXTRAS_PER_VISIT = (0.5, 0.35, 0.15)


def _preventive_code() -> pl.Expr:
    """The preventive E/M code of the member's age band (bands ascend, so the oldest match wins)."""
    bands = codes.PREVENTIVE_BY_AGE
    expr: pl.Expr = pl.lit(bands[0][1])
    for floor, code, _ in bands[1:]:
        expr = pl.when(pl.col("age") >= floor).then(pl.lit(code)).otherwise(expr)
    return expr


def _line_plan(headers: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    """How many lines each claim gets, and the encounter-level picks its lines draw from."""
    n = headers.height
    typ = pl.col("enc_type")
    adult = ~pl.col("child")
    visit = typ.is_in([OFFICE, PREVENTIVE, ER])

    def carries(code: str) -> pl.Expr:
        return pl.any_horizontal(pl.col(f"chronic_{i}") == code for i in (1, 2, 3)).fill_null(False)

    headers = headers.with_columns(
        has_bp=(typ == OFFICE) & adult & carries("I10"),
        has_a1c=(typ == OFFICE) & adult & carries("E119"),
    )
    has_bp, has_a1c = pl.col("has_bp"), pl.col("has_a1c")
    n_extra = pl.when(visit).then(pl.lit(draws.choice("extras", n, _EXTRAS_PER_VISIT))).otherwise(0)
    awv = (pl.col("line_of_business") == "CA") & (pl.col("age") >= 65)
    primary = (
        pl.when(typ == OFFICE)
        .then(
            pick(codes.OFFICE_VISIT.codes, pl.lit(draws.choice("office_code", n, codes.OFFICE_VISIT.weights)))
        )
        .when((typ == PREVENTIVE) & awv)
        .then(
            pick(
                codes.ANNUAL_WELLNESS.codes,
                pl.lit(draws.choice("awv_code", n, codes.ANNUAL_WELLNESS.weights)),
            )
        )
        .when(typ == PREVENTIVE)
        .then(_preventive_code())
        .when(typ == ER)
        .then(pick(codes.ER_VISIT.codes, pl.lit(draws.choice("er_code", n, codes.ER_VISIT.weights))))
        .otherwise(
            pick(
                codes.MAMMOGRAPHY_PRIMARY.codes,
                pl.lit(draws.choice("mammography_code", n, codes.MAMMOGRAPHY_PRIMARY.weights)),
            )
        )
    )
    lab_count = pl.lit(draws.integers("lab_count", n, 1, 6))
    tomo = pl.lit(draws.uniform("tomosynthesis", n) < 0.4)
    plan = headers.select(
        "claim_seq", "enc_type", "has_bp", "has_a1c", "age", "line_of_business"
    ).with_columns(
        n_extra=n_extra,
        primary=primary,
        extra_base=pl.lit(draws.choice("extra_base", n, codes.VISIT_EXTRAS.weights)),
        lab_base=pl.lit(draws.choice("lab_base", n, codes.LAB_TESTS.weights)),
        systolic=pick(codes.SYSTOLIC.codes, pl.lit(draws.choice("systolic", n, codes.SYSTOLIC.weights))),
        diastolic=pick(codes.DIASTOLIC.codes, pl.lit(draws.choice("diastolic", n, codes.DIASTOLIC.weights))),
        a1c=pick(codes.HBA1C.codes, pl.lit(draws.choice("a1c", n, codes.HBA1C.weights))),
        modifier_25=pl.lit(draws.uniform("modifier_25", n) < 0.4),
        n_lines=pl.when(typ == LAB)
        .then(lab_count)
        .when(typ == MAMMOGRAPHY)
        .then(1 + tomo.cast(pl.Int64))
        .otherwise(1 + n_extra + 2 * has_bp.cast(pl.Int64) + has_a1c.cast(pl.Int64)),
    )
    return plan


def _lines(plan: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    lines = plan.with_columns(k=pl.int_ranges(0, pl.col("n_lines"))).explode("k")
    k, typ, n_extra = pl.col("k"), pl.col("enc_type"), pl.col("n_extra")
    after_extras = k - n_extra  # 1, 2 are BP lines when present; then the HbA1c line
    reported = (
        pl.when(pl.col("has_bp") & (after_extras == 1))
        .then(pl.col("systolic"))
        .when(pl.col("has_bp") & (after_extras == 2))
        .then(pl.col("diastolic"))
        .otherwise(pl.col("a1c"))
    )
    extras_n, labs_n = len(codes.VISIT_EXTRAS.codes), len(codes.LAB_TESTS.codes)
    code = (
        pl.when(typ == LAB)
        .then(pick(codes.LAB_TESTS.codes, (pl.col("lab_base") + k) % labs_n))
        .when(k == 0)
        .then(pl.col("primary"))
        .when(typ == MAMMOGRAPHY)
        .then(pl.lit(codes.MAMMOGRAPHY_TOMOSYNTHESIS[0]))
        .when(k <= n_extra)
        .then(pick(codes.VISIT_EXTRAS.codes, (pl.col("extra_base") + k - 1) % extras_n))
        .otherwise(reported)
    )
    lines = lines.with_columns(hcpcs_code=code, claim_line_number=k + 1)
    m = lines.height
    fee = pl.col("hcpcs_code").replace_strict(fee_schedule(), return_dtype=pl.Int64)
    allowed = fee * pl.lit(draws.integers("allowed_pct", m, 90, 110)) // 100
    paid = pl.col("allowed_cents") * pl.lit(draws.integers("paid_pct", m, 70, 100)) // 100
    lines = lines.with_columns(allowed_cents=allowed).with_columns(paid_cents=paid)
    return lines.select(
        "claim_seq",
        "claim_line_number",
        "hcpcs_code",
        hcpcs_modifier_1=pl.when(
            (k == 0) & (typ == OFFICE) & (pl.col("n_lines") > 1) & pl.col("modifier_25")
        ).then(pl.lit("25")),
        allowed_cents="allowed_cents",
        paid_cents="paid_cents",
    )


def _adjusted_claims(headers: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    """Which claims get a replacement (7) or a void (8), the new claim id and when it is received."""
    n = headers.height
    u = pl.lit(draws.uniform("adjusted", n))
    adjusted = headers.select(
        "claim_seq",
        "received_date",
        frequency=pl.when(u < REPLACED_SHARE)
        .then(pl.lit("7"))
        .when(u < REPLACED_SHARE + VOIDED_SHARE)
        .then(pl.lit("8")),
        later=pl.lit(draws.integers("adjustment_lag", n, 14, 75)),
        paid_factor=pl.lit(draws.integers("replacement_pct", n, 80, 115)),
    ).filter(pl.col("frequency").is_not_null())
    return adjusted.with_row_index("adj_seq").select(
        "claim_seq",
        "frequency",
        "paid_factor",
        new_id=claim_id_expr(pl.col("adj_seq") + n),
        new_received=pl.col("received_date") + pl.duration(days=pl.col("later")),
    )


_HEADER_COLUMNS = (
    "claim_id",
    "member_id",
    "service_date",
    "received_date",
    "paid_lag",
    "pending",
    "diagnosis_code_1",
    "diagnosis_code_2",
    "diagnosis_code_3",
    "place_of_service_code",
    "rendering_npi",
    "rendering_tin",
    "billing_clinic_id",
)


def _with_headers(lines: pl.DataFrame, headers: pl.DataFrame) -> pl.DataFrame:
    """Claim-level columns repeated on each line; headers are indexed by claim_seq, so this is a gather."""
    return lines.hstack(headers.select(pl.col(_HEADER_COLUMNS).gather(lines["claim_seq"])))


def _output(lines: pl.DataFrame) -> pl.DataFrame:
    """The file's columns in order; dates stay dates and amounts decimals so the CSV writer formats them."""
    return lines.select(
        *CLAIM_COLUMNS[:5],
        claim_start_date=pl.col("service_date"),
        claim_end_date=pl.col("service_date"),
        received_date=pl.col("received_date"),
        paid_date=pl.when(~pl.col("pending")).then(
            pl.col("received_date") + pl.duration(days=pl.col("paid_lag"))
        ),
        hcpcs_code=pl.col("hcpcs_code"),
        hcpcs_modifier_1=pl.col("hcpcs_modifier_1"),
        hcpcs_modifier_2=pl.lit(None, pl.String),
        diagnosis_code_1=pl.col("diagnosis_code_1"),
        diagnosis_code_2=pl.col("diagnosis_code_2"),
        diagnosis_code_3=pl.col("diagnosis_code_3"),
        **{f"diagnosis_code_{i}": pl.lit(None, pl.String) for i in range(4, 13)},
        place_of_service_code=pl.col("place_of_service_code"),
        rendering_npi=pl.col("rendering_npi"),
        rendering_tin=pl.col("rendering_tin"),
        billing_clinic_id=pl.col("billing_clinic_id"),
        claim_type=pl.lit(PROFESSIONAL),
        bill_type_code=pl.lit(None, pl.String),
        revenue_center_code=pl.lit(None, pl.String),
        admission_date=pl.lit(None, pl.Date),
        discharge_date=pl.lit(None, pl.Date),
        discharge_disposition_code=pl.lit(None, pl.String),
        ms_drg_code=pl.lit(None, pl.String),
        allowed_amount=pl.col("allowed_cents").cast(pl.Decimal(18, 2)) / 100,
        paid_amount=pl.col("paid_cents").cast(pl.Decimal(18, 2)) / 100,
        payer_id=pl.lit(None, pl.String),
    )


def make_claims(
    member_months: pl.DataFrame, clinics: list[Clinic], outside: OutsideProviders, draws: Draws
) -> pl.DataFrame:
    """Claim lines for the member-months, columns as in docs/file-specs.md: the professional claims (and
    their replacements and voids) and the hospital's (`facility_claims`: emergency visits, inpatient stays).

    Lines are in received order and an adjustment is always received after its original, so any prefix
    of the frame only holds replacements and voids whose original claim is in it too.
    """
    visits = pl.concat([encounters(member_months, draws), mammograms(member_months, draws)])
    headers = claim_headers(visits, clinics, outside, draws)
    lines = _lines(_line_plan(headers, draws), draws)
    adjusted = _adjusted_claims(headers, draws)
    originals = _with_headers(lines, headers).with_columns(
        claim_frequency_code=pl.lit("1"), original_claim_id=pl.lit(None, pl.String)
    )
    copies = lines.join(adjusted, on="claim_seq", how="inner", maintain_order="left")
    copies = _with_headers(copies, headers).with_columns(
        claim_frequency_code=pl.col("frequency"),
        original_claim_id=pl.col("claim_id"),
        claim_id=pl.col("new_id"),
        received_date=pl.col("new_received"),
        paid_cents=pl.when(pl.col("frequency") == "7")
        .then(pl.min_horizontal(pl.col("paid_cents") * pl.col("paid_factor") // 100, "allowed_cents"))
        .otherwise(pl.col("paid_cents")),
    )
    copies = copies.sort("received_date", "claim_id", "claim_line_number")
    hospital = facility_claims(headers, lines, member_months, outside, draws)
    professional = _output(originals).merge_sorted(_output(copies), key="received_date")
    # Each part is in received order already: a linear merge keeps it without a wide sort.
    return professional.merge_sorted(hospital.cast(professional.schema), key="received_date")
