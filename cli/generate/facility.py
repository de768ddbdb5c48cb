"""Synthetic institutional claims: the hospital's side of emergency visits, and inpatient stays.

An emergency visit (the professional claim at place of service 23) gets the hospital's outpatient claim
(type of bill 131): an emergency room line (revenue code 045x) with the visit's CPT code, sometimes a lab
line. An inpatient stay (type of bill 111) runs from its admission to its discharge date with an MS-DRG and a
discharge disposition: a room-and-board and a pharmacy line coded by revenue code alone, a lab line, and an
emergency room line on the admission day when the member came in through the emergency department. Amounts
are plausible, not any plan's. Stays are more frequent with age; a few are maternity or mental-health stays
(which AHU leaves out) and a few end in death.
"""

from __future__ import annotations

import polars as pl

from cli.generate.claims import CLAIM_COLUMNS, ER
from cli.generate.clinics import OutsideProviders
from cli.generate.rng import Draws, pick

INSTITUTIONAL = "institutional"
ED_BILL_TYPE = "131"
INPATIENT_BILL_TYPE = "111"
ED_REVENUE = ("0450", "0451", "0452", "0456")
_ED_REVENUE_WEIGHTS = (0.85, 0.05, 0.05, 0.05)
_LAB = ("0300", "80053", 4_500)
_ROOM = ("0120", 240_000)  # per day
_PHARMACY = ("0250", 60_000)
_ED_FACILITY_CENTS = {"99283": 95_000, "99284": 160_000, "99285": 260_000}
# (MS-DRG, principal diagnosis): common medical stays, then the maternity and psychoses DRGs AHU excludes.
_STAYS = (
    ("194", "J189", 0.16),  # simple pneumonia
    ("291", "I5023", 0.14),  # heart failure
    ("871", "A419", 0.10),  # sepsis
    ("392", "K529", 0.10),  # esophagitis, gastroenteritis
    ("690", "N390", 0.09),  # urinary tract infection
    ("603", "L03116", 0.08),  # cellulitis
    ("190", "J441", 0.08),  # COPD
    ("065", "I639", 0.05),  # stroke
    ("247", "I214", 0.05),  # acute MI with stent
    ("312", "R55", 0.05),  # syncope
    ("807", "O800", 0.06),  # vaginal delivery (excluded)
    ("885", "F209", 0.04),  # psychoses (excluded)
)
_DISPOSITIONS = ("01", "06", "03", "07", "20")
_DISPOSITION_WEIGHTS = (0.74, 0.12, 0.08, 0.04, 0.02)
_ADMITTED_FROM_ED = 0.55
_LAB_ON_ED_VISIT = 0.4


def _stays_per_month() -> pl.Expr:
    """Admissions per member-month: about 25 a 1,000 member-years for children, 50 for adults, 180 at 65+."""
    age = pl.col("age")
    return pl.when(age >= 65).then(0.015).when(age >= 18).then(0.0042).otherwise(0.002)


def _seq_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """Claim ids `FAC` + ten digits, in received order."""
    frame = frame.sort("received_date", "member_id", "claim_start_date", "kind").with_row_index("fac_seq")
    return frame.with_columns(
        claim_id=pl.lit("FAC")
        + (pl.col("fac_seq").cast(pl.Int64) + 10_000_000_001).cast(pl.String).str.slice(1)
    )


def ed_visits(headers: pl.DataFrame, lines: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    """One outpatient hospital claim per emergency visit (`headers`, with the physician's `lines`), coded
    with the visit's CPT code, received a few days after the physician's claim."""
    codes = lines.filter(pl.col("claim_line_number") == 1).select("claim_seq", hcpcs_er="hcpcs_code")
    visits = headers.filter(pl.col("enc_type") == ER).join(
        codes, on="claim_seq", how="inner", maintain_order="left"
    )
    n = visits.height
    return visits.select(
        "member_id",
        "diagnosis_code_1",
        "diagnosis_code_2",
        "diagnosis_code_3",
        "paid_lag",
        "pending",
        kind=pl.lit(0, pl.Int64),
        claim_start_date=pl.col("service_date"),
        claim_end_date=pl.col("service_date"),
        received_date=pl.col("received_date")
        + pl.duration(days=pl.lit(draws.integers("ed_fac_lag", n, 0, 20))),
        er_code=pl.col("hcpcs_er"),
        revenue=pick(ED_REVENUE, pl.lit(draws.choice("ed_fac_revenue", n, _ED_REVENUE_WEIGHTS))),
        with_lab=pl.lit(draws.uniform("ed_fac_lab", n) < _LAB_ON_ED_VISIT),
        bill_type_code=pl.lit(ED_BILL_TYPE),
        admission_date=pl.lit(None, pl.Date),
        discharge_date=pl.lit(None, pl.Date),
        discharge_disposition_code=pl.lit(None, pl.String),
        ms_drg_code=pl.lit(None, pl.String),
        length_of_stay=pl.lit(0, pl.Int64),
    )


def inpatient_stays(member_months: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    """Admissions drawn per member-month, each with its length of stay, DRG, diagnosis and disposition."""
    n = member_months.height
    admitted = member_months.filter(pl.lit(draws.uniform("ip_admitted", n)) < _stays_per_month())
    k = admitted.height
    span = (pl.col("last_day") - pl.col("first_day")).dt.total_days() + 1
    stay = pl.lit(draws.choice("ip_drg", k, [w for _, _, w in _STAYS]))
    # A maternity stay is a woman's of child-bearing age; anyone else's is the DRG's neighbour, pneumonia.
    drg = pick([d for d, _, _ in _STAYS], stay)
    maternal_age = (pl.col("gender") == "F") & pl.col("age").is_between(16, 45)
    drg = pl.when((drg == "807") & ~maternal_age).then(pl.lit("194")).otherwise(drg)
    dx = pl.col("ms_drg_code").replace_strict({d: x for d, x, _ in _STAYS}, return_dtype=pl.String)
    admission = pl.col("first_day") + pl.duration(
        days=(pl.lit(draws.uniform("ip_day", k)) * span).floor().cast(pl.Int64)
    )
    frame = admitted.with_columns(
        ms_drg_code=drg,
        admission_date=admission,
        length_of_stay=pl.lit(draws.integers("ip_los", k, 1, 7)),
        from_ed=pl.lit(draws.uniform("ip_from_ed", k) < _ADMITTED_FROM_ED),
        er_code=pick(("99284", "99285"), pl.lit(draws.integers("ip_er_code", k, 0, 1))),
        disposition=pick(_DISPOSITIONS, pl.lit(draws.choice("ip_disposition", k, _DISPOSITION_WEIGHTS))),
        lag=pl.lit(draws.integers("ip_lag", k, 10, 45)),
        paid_lag=pl.lit(draws.integers("ip_paid_lag", k, 10, 40)),
        pending=pl.lit(draws.uniform("ip_pending", k) < 0.03),
    )
    discharge = pl.col("admission_date") + pl.duration(days=pl.col("length_of_stay"))
    return frame.select(
        "member_id",
        "paid_lag",
        "pending",
        "er_code",
        "ms_drg_code",
        "admission_date",
        "length_of_stay",
        kind=pl.lit(1, pl.Int64),
        diagnosis_code_1=dx,
        diagnosis_code_2=pl.col("chronic_1"),
        diagnosis_code_3=pl.col("chronic_2"),
        claim_start_date=pl.col("admission_date"),
        claim_end_date=discharge,
        received_date=discharge + pl.duration(days=pl.col("lag")),
        revenue=pl.when(pl.col("from_ed")).then(pl.lit("0450")),
        with_lab=pl.lit(True),
        bill_type_code=pl.lit(INPATIENT_BILL_TYPE),
        discharge_date=discharge,
        discharge_disposition_code=pl.col("disposition"),
    )


def _lines(claims: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    """Each claim's lines: ED (when it has one), then lab, then (stays) room and pharmacy."""
    ed = claims.filter(pl.col("revenue").is_not_null()).select(
        "claim_id",
        order=pl.lit(0),
        revenue_center_code=pl.col("revenue"),
        hcpcs_code=pl.col("er_code"),
        cents=pl.col("er_code").replace_strict(_ED_FACILITY_CENTS, return_dtype=pl.Int64),
        service=pl.col("claim_start_date"),
    )
    lab = claims.filter("with_lab").select(
        "claim_id",
        order=pl.lit(1),
        revenue_center_code=pl.lit(_LAB[0]),
        hcpcs_code=pl.lit(_LAB[1]),
        cents=pl.lit(_LAB[2]),
        service=pl.col("claim_start_date"),
    )
    stays = claims.filter(pl.col("kind") == 1)
    room = stays.select(
        "claim_id",
        order=pl.lit(2),
        revenue_center_code=pl.lit(_ROOM[0]),
        hcpcs_code=pl.lit(None, pl.String),
        cents=pl.lit(_ROOM[1]) * pl.col("length_of_stay"),
        service=pl.col("claim_start_date"),
    )
    pharmacy = stays.select(
        "claim_id",
        order=pl.lit(3),
        revenue_center_code=pl.lit(_PHARMACY[0]),
        hcpcs_code=pl.lit(None, pl.String),
        cents=pl.lit(_PHARMACY[1]) * pl.col("length_of_stay"),
        service=pl.col("claim_start_date"),
    )
    lines = pl.concat([ed, lab, room, pharmacy], how="vertical_relaxed").sort("claim_id", "order")
    m = lines.height
    lines = lines.with_columns(
        claim_line_number=pl.int_range(1, pl.len() + 1).over("claim_id").cast(pl.Int64),
        allowed_cents=pl.col("cents") * pl.lit(draws.integers("fac_allowed_pct", m, 85, 115)) // 100,
    )
    return lines.with_columns(
        paid_cents=pl.col("allowed_cents") * pl.lit(draws.integers("fac_paid_pct", m, 75, 100)) // 100
    )


def facility_claims(
    headers: pl.DataFrame,
    lines: pl.DataFrame,
    member_months: pl.DataFrame,
    outside: OutsideProviders,
    draws: Draws,
) -> pl.DataFrame:
    """The hospital's claims (emergency visits and inpatient stays), columns as in docs/file-specs.md, in
    received order; originals only."""
    visits, stays = ed_visits(headers, lines, draws), inpatient_stays(member_months, draws)
    claims = _seq_ids(pl.concat([visits, stays], how="diagonal_relaxed"))
    n = claims.height
    hospital = pick(
        outside.hospital_npis, pl.lit(draws.integers("fac_npi", n, 0, len(outside.hospital_npis) - 1))
    )
    claims = claims.with_columns(rendering_npi=hospital)
    lines = _lines(claims, draws).join(claims, on="claim_id", how="inner", maintain_order="left")
    money = pl.Decimal(18, 2)
    out = lines.select(
        "claim_id",
        "claim_line_number",
        claim_frequency_code=pl.lit("1"),
        original_claim_id=pl.lit(None, pl.String),
        member_id="member_id",
        claim_start_date="claim_start_date",
        claim_end_date="claim_end_date",
        received_date="received_date",
        paid_date=pl.when(~pl.col("pending")).then(
            pl.col("received_date") + pl.duration(days=pl.col("paid_lag"))
        ),
        hcpcs_code="hcpcs_code",
        hcpcs_modifier_1=pl.lit(None, pl.String),
        hcpcs_modifier_2=pl.lit(None, pl.String),
        diagnosis_code_1="diagnosis_code_1",
        diagnosis_code_2="diagnosis_code_2",
        diagnosis_code_3="diagnosis_code_3",
        **{f"diagnosis_code_{i}": pl.lit(None, pl.String) for i in range(4, 13)},
        place_of_service_code=pl.lit(None, pl.String),
        rendering_npi="rendering_npi",
        rendering_tin=pl.lit(outside.hospital_tin),
        billing_clinic_id=pl.lit(None, pl.String),
        claim_type=pl.lit(INSTITUTIONAL),
        bill_type_code="bill_type_code",
        revenue_center_code="revenue_center_code",
        admission_date="admission_date",
        discharge_date="discharge_date",
        discharge_disposition_code="discharge_disposition_code",
        ms_drg_code="ms_drg_code",
        allowed_amount=pl.col("allowed_cents").cast(money) / 100,
        paid_amount=pl.col("paid_cents").cast(money) / 100,
        payer_id=pl.lit(None, pl.String),
    )
    assert tuple(out.columns) == CLAIM_COLUMNS
    return out.sort("received_date", "claim_id", "claim_line_number")
