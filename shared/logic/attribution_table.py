"""The month's attribution table, vectorized (issue 13 §2; docs/apc.md "Attribution"): every enrolled member's
month in one pass over the net claim lines.

This is the one implementation of the common methodology: `Attributor.attribute` runs it on one member's
lines, so the per-member answer (`p4p calc attribution`, `explain`) and the monthly table cannot drift apart.

- **Members**: `enrolled_members` reads the roster spans covering the month; each member's product and PCP
  are those of the span covering the month's last covered day (of two, the later-starting).
- **Lines** are *net* claim lines (replacements and voids applied: `shared.intake.net_claim_versions`), with
  the service date as `date`. A line counts when its date is in the lookback, its rendering provider is a
  primary-care provider of a participating practice, its place of service is in the primary-care set and its
  service code in the primary-care code set (asked once per distinct code).
- **A visit** is one provider on one day; its allowed dollars are its lines' (a missing or negative amount
  adds nothing).
- **Ranking**, for practices and then providers within the winning practice: most visits, latest visit, most
  allowed dollars, then the lower id.
- **Rules**: the selected/matched PCP for the products that prefer it when the PCP is on a participating
  practice's roster; otherwise claims; otherwise unattributed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import polars as pl

from shared.logic.dates import month_end
from shared.models.apc import AttributionRule
from shared.programs.apc import AttributionRules

DOLLARS = pl.Decimal(38, 2)
LINE_SCHEMA: dict[str, pl.DataType] = {
    "member_id": pl.String(),
    "date": pl.Date(),
    "rendering_npi": pl.String(),
    "hcpcs_code": pl.String(),
    "place_of_service_code": pl.String(),
    "allowed_amount": pl.Decimal(18, 2),
}
"""A claim line as attribution reads it; `date` is the service date (the claim's start)."""
MEMBER_SCHEMA: dict[str, pl.DataType] = {
    "member_id": pl.String(),
    "product": pl.String(),
    "pcp_npi": pl.String(),
}
"""One row per member enrolled in the month: the product and PCP of the month's last covered day."""
PROVIDER_SCHEMA: dict[str, pl.DataType] = {
    "npi": pl.String(),
    "practice_id": pl.String(),
    "primary_care": pl.Boolean(),
}
"""The participating practices' providers for the month, one row per NPI."""
TABLE_SCHEMA: dict[str, pl.DataType] = {
    "member_id": pl.String(),
    "month": pl.String(),
    "practice_id": pl.String(),
    "provider_npi": pl.String(),
    "rule": pl.String(),
    "visits_counted": pl.Int64(),
    "last_visit": pl.Date(),
    "allowed_amount": DOLLARS,
    "runner_up_practice_id": pl.String(),
    "runner_up_visits": pl.Int64(),
    "runner_up_last_visit": pl.Date(),
    "runner_up_allowed_amount": DOLLARS,
    "product": pl.String(),
    "pcp_npi": pl.String(),
}
"""The member-month attribution table (`curated/attribution/month=<YYYY-MM>/attribution.parquet`)."""
_TALLY = ("visits", "last_visit", "allowed_amount")
"""The tallies' order, each descending; the lower key breaks a full tie."""


class NotCounted(StrEnum):
    """Why a claim line in the lookback is not a primary-care visit (the first test it fails)."""

    PROVIDER = "not rendered by a primary-care provider of a participating practice"
    PLACE = "place of service not in the primary-care set"
    SERVICE = "service code not in the primary-care code set"


def lookback_start(month: str, months: int) -> date:
    """The first day of the lookback of `months` months ending with `month` (24 → 23 months earlier)."""
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class PrimaryCare:
    """The compiled rules for a month: the program's attribution rules, the participating practices'
    providers (`PROVIDER_SCHEMA`) and the code-set test (`Attributor` caches it per distinct code)."""

    rules: AttributionRules
    providers: pl.DataFrame
    is_primary_care_service: Callable[[str], bool]

    def lookback(self, month: str) -> tuple[date, date]:
        """The first and last days whose visits count for `month`."""
        return lookback_start(month, self.rules.lookback_months), month_end(month)

    def services_in(self, codes: Iterable[str | None]) -> list[str]:
        """The primary-care codes among `codes` (each asked once)."""
        return [c for c in codes if c is not None and self.is_primary_care_service(c)]

    def may_count(self, month: str) -> pl.Expr:
        """True for a line (`LINE_SCHEMA` names) in the lookback, at a primary-care place of service, by a
        primary-care provider of a participating practice: every visit that counts passes, and only the
        service code is left to test (a job may drop the claims with no such line before netting)."""
        first, last = self.lookback(month)
        return (
            pl.col("date").is_between(first, last)
            & pl.col("place_of_service_code").is_in(sorted(self.rules.primary_care_places_of_service))
            & pl.col("rendering_npi").is_in(self.primary_care_providers().get_column("npi").to_list())
        )

    def primary_care_providers(self) -> pl.DataFrame:
        """The providers whose visits count (`npi`, `practice_id`)."""
        return self.providers.filter(pl.col("primary_care")).select("npi", "practice_id")


def enrolled_members(spans: pl.DataFrame, month: str) -> pl.DataFrame:
    """The members a roster span covers in `month` (`MEMBER_SCHEMA`), from eligibility rows (`member_id`,
    `enrollment_start_date`, `enrollment_end_date`, `product`, `pcp_npi`, `assigned_clinic_id`). The span
    covering the month's last covered day gives product and PCP; of two, the later-starting; of two starting
    the same day, the greater clinic id (as `span_on`), then the greater product and PCP."""
    last = month_end(month)
    first = last.replace(day=1)
    end = pl.col("enrollment_end_date")
    covering = spans.filter(
        (pl.col("enrollment_start_date") <= last) & (end.is_null() | (end >= first))
    ).with_columns(_through=pl.when(end.is_null() | (end > last)).then(pl.lit(last)).otherwise(end))
    return (
        covering.sort(
            "member_id",
            "_through",
            "enrollment_start_date",
            "assigned_clinic_id",
            "product",
            "pcp_npi",
            descending=[False, True, True, True, True, True],
            nulls_last=True,
        )
        .unique("member_id", keep="first", maintain_order=True)
        .select(*(pl.col(name).cast(dtype) for name, dtype in MEMBER_SCHEMA.items()))
    )


def judged_lines(lines: pl.DataFrame, month: str, compiled: PrimaryCare) -> pl.DataFrame:
    """The lines in the lookback, each with its practice (the rendering primary-care provider's) and, for one
    that is not a primary-care visit, `not_counted` (a `NotCounted` value): what `explain` shows."""
    first, last = compiled.lookback(month)
    inside = lines.filter(pl.col("date").is_between(first, last))
    services = compiled.services_in(inside.get_column("hcpcs_code").unique().to_list())
    pcp = compiled.primary_care_providers()
    practice = pl.col("rendering_npi").replace_strict(
        pcp.get_column("npi"), pcp.get_column("practice_id"), default=None, return_dtype=pl.String
    )
    places = sorted(compiled.rules.primary_care_places_of_service)
    reason = (
        pl.when(pl.col("practice_id").is_null())
        .then(pl.lit(NotCounted.PROVIDER.value))
        .when(~pl.col("place_of_service_code").is_in(places).fill_null(False))
        .then(pl.lit(NotCounted.PLACE.value))
        .when(~pl.col("hcpcs_code").is_in(services).fill_null(False))
        .then(pl.lit(NotCounted.SERVICE.value))
    )
    return inside.with_columns(practice_id=practice).with_columns(not_counted=reason)


def _counted_lines(lines: pl.DataFrame, month: str, compiled: PrimaryCare) -> pl.DataFrame:
    # The table's path: the same three tests as `judged_lines`, as filters, so most lines go early.
    kept = lines.filter(compiled.may_count(month))
    pcp = compiled.primary_care_providers()
    services = compiled.services_in(kept.get_column("hcpcs_code").unique().to_list())
    return kept.filter(pl.col("hcpcs_code").is_in(services)).with_columns(
        practice_id=pl.col("rendering_npi").replace_strict(
            pcp.get_column("npi"), pcp.get_column("practice_id"), return_dtype=pl.String
        )
    )


def primary_care_visits(counted: pl.DataFrame) -> pl.DataFrame:
    """Counted lines as visits: one per member, provider and day, with its practice, lines and dollars."""
    allowed = pl.col("allowed_amount")
    return (
        counted.group_by("member_id", "date", "rendering_npi")
        .agg(
            pl.col("practice_id").first(),
            pl.len().alias("lines"),
            pl.when(allowed > 0).then(allowed).sum().cast(DOLLARS).alias("allowed_amount"),
        )
        .rename({"rendering_npi": "provider_npi"})
        .sort("member_id", "date", "provider_npi")
        .select("member_id", "date", "provider_npi", "practice_id", "lines", "allowed_amount")
    )


def ranked_tallies(visits: pl.DataFrame, key: str) -> pl.DataFrame:
    """Each member's tallies by `key` (`practice_id` or `provider_npi`): visits, latest visit, dollars, and
    `rank` (0 wins): most visits, then the latest, then the most dollars, then the lower key."""
    tallies = visits.group_by("member_id", key).agg(
        pl.len().cast(pl.Int64).alias("visits"),
        pl.col("date").max().alias("last_visit"),
        pl.col("allowed_amount").sum().cast(DOLLARS),
    )
    order = ["member_id", *_TALLY, key]
    ranked = tallies.sort(order, descending=[False, *(True for _ in _TALLY), False])
    return ranked.with_columns(rank=pl.int_range(pl.len()).over("member_id"))


def _selected(members: pl.DataFrame, compiled: PrimaryCare) -> pl.DataFrame:
    products = sorted(p.value for p in compiled.rules.selected_pcp_products)
    roster = compiled.providers.select(pcp_npi="npi", _pcp_practice="practice_id")
    return members.filter(pl.col("product").is_in(products)).join(roster, on="pcp_npi", how="inner")


def attribution_table(
    month: str, members: pl.DataFrame, lines: pl.DataFrame, compiled: PrimaryCare
) -> pl.DataFrame:
    """Every member of `members` (`MEMBER_SCHEMA`) attributed for `month` from their net claim lines
    (`LINE_SCHEMA`, any dates): `TABLE_SCHEMA`, one row per member, in member order."""
    selected = _selected(members, compiled).select("member_id", "_pcp_practice")
    by_claims = members.join(selected, on="member_id", how="anti").get_column("member_id")
    mine = lines.filter(pl.col("member_id").is_in(by_claims.implode()))
    visits = primary_care_visits(_counted_lines(mine, month, compiled))
    practices = ranked_tallies(visits, "practice_id")
    winners = practices.filter(pl.col("rank") == 0).drop("rank")
    runners = practices.filter(pl.col("rank") == 1).select(
        "member_id",
        runner_up_practice_id="practice_id",
        runner_up_visits="visits",
        runner_up_last_visit="last_visit",
        runner_up_allowed_amount="allowed_amount",
    )
    at_winner = visits.join(
        winners.select("member_id", "practice_id"), on=["member_id", "practice_id"], how="semi"
    )
    providers = ranked_tallies(at_winner, "provider_npi").filter(pl.col("rank") == 0)
    table = (
        members.join(selected, on="member_id", how="left")
        .join(winners, on="member_id", how="left")
        .join(providers.select("member_id", "provider_npi"), on="member_id", how="left")
        .join(runners, on="member_id", how="left")
    )
    chosen = pl.col("_pcp_practice").is_not_null()
    claims = pl.col("practice_id").is_not_null()
    table = table.with_columns(
        month=pl.lit(month),
        rule=pl.when(chosen)
        .then(pl.lit(AttributionRule.SELECTED_PCP.value))
        .when(claims)
        .then(pl.lit(AttributionRule.CLAIMS.value))
        .otherwise(pl.lit(AttributionRule.UNATTRIBUTED.value)),
        practice_id=pl.coalesce("_pcp_practice", "practice_id"),
        provider_npi=pl.when(chosen).then(pl.col("pcp_npi")).otherwise(pl.col("provider_npi")),
        visits_counted=pl.col("visits").fill_null(0),
        allowed_amount=pl.col("allowed_amount").fill_null(pl.lit(0).cast(DOLLARS)),
    )
    return table.select(*(pl.col(name).cast(dtype) for name, dtype in TABLE_SCHEMA.items())).sort("member_id")
