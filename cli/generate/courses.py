"""Courses of fills the APC measures read: asthma controllers and relievers (AMR), over the measurement year
and the year before (persistent asthma is read in both), and buprenorphine for opioid use disorder (POD).

The NDCs are those of the measure definitions (`shared/programs/data/measures/`, illustrative lists like
every NDC list here): members with asthma mostly take a controller, inhaled or oral, and a reliever now and
then; some only a reliever, whose ratio fails. Treatment for opioid use disorder starts in the first half of
the year and runs a few months to the year's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from cli.generate.rng import Draws, pick

ASTHMA = "J45909"
OUD = "F1120"
COURSE_COLUMNS = (
    "member_id",
    "pcp_npi",
    "ndc_code",
    "fill_number",
    "days_supply",
    "dispensing_date",
    "cents_per_30",
)


@dataclass(frozen=True)
class Course:
    """Fills every `every` days (plus up to `jitter` late), from a start within the first `every` days."""

    name: str
    ndcs: tuple[str, ...]
    supply: int
    every: int
    jitter: int
    fills: int
    cents_per_30: int


INHALED_CONTROLLER = Course(
    "asthma-inhaled",
    ("00173071920", "00173071820", "00186091612", "59310020412", "00173069600", "00186037020", "00085461001"),
    supply=30,
    every=30,
    jitter=12,
    fills=25,
    cents_per_30=26_000,
)
ORAL_CONTROLLER = Course(
    "asthma-oral", ("00006011731", "16729011910"), supply=30, every=30, jitter=8, fills=25, cents_per_30=1_500
)
RELIEVER = Course(
    "asthma-reliever",
    ("59310057922", "00173068220", "00085113201", "00487950101"),
    supply=25,
    every=70,
    jitter=40,
    fills=12,
    cents_per_30=3_800,
)
BUPRENORPHINE = Course(
    "oud", ("00054017613", "00228315603", "12496120803", "12496120403"), 30, 30, 5, 11, 18_000
)
CONTROLLER_SHARE = 0.7
ORAL_SHARE = 0.25
RELIEVER_SHARE = 0.85
OUD_TREATED_SHARE = 0.7


def _fills(takers: pl.DataFrame, course: Course, draws: Draws) -> pl.DataFrame:
    """Each taker's fills of `course` from its `start` up to `enrolled_to`."""
    n = takers.height
    rows = takers.select(
        "member_id",
        "pcp_npi",
        "start",
        "enrolled_to",
        ndc_code=pick(course.ndcs, pl.lit(draws.integers(f"{course.name}:ndc", n, 0, len(course.ndcs) - 1))),
        offset=pl.lit(draws.integers(f"{course.name}:offset", n, 0, course.every - 1)),
    ).with_columns(fill_number=pl.int_ranges(0, course.fills))
    rows = rows.explode("fill_number")
    m = rows.height
    rows = rows.with_columns(gap=pl.lit(draws.integers(f"{course.name}:gap", m, 0, course.jitter)))
    day = (
        pl.col("start")
        + pl.duration(
            days=pl.col("offset")
            + pl.col("fill_number") * course.every
            + pl.col("gap").cum_sum().over("member_id")
            - pl.col("gap")
        )
    ).alias("dispensing_date")
    return (
        rows.with_columns(day)
        .filter(pl.col("dispensing_date") <= pl.col("enrolled_to"))
        .select(
            *COURSE_COLUMNS[:3],
            fill_number=pl.col("fill_number").cast(pl.Int64),
            days_supply=pl.lit(course.supply, pl.Int64),
            dispensing_date="dispensing_date",
            cents_per_30=pl.lit(course.cents_per_30, pl.Int64),
        )
    )


def course_fills(people: pl.DataFrame, year: int, draws: Draws) -> pl.DataFrame:
    """Fills of the asthma and opioid-use-disorder courses for `people` (one row per member: member_id,
    pcp_npi, the chronic codes, enrollment_start_date and enrolled_to), columns COURSE_COLUMNS."""

    def carries(code: str) -> pl.Expr:
        return pl.any_horizontal(pl.col(f"chronic_{i}") == code for i in (1, 2, 3)).fill_null(False)

    asthma = people.filter(carries(ASTHMA)).with_columns(
        start=pl.max_horizontal(pl.col("enrollment_start_date"), pl.lit(date(year - 1, 1, 1)))
    )
    n = asthma.height
    asthma = asthma.with_columns(
        controller=pl.lit(draws.uniform("asthma:controller", n)) < CONTROLLER_SHARE,
        oral=pl.lit(draws.uniform("asthma:oral", n)) < ORAL_SHARE,
        reliever=pl.lit(draws.uniform("asthma:reliever", n)) < RELIEVER_SHARE,
    )
    oud = people.filter(carries(OUD))
    k = oud.height
    oud = oud.with_columns(
        start=pl.lit(date(year, 2, 1)) + pl.duration(days=pl.lit(draws.integers("oud:start", k, 0, 120))),
        treated=pl.lit(draws.uniform("oud:treated", k)) < OUD_TREATED_SHARE,
    )
    parts = [
        _fills(asthma.filter(pl.col("controller") & ~pl.col("oral")), INHALED_CONTROLLER, draws),
        _fills(asthma.filter(pl.col("controller") & pl.col("oral")), ORAL_CONTROLLER, draws),
        _fills(asthma.filter("reliever"), RELIEVER, draws),
        _fills(oud.filter("treated"), BUPRENORPHINE, draws),
    ]
    return pl.concat(parts)
