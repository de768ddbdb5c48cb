"""APC member attribution, the common methodology (issue 13 §2; docs/apc.md): each member-month goes to
one participating practice and one of its providers.

1. For the products that prefer it (program data: commercial HMO, Medicare Advantage, Medi-Cal), the PCP
   the member selected or the plan matched, when that provider belongs to a participating practice.
2. Otherwise, and always for PPO and EPO, claims: over the lookback (24 months ending with the month),
   the primary-care visits per practice, where a visit is primary care when its rendering provider is a
   primary-care provider of a participating practice, its service code is in the primary-care code set
   and its place of service in the primary-care set. Most visits wins, then the most recent visit, then
   the most allowed dollars (then the lower practice id, so the answer never depends on input order);
   then the provider within the practice the same way.
3. No such visit: unattributed.

A visit is one provider on one day: two qualifying lines of one provider on one day count once and add
their allowed dollars. `Attributor` holds the compiled rules and the roster, so a monthly job builds it
once and attributes every member with it: `table` for a month's members at once, `attribute` for one,
both by the one vectorized implementation in `shared.logic.attribution_table`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from shared.logic.attribution_table import (
    LINE_SCHEMA,
    MEMBER_SCHEMA,
    PROVIDER_SCHEMA,
    PrimaryCare,
    attribution_table,
    judged_lines,
    lookback_start,
    primary_care_visits,
    ranked_tallies,
)
from shared.models.apc import (
    Attribution,
    AttributionMember,
    AttributionRule,
    AttributionWorkings,
    CountedVisit,
    PracticeTally,
    ProviderRecord,
    Visit,
)
from shared.programs.apc import AttributionRules

__all__ = ["Attributor", "attribution_of", "lookback_start", "visit_lines"]

_ONE = "member"
"""The member id a single member's lines are filed under."""


def visit_lines(visits: Iterable[Visit], member_id: str = _ONE) -> pl.DataFrame:
    """One member's visits as claim lines (`LINE_SCHEMA`)."""
    rows = [
        (member_id, v.date, v.rendering_npi, v.hcpcs_code, v.place_of_service_code, v.allowed_amount)
        for v in visits
    ]
    return pl.DataFrame(rows, schema=LINE_SCHEMA, orient="row")


def _tally(row: Mapping[str, Any], key: str) -> PracticeTally:
    return PracticeTally(
        key=row[key], visits=row["visits"], last_visit=row["last_visit"], allowed_amount=row["allowed_amount"]
    )


def attribution_of(row: Mapping[str, Any]) -> Attribution:
    """A row of the attribution table (`TABLE_SCHEMA`) as an `Attribution`."""
    runner_up = None
    if row["runner_up_practice_id"] is not None:
        runner_up = PracticeTally(
            key=row["runner_up_practice_id"],
            visits=row["runner_up_visits"],
            last_visit=row["runner_up_last_visit"],
            allowed_amount=row["runner_up_allowed_amount"],
        )
    return Attribution(
        month=row["month"],
        practice_id=row["practice_id"],
        provider_npi=row["provider_npi"],
        rule=AttributionRule(row["rule"]),
        visits_counted=row["visits_counted"],
        last_visit=row["last_visit"],
        allowed_amount=row["allowed_amount"],
        runner_up=runner_up,
    )


@dataclass
class Attributor:
    """The attribution rules and the participating practices' providers for a month (NPI → practice):
    build once, attribute many member-months (`table`) or one (`attribute`), with the same code."""

    rules: AttributionRules
    providers: Mapping[str, ProviderRecord]
    _services: dict[str, bool] = field(default_factory=dict, init=False, repr=False)
    _compiled: PrimaryCare | None = field(default=None, init=False, repr=False)

    def primary_care_service(self, code: str) -> bool:
        """True when `code` is in the primary-care code set (worked out once per distinct code)."""
        known = self._services.get(code)
        if known is None:
            known = self._services[code] = code in self.rules.primary_care_services
        return known

    @property
    def compiled(self) -> PrimaryCare:
        """The rules and the roster as the table reads them."""
        if self._compiled is None:
            rows = [(npi, p.practice_id, p.primary_care) for npi, p in sorted(self.providers.items())]
            roster = pl.DataFrame(rows, schema=PROVIDER_SCHEMA, orient="row")
            self._compiled = PrimaryCare(self.rules, roster, self.primary_care_service)
        return self._compiled

    def table(self, month: str, members: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
        """Every member of `members` (`MEMBER_SCHEMA`) attributed for `month` from their net claim lines
        (`LINE_SCHEMA`): the attribution table, one row per member (`TABLE_SCHEMA`)."""
        return attribution_table(month, members, lines, self.compiled)

    def attribute(self, month: str, member: AttributionMember, visits: Iterable[Visit]) -> Attribution:
        """Where the member's `month` (`YYYY-MM`) is attributed, by which rule, with the tallies behind it.
        `visits` may span any dates: only those in the lookback ending with the month count."""
        product = member.product.value if member.product is not None else None
        one = pl.DataFrame([(_ONE, product, member.pcp_npi)], schema=MEMBER_SCHEMA, orient="row")
        return attribution_of(self.table(month, one, visit_lines(visits)).row(0, named=True))

    def workings(self, month: str, lines: pl.DataFrame) -> AttributionWorkings:
        """What claims-based attribution sees in one member's net lines (`LINE_SCHEMA`): the lookback, each
        primary-care visit, the practices' tallies ranked, the winning practice's providers ranked, and how
        many lines in the lookback did not count, by the first test they failed."""
        first, last = self.compiled.lookback(month)
        judged = judged_lines(lines, month, self.compiled)
        visits = primary_care_visits(judged.filter(pl.col("not_counted").is_null()))
        practices = ranked_tallies(visits, "practice_id")
        winner = practices.filter(pl.col("rank") == 0).select("member_id", "practice_id")
        at_winner = visits.join(winner, on=["member_id", "practice_id"], how="semi")
        skipped = judged.filter(pl.col("not_counted").is_not_null()).get_column("not_counted").value_counts()
        return AttributionWorkings(
            month=month,
            lookback_first=first,
            lookback_last=last,
            lines_in_lookback=judged.height,
            not_counted={str(reason): int(n) for reason, n in skipped.iter_rows()},
            visits=tuple(
                CountedVisit.model_validate(v) for v in visits.drop("member_id").iter_rows(named=True)
            ),
            practices=tuple(_tally(r, "practice_id") for r in practices.iter_rows(named=True)),
            providers=tuple(
                _tally(r, "provider_npi")
                for r in ranked_tallies(at_winner, "provider_npi").iter_rows(named=True)
            ),
        )
