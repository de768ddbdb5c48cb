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
once and attributes every member with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from shared.logic.dates import month_end
from shared.logic.phm import first_day
from shared.models.apc import (
    Attribution,
    AttributionMember,
    AttributionRule,
    PracticeTally,
    ProviderRecord,
    Visit,
)
from shared.programs.apc import AttributionRules


def lookback_start(month: str, months: int) -> date:
    """The first day of the lookback of `months` months ending with `month` (24 → 23 months earlier)."""
    start = first_day(month)
    index = start.year * 12 + start.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


@dataclass
class _Tally:
    visits: int = 0
    last_visit: date = date.min
    allowed: Decimal = Decimal(0)

    def add(self, day: date, allowed: Decimal) -> None:
        self.visits += 1
        self.last_visit = max(self.last_visit, day)
        self.allowed += allowed

    def rank(self, key: str) -> tuple[int, int, Decimal, str]:
        # Sorted ascending: most visits, latest visit, most dollars first; the lower key breaks a full tie.
        return (-self.visits, -self.last_visit.toordinal(), -self.allowed, key)

    def record(self, key: str) -> PracticeTally:
        return PracticeTally(
            key=key, visits=self.visits, last_visit=self.last_visit, allowed_amount=self.allowed
        )


@dataclass
class _Visit:
    practice_id: str
    allowed: Decimal = Decimal(0)


@dataclass
class Attributor:
    """The attribution rules and the participating practices' providers for a month (NPI → practice):
    build once, attribute many member-months."""

    rules: AttributionRules
    providers: Mapping[str, ProviderRecord]
    _services: dict[str, bool] = field(default_factory=dict, init=False, repr=False)

    def is_primary_care_visit(self, visit: Visit) -> bool:
        """Rendering provider a primary-care provider of a participating practice, service code in the
        primary-care set, place of service in the primary-care set."""
        provider = self.providers.get(visit.rendering_npi or "")
        if provider is None or not provider.primary_care:
            return False
        if visit.place_of_service_code not in self.rules.primary_care_places_of_service:
            return False
        code = visit.hcpcs_code
        known = self._services.get(code)
        if known is None:
            known = self._services[code] = code in self.rules.primary_care_services
        return known

    def attribute(self, month: str, member: AttributionMember, visits: Iterable[Visit]) -> Attribution:
        """Where the member's `month` (`YYYY-MM`) is attributed, by which rule, with the tallies behind it.
        `visits` may span any dates: only those in the lookback ending with the month count."""
        pcp = self.providers.get(member.pcp_npi or "")
        if pcp is not None and member.product in self.rules.selected_pcp_products:
            return Attribution(
                month=month,
                practice_id=pcp.practice_id,
                provider_npi=member.pcp_npi,
                rule=AttributionRule.SELECTED_PCP,
                visits_counted=0,
                last_visit=None,
                allowed_amount=Decimal(0),
            )
        first, last = lookback_start(month, self.rules.lookback_months), month_end(month)
        days: dict[tuple[date, str], _Visit] = {}
        for visit in visits:
            if first <= visit.date <= last and self.is_primary_care_visit(visit):
                npi = visit.rendering_npi or ""
                seen = days.setdefault((visit.date, npi), _Visit(self.providers[npi].practice_id))
                seen.allowed += visit.allowed_amount or Decimal(0)
        if not days:
            return Attribution(
                month=month,
                practice_id=None,
                provider_npi=None,
                rule=AttributionRule.UNATTRIBUTED,
                visits_counted=0,
                last_visit=None,
                allowed_amount=Decimal(0),
            )
        practices: dict[str, _Tally] = {}
        for (day, _), seen in days.items():
            practices.setdefault(seen.practice_id, _Tally()).add(day, seen.allowed)
        ranked = sorted(practices, key=lambda p: practices[p].rank(p))
        winner = practices[ranked[0]]
        providers: dict[str, _Tally] = {}
        for (day, npi), seen in days.items():
            if seen.practice_id == ranked[0]:
                providers.setdefault(npi, _Tally()).add(day, seen.allowed)
        provider = min(providers, key=lambda n: providers[n].rank(n))
        return Attribution(
            month=month,
            practice_id=ranked[0],
            provider_npi=provider,
            rule=AttributionRule.CLAIMS,
            visits_counted=winner.visits,
            last_visit=winner.last_visit,
            allowed_amount=winner.allowed,
            runner_up=practices[ranked[1]].record(ranked[1]) if len(ranked) > 1 else None,
        )
