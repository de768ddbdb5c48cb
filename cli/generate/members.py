"""Synthetic members, their enrollment spans with clinic assignment, and the monthly eligibility rosters."""

from __future__ import annotations

from datetime import date

import polars as pl

from cli.generate.clinics import PCPS_PER_CLINIC, Clinic
from cli.generate.codes import CHRONIC_ADULT, CHRONIC_CHILD
from cli.generate.rng import Draws, pick

ELIGIBILITY_COLUMNS = (
    "member_id",
    "birth_date",
    "gender",
    "line_of_business",
    "product",
    "assigned_clinic_id",
    "pcp_npi",
    "enrollment_start_date",
    "enrollment_end_date",
    "medi_cal_enrollment_date",
    "payer_id",
)
_LOBS = ("MC", "CA", "HW")
PRODUCT_OF_LINE = {"MC": "medi_cal", "CA": "medicare_advantage", "HW": "commercial_hmo"}
"""The product each generated line of business is sold as: Medi-Cal, the Medicare Advantage dual plan
(CareAdvantage) and the HMO for in-home care workers (HealthWorx)."""
_LOB_WEIGHTS = (0.78, 0.10, 0.12)
NEW_IN_YEAR_SHARE = 0.09
TERMINATED_SHARE = 0.06
SWITCH_SHARE = 0.05


def _days(expr: pl.Expr) -> pl.Expr:
    return pl.duration(days=expr)


def _first_of_month(year: int | pl.Expr, month: pl.Expr) -> pl.Expr:
    return pl.date(year, month, 1)


def _assignment_pools(clinics: list[Clinic]) -> tuple[list[int], list[float], list[int], list[float]]:
    """Clinic indexes (and weights) taking children, and taking adults; pediatric clinics get more kids."""
    kids = [i for i, c in enumerate(clinics) if c.takes_children] or list(range(len(clinics)))
    adults = [i for i, c in enumerate(clinics) if c.takes_adults] or list(range(len(clinics)))
    kid_weights = [2.0 if clinics[i].track == "pediatric" else 1.0 for i in kids]
    return kids, kid_weights, adults, [1.0] * len(adults)


def _pool_pick(pool: list[int], index: pl.Expr) -> pl.Expr:
    return pl.lit(pl.Series(pool, dtype=pl.Int64)).gather(index)


def _offset(pool_size: int) -> pl.Expr:
    """A step of 1..pool_size-1 through a pool, so the new clinic differs from the old one."""
    return 1 + (pl.col("switch_offset") * max(pool_size - 1, 1)).floor().cast(pl.Int64)


def make_members(count: int, clinics: list[Clinic], year: int, draws: Draws) -> pl.DataFrame:
    """One row per member: demographics, chronic conditions, enrollment, clinic (and a switch, if any)."""
    n = count
    jan1 = date(year, 1, 1)
    kids, kid_w, adults, adult_w = _assignment_pools(clinics)
    frame = pl.DataFrame(
        [
            draws.choice("lob", n, _LOB_WEIGHTS),
            draws.uniform("age_group", n),
            draws.uniform("age_within", n),
            draws.integers("birth_day", n, 0, 364),
            draws.choice("gender", n, (0.515, 0.48, 0.005)),
            draws.uniform("new_in_year", n),
            draws.integers("start_month", n, 2, 12),
            draws.integers("years_enrolled", n, 1, 10),
            draws.uniform("terminated", n),
            draws.integers("end_month", n, 1, 11),
            draws.uniform("switch", n),
            draws.integers("switch_month", n, 2, 12),
            draws.choice("kid_clinic", n, kid_w),
            draws.choice("adult_clinic", n, adult_w),
            draws.uniform("switch_offset", n),
            draws.integers("pcp", n, 0, PCPS_PER_CLINIC - 1),
            draws.integers("pcp2", n, 0, PCPS_PER_CLINIC - 1),
            draws.uniform("medi_cal_same", n),
            draws.integers("medi_cal_back", n, 30, 2500),
        ]
    ).with_row_index("idx")
    g, w = pl.col("age_group"), pl.col("age_within")
    lob = pick(_LOBS, pl.col("lob"))
    # Age in whole years on Jan 1; -1 marks a baby born during the year.
    age = (
        pl.when(lob == "CA")
        .then(pl.when(g < 0.15).then(45 + w * 20).otherwise(65 + w * 30))
        .when(lob == "HW")
        .then(19 + w * 47)
        .when(g < 0.02)
        .then(-1)
        .when(g < 0.40)
        .then(w * 18)
        .when(g < 0.92)
        .then(18 + w * 47)
        .otherwise(65 + w * 25)
        .floor()
        .cast(pl.Int64)
    )
    frame = frame.with_columns(
        member_id=pl.format("SYN{}", (pl.col("idx") + 1).cast(pl.String).str.zfill(8)),
        line_of_business=lob,
        age=age,
        gender=pick(("F", "M", "U"), pl.col("gender")),
    )
    born = (
        pl.when(pl.col("age") < 0)
        .then(pl.lit(jan1) + _days(pl.col("birth_day") * 330 // 364))
        .otherwise(pl.date(year - 1 - pl.col("age"), 1, 1) + _days(pl.col("birth_day")))
    )
    frame = frame.with_columns(birth_date=born, child=pl.col("age") < 18)
    start = (
        pl.when(pl.col("age") < 0)
        .then(pl.col("birth_date"))
        .when(pl.col("new_in_year") < NEW_IN_YEAR_SHARE)
        .then(_first_of_month(year, pl.col("start_month")))
        .otherwise(
            pl.max_horizontal(
                pl.date(year - pl.col("years_enrolled"), pl.col("start_month"), 1), "birth_date"
            )
        )
    )
    frame = frame.with_columns(enrollment_start_date=start)
    end = pl.date(year, pl.col("end_month"), 1).dt.month_end()
    frame = frame.with_columns(
        enrollment_end_date=pl.when(
            (pl.col("terminated") < TERMINATED_SHARE) & (end > pl.col("enrollment_start_date"))
        ).then(end)
    )
    switch_on = _first_of_month(year, pl.col("switch_month"))
    kid_idx = _pool_pick(kids, pl.col("kid_clinic"))
    adult_idx = _pool_pick(adults, pl.col("adult_clinic"))
    kid_new = _pool_pick(kids, (pl.col("kid_clinic") + _offset(len(kids))) % len(kids))
    adult_new = _pool_pick(adults, (pl.col("adult_clinic") + _offset(len(adults))) % len(adults))
    frame = frame.with_columns(
        clinic_index=pl.when("child").then(kid_idx).otherwise(adult_idx),
        clinic_index_2=pl.when("child").then(kid_new).otherwise(adult_new),
        switch_date=pl.when(
            (pl.col("switch") < SWITCH_SHARE)
            & (switch_on > pl.col("enrollment_start_date"))
            & (pl.col("enrollment_end_date").is_null() | (pl.col("enrollment_end_date") >= switch_on))
        ).then(switch_on),
    )
    # A pool of one clinic has nowhere to switch to.
    frame = frame.with_columns(
        switch_date=pl.when(pl.col("clinic_index") != pl.col("clinic_index_2")).then("switch_date")
    )
    medi_cal = (
        pl.when(pl.col("line_of_business") == "HW")
        .then(None)
        .when((pl.col("enrollment_start_date") >= jan1) | (pl.col("medi_cal_same") < 0.7))
        .then(pl.col("enrollment_start_date"))
        .otherwise(
            pl.max_horizontal(pl.col("enrollment_start_date") - _days(pl.col("medi_cal_back")), "birth_date")
        )
    )
    frame = frame.with_columns(medi_cal_enrollment_date=medi_cal)
    return _with_chronic(frame, draws).select(
        "idx",
        "member_id",
        "birth_date",
        "age",
        "child",
        "gender",
        "line_of_business",
        "enrollment_start_date",
        "enrollment_end_date",
        "medi_cal_enrollment_date",
        "clinic_index",
        "clinic_index_2",
        "switch_date",
        "pcp",
        "pcp2",
        "chronic_1",
        "chronic_2",
        "chronic_3",
    )


def _with_chronic(frame: pl.DataFrame, draws: Draws) -> pl.DataFrame:
    """Up to three chronic diagnosis codes per member, more likely with age."""
    n = frame.height
    age = pl.col("age")
    age_factor = pl.when(age < 40).then(0.4).when(age < 65).then(1.0).otherwise(1.6)
    flags: list[pl.Expr] = []
    for code, prevalence in CHRONIC_ADULT:
        u = draws.uniform(f"chronic:{code}", n)
        flags.append(pl.when(~pl.col("child") & (u < age_factor * prevalence)).then(pl.lit(code)))
    for code, prevalence in CHRONIC_CHILD:
        u = draws.uniform(f"chronic-child:{code}", n)
        flags.append(pl.when(pl.col("child") & (age >= 2) & (u < prevalence)).then(pl.lit(code)))
    codes = pl.concat_list(flags).list.drop_nulls()
    return frame.with_columns(
        chronic_1=codes.list.get(0, null_on_oob=True),
        chronic_2=codes.list.get(1, null_on_oob=True),
        chronic_3=codes.list.get(2, null_on_oob=True),
    )


def make_spans(members: pl.DataFrame, clinics: list[Clinic]) -> pl.DataFrame:
    """Enrollment spans: one per member, two for a member who switched clinic mid-year."""
    clinic_ids = [c.clinic_id for c in clinics]
    pcp_npis = [npi for c in clinics for npi in c.pcp_npis]
    first = members.with_columns(
        span_start=pl.col("enrollment_start_date"),
        span_end=pl.when(pl.col("switch_date").is_not_null())
        .then(pl.col("switch_date") - pl.duration(days=1))
        .otherwise(pl.col("enrollment_end_date")),
        span_clinic=pl.col("clinic_index"),
        span_pcp=pl.col("pcp"),
    )
    second = members.filter(pl.col("switch_date").is_not_null()).with_columns(
        span_start=pl.col("switch_date"),
        span_end=pl.col("enrollment_end_date"),
        span_clinic=pl.col("clinic_index_2"),
        span_pcp=pl.col("pcp2"),
    )
    spans = pl.concat([first, second]).sort("idx", "span_start")
    return spans.with_columns(
        assigned_clinic_id=pick(clinic_ids, pl.col("span_clinic")),
        pcp_npi=pick(pcp_npis, pl.col("span_clinic") * PCPS_PER_CLINIC + pl.col("span_pcp")),
    )


def eligibility_roster(spans: pl.DataFrame, year: int, month: int) -> pl.DataFrame:
    """The roster a plan would send for one month: spans open in it, an end date only once it is known."""
    first = date(year, month, 1)
    last = pl.lit(first).dt.month_end()
    open_in_month = (pl.col("span_start") <= last) & (
        pl.col("span_end").is_null() | (pl.col("span_end") >= pl.lit(first))
    )
    roster = spans.filter(open_in_month).with_columns(
        enrollment_start_date=pl.col("span_start"),
        enrollment_end_date=pl.when(pl.col("span_end") <= last).then(pl.col("span_end")),
    )
    return roster.select(
        "member_id",
        pl.col("birth_date").cast(pl.String),
        "gender",
        "line_of_business",
        product=pl.col("line_of_business").replace_strict(PRODUCT_OF_LINE, return_dtype=pl.String),
        assigned_clinic_id="assigned_clinic_id",
        pcp_npi="pcp_npi",
        enrollment_start_date=pl.col("enrollment_start_date").cast(pl.String),
        enrollment_end_date=pl.col("enrollment_end_date").cast(pl.String),
        medi_cal_enrollment_date=pl.col("medi_cal_enrollment_date").cast(pl.String),
        payer_id=pl.lit(None, pl.String),
    )


def member_months(spans: pl.DataFrame, year: int) -> pl.DataFrame:
    """One row per member and month enrolled in the year, with the clinic assigned that month."""
    months = pl.DataFrame({"month": pl.Series(range(1, 13), dtype=pl.Int64)})
    mm = spans.join(months, how="cross", maintain_order="left_right").with_columns(
        month_start=pl.date(year, pl.col("month"), 1)
    )
    mm = mm.with_columns(month_end=pl.col("month_start").dt.month_end())
    mm = mm.filter(
        (pl.col("span_start") <= pl.col("month_end"))
        & (pl.col("span_end").is_null() | (pl.col("span_end") >= pl.col("month_start")))
    )
    return mm.with_columns(
        first_day=pl.max_horizontal("month_start", "span_start"),
        last_day=pl.min_horizontal("month_end", pl.col("span_end").fill_null(pl.col("month_end"))),
    ).sort("idx", "month")
