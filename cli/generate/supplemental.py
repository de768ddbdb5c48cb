"""Optional kinds: pharmacy fills for chronic medications, immunizations, and lab results/vitals.

Codes are real-shaped (NDC-11, CVX, LOINC) and chosen per condition or age, so the medication,
immunization and result-based actions have evidence to find; they are not a reference code set.
"""

from __future__ import annotations

import random

import polars as pl

from cli.generate.clinics import PCPS_PER_CLINIC, Clinic, npi_with_check_digit
from cli.generate.courses import course_fills
from cli.generate.rng import Draws, pick

PHARMACY_COLUMNS = (
    "claim_id",
    "fill_number",
    "claim_status",
    "member_id",
    "dispensing_date",
    "ndc_code",
    "days_supply",
    "quantity",
    "prescriber_npi",
    "dispensing_npi",
    "paid_date",
    "allowed_amount",
    "paid_amount",
    "payer_id",
)
IMMUNIZATION_COLUMNS = (
    "member_id",
    "cvx_code",
    "immunization_date",
    "source",
    "lot_number",
    "administering_npi",
    "payer_id",
)
LAB_COLUMNS = (
    "member_id",
    "loinc_code",
    "result_value",
    "result_unit",
    "result_date",
    "ordering_npi",
    "payer_id",
)

# (chronic diagnosis that prompts it, NDC-11 codes of the class, allowed cents per 30 days)
_MEDICATIONS = (
    ("E119", ("00093104801", "00378023401", "65862000801"), 900),  # metformin
    ("I10", ("00172375860", "68180051401", "00093111101"), 700),  # lisinopril / losartan
    ("E785", ("00071015523", "60505257809", "00093505698"), 1100),  # atorvastatin
)
ON_MEDICATION_SHARE = 0.8
REVERSED_SHARE = 0.02
# CDC schedule by age in months: the doses a baby gets at that visit.
_INFANT_SCHEDULE = (
    (0, ("08",)),
    (2, ("20", "10", "49", "133", "119", "08")),
    (4, ("20", "10", "49", "133", "119")),
    (6, ("20", "133", "08", "150")),
    (7, ("150",)),
    (12, ("03", "21", "83", "133")),
    (15, ("20", "49")),
    (18, ("83",)),
)
_ADOLESCENT_DOSES = ("115", "114", "165")
_SOURCES = ("registry", "ehr", "claim", "patient_reported")


def _carries(code: str) -> pl.Expr:
    return pl.any_horizontal(pl.col(f"chronic_{i}") == code for i in (1, 2, 3)).fill_null(False)


def _pcp(clinics: list[Clinic]) -> pl.Expr:
    npis = [npi for c in clinics for npi in c.pcp_npis]
    return pick(npis, pl.col("span_clinic") * PCPS_PER_CLINIC + pl.col("span_pcp"))


def _day_in_month(draws: Draws, stream: str, n: int) -> pl.Expr:
    span = (pl.col("last_day") - pl.col("first_day")).dt.total_days() + 1
    return pl.col("first_day") + pl.duration(
        days=(pl.lit(draws.uniform(stream, n)) * span).floor().cast(pl.Int64)
    )


def _money(cents: pl.Expr) -> pl.Expr:
    return cents.cast(pl.Decimal(18, 2)) / 100


def make_pharmacy_claims(
    member_months: pl.DataFrame, clinics: list[Clinic], year: int, seed: int, draws: Draws
) -> pl.DataFrame:
    """Monthly or quarterly fills of a chronic medication, the asthma and opioid-use-disorder courses the
    APC measures read (`course_fills`, asthma's from the year before), with a few reversals."""
    rng = random.Random(f"{seed}:pharmacies")
    pharmacies = [
        npi_with_check_digit("1" + "".join(str(rng.randrange(10)) for _ in range(8))) for _ in range(4)
    ]
    first = member_months.sort("idx", "month").unique("idx", keep="first", maintain_order=True)
    last = member_months.sort("idx", "month").unique("idx", keep="last", maintain_order=True)
    people = first.with_columns(
        pcp_npi=_pcp(clinics), enrolled_to=last["last_day"], enrolled_from=pl.col("first_day")
    )
    therapies = []
    for code, ndcs, cents in _MEDICATIONS:
        takers = people.filter(_carries(code))
        n = takers.height
        therapies.append(
            takers.select(
                "member_id",
                "pcp_npi",
                "enrolled_from",
                "enrolled_to",
                ndc_code=pick(ndcs, pl.lit(draws.integers(f"rx_ndc:{code}", n, 0, len(ndcs) - 1))),
                days_supply=pl.when(pl.lit(draws.uniform(f"rx_supply:{code}", n)) < 0.7)
                .then(30)
                .otherwise(90),
                offset=pl.lit(draws.integers(f"rx_offset:{code}", n, 0, 29)),
                on=pl.lit(draws.uniform(f"rx_on:{code}", n)) < ON_MEDICATION_SHARE,
                cents_per_30=pl.lit(cents),
            ).filter("on")
        )
    fills = pl.concat(therapies).with_columns(fill_number=pl.int_ranges(0, 13)).explode("fill_number")
    m = fills.height
    fills = fills.with_columns(gap=pl.lit(draws.integers("rx_gap", m, 0, 6)))
    fills = fills.with_columns(
        dispensing_date=pl.col("enrolled_from")
        + pl.duration(
            days=pl.col("offset")
            + pl.col("fill_number") * pl.col("days_supply")
            + pl.col("gap").cum_sum().over("member_id", "ndc_code")
            - pl.col("gap")
        )
    ).filter(pl.col("dispensing_date") <= pl.col("enrolled_to"))
    courses = course_fills(people, year, draws)
    fills = pl.concat([fills.select(courses.columns).cast(courses.schema), courses])
    fills = fills.sort("dispensing_date", "member_id", "ndc_code").with_row_index("seq")
    k = fills.height
    allowed = (
        pl.col("cents_per_30")
        * pl.col("days_supply")
        // 30
        * pl.lit(draws.integers("rx_price", k, 90, 110))
        // 100
    )
    paid = fills.with_columns(
        claim_id=pl.lit("RX") + (pl.col("seq").cast(pl.Int64) + 10_000_000_001).cast(pl.String).str.slice(1),
        claim_status=pl.lit("paid"),
        quantity=pl.col("days_supply").cast(pl.String),
        prescriber_npi=pl.col("pcp_npi"),
        dispensing_npi=pick(pharmacies, pl.lit(draws.integers("rx_pharmacy", k, 0, len(pharmacies) - 1))),
        paid_date=pl.col("dispensing_date") + pl.duration(days=pl.lit(draws.integers("rx_paid", k, 1, 14))),
        allowed_cents=allowed,
        reversed=pl.lit(draws.uniform("rx_reversed", k)) < REVERSED_SHARE,
    ).with_columns(paid_cents=pl.col("allowed_cents") - 300)
    reversals = paid.filter("reversed").with_columns(claim_status=pl.lit("reversed"))
    rows = pl.concat([paid, reversals]).sort("dispensing_date", "claim_id", "claim_status")
    return rows.select(
        *PHARMACY_COLUMNS[:-3],
        allowed_amount=_money(pl.col("allowed_cents")),
        paid_amount=_money(pl.max_horizontal(pl.col("paid_cents"), 0)),
        payer_id=pl.lit(None, pl.String),
    )


def make_immunizations(member_months: pl.DataFrame, clinics: list[Clinic], draws: Draws) -> pl.DataFrame:
    """Childhood series by age, adolescent doses at 11-12, and seasonal flu, from mixed sources."""
    mm = member_months.with_columns(pcp_npi=_pcp(clinics))
    age_months = (pl.col("month_start").dt.year() - pl.col("birth_date").dt.year()) * 12 + (
        pl.col("month_start").dt.month() - pl.col("birth_date").dt.month()
    )
    schedule = pl.DataFrame(
        [(age, cvx) for age, doses in _INFANT_SCHEDULE for cvx in doses],
        schema={"age_months": pl.Int32, "cvx_code": pl.String},
        orient="row",
    )
    infant = (
        mm.filter(pl.col("age") < 2)
        .with_columns(age_months=age_months.cast(pl.Int32))
        .join(schedule, on="age_months", how="inner", maintain_order="left_right")
    )
    teen_months = mm.filter(pl.col("age").is_between(11, 12))
    teen_months = teen_months.with_columns(key=draws.uniform("imm_teen_month", teen_months.height))
    teens = teen_months.sort("idx", "key").unique("idx", keep="first", maintain_order=True)
    teens = teens.filter(pl.lit(draws.uniform("imm_teen", teens.height)) < 0.6)
    teens = teens.join(
        pl.DataFrame({"cvx_code": _ADOLESCENT_DOSES}), how="cross", maintain_order="left_right"
    ).sort("idx", "cvx_code")
    season = mm.filter(pl.col("month").is_in([1, 10, 11, 12]) & (pl.col("age") >= 0))
    season = season.with_columns(key=draws.uniform("imm_flu_month", season.height))
    flu = season.sort("idx", "key").unique("idx", keep="first", maintain_order=True)
    share = pl.when(pl.col("age") >= 65).then(0.6).when(pl.col("child")).then(0.45).otherwise(0.35)
    flu = flu.filter(pl.lit(draws.uniform("imm_flu", flu.height)) < share).with_columns(
        cvx_code=pl.when(pl.col("age") >= 65)
        .then(pl.lit("135"))
        .when(pl.col("child"))
        .then(pl.lit("150"))
        .otherwise(pl.lit("141"))
    )
    columns = ("idx", "member_id", "first_day", "last_day", "pcp_npi", "cvx_code")
    doses = pl.concat([infant.select(columns), teens.select(columns), flu.select(columns)]).sort(
        "idx", "cvx_code"
    )
    doses = doses.filter(pl.lit(draws.uniform("imm_given", doses.height)) < 0.9)
    n = doses.height
    source = pick(_SOURCES, pl.lit(draws.choice("imm_source", n, (0.65, 0.2, 0.1, 0.05))))
    doses = doses.with_columns(immunization_date=_day_in_month(draws, "imm_day", n), source=source)
    lot = pl.lit("L") + pl.lit(draws.integers("imm_lot", n, 100000, 999999)).cast(pl.String)
    return (
        doses.with_columns(
            lot_number=pl.when(pl.col("source").is_in(["registry", "ehr"])).then(lot),
            administering_npi=pl.when(pl.col("source") != "patient_reported").then(pl.col("pcp_npi")),
            payer_id=pl.lit(None, pl.String),
        )
        .unique(["member_id", "cvx_code", "immunization_date"], keep="first", maintain_order=True)
        .sort("immunization_date", "member_id", "cvx_code")
        .select(IMMUNIZATION_COLUMNS)
    )


def _tenths(expr: pl.Expr) -> pl.Expr:
    return (expr // 10).cast(pl.String) + pl.lit(".") + (expr % 10).cast(pl.String)


def make_labs(member_months: pl.DataFrame, clinics: list[Clinic], draws: Draws) -> pl.DataFrame:
    """HbA1c results for members with diabetes, blood pressure pairs for members with hypertension."""
    mm = member_months.with_columns(ordering_npi=_pcp(clinics))
    n = mm.height
    mm = mm.with_columns(
        result_date=_day_in_month(draws, "lab_day", n),
        a1c=_carries("E119") & (pl.lit(draws.uniform("lab_a1c", n)) < 0.25),
        bp=_carries("I10") & (pl.lit(draws.uniform("lab_bp", n)) < 0.3),
        a1c_tenths=pl.lit(draws.integers("lab_a1c_value", n, 50, 110)),
        a1c_loinc=pick(("4548-4", "17856-6"), pl.lit(draws.choice("lab_a1c_code", n, (0.9, 0.1)))),
        systolic=pl.lit(draws.integers("lab_systolic", n, 105, 165)).cast(pl.String),
        diastolic=pl.lit(draws.integers("lab_diastolic", n, 62, 98)).cast(pl.String),
    )
    common = ("idx", "member_id", "result_date", "ordering_npi")
    a1c = mm.filter("a1c").select(
        *common, loinc_code="a1c_loinc", result_value=_tenths(pl.col("a1c_tenths")), result_unit=pl.lit("%")
    )
    bp = mm.filter("bp")
    systolic = bp.select(
        *common, loinc_code=pl.lit("8480-6"), result_value="systolic", result_unit=pl.lit("mm[Hg]")
    )
    diastolic = bp.select(
        *common, loinc_code=pl.lit("8462-4"), result_value="diastolic", result_unit=pl.lit("mm[Hg]")
    )
    labs = pl.concat([a1c, systolic, diastolic]).sort("result_date", "idx", "loinc_code")
    return labs.with_columns(payer_id=pl.lit(None, pl.String)).select(LAB_COLUMNS)
