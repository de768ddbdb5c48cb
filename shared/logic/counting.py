"""Counting rules of the menus, as pure functions: immunization series, statin adherence (PDC), refill
windows, well-child visit windows and result tiers (CBP, GSD)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from shared.models.evidence import Evidence
from shared.programs.menu import ActionDefinition, DoseRule, ResultBand, ResultScale, Window, add_months

ADHERENCE_THRESHOLD = Decimal("0.8")


def window_bounds(birth: date, window: Window) -> tuple[date, date]:
    """First and last day (inclusive) of an age window for a child born on `birth`."""
    start = add_months(birth, window.from_months) + timedelta(days=window.from_days)
    return start, add_months(birth, window.through_months)


def season_bounds(day: date, start_month: int) -> tuple[date, date]:
    """The flu season containing `day`: from the 1st of `start_month` to the day before a year later."""
    year = day.year if day.month >= start_month else day.year - 1
    first = date(year, start_month, 1)
    return first, date(year + 1, start_month, 1) - timedelta(days=1)


def dose_window(rule: DoseRule, birth: date, day: date) -> tuple[date, date]:
    """The window a dose on `day` counts in: the age window, or the season of `day`."""
    if rule.window is not None:
        return window_bounds(birth, rule.window)
    assert rule.season_start_month is not None
    return season_bounds(day, rule.season_start_month)


def valid_doses(doses: Iterable[Evidence], first: date, last: date) -> list[Evidence]:
    """Doses inside [first, last], one per day (two records of one day are one dose), by date."""
    by_day: dict[date, Evidence] = {}
    for dose in sorted(doses, key=lambda d: (d.action_date, d.evidence_id)):
        if first <= dose.action_date <= last:
            by_day.setdefault(dose.action_date, dose)
    return [by_day[d] for d in sorted(by_day)]


def series_complete(doses: Sequence[Evidence], action: ActionDefinition) -> bool:
    """True when the dated doses complete the series: `doses` of them, or the short series."""
    rule = action.doses
    if rule is None or not doses:
        return False
    if len(doses) >= rule.doses:
        return True
    short = rule.short_series
    if short is None or len(doses) < short.doses:
        return False
    if short.code_set is not None:
        code_set = action.evidence_set(short.code_set)
        if code_set is None or not all(d.concept and code_set.matches(d.concept) for d in doses):
            return False
    return (doses[-1].action_date - doses[0].action_date).days >= short.min_span_days


def proportion_of_days_covered(fills: Iterable[tuple[date, int]], start: date, end: date) -> Decimal:
    """PDC over [start, end]: days covered by supply / days in the period.

    An early refill's supply starts when the previous one runs out (days are shifted, not double
    counted), as the HEDIS statin adherence rules do; supply past `end` is cut off.
    """
    days = (end - start).days + 1
    if days <= 0:
        return Decimal(0)
    covered: set[date] = set()
    cursor = start
    for fill_day, supply in sorted(fills):
        begin = max(fill_day, cursor)
        for offset in range(supply):
            day = begin + timedelta(days=offset)
            if day > end:
                break
            if day >= start:
                covered.add(day)
        cursor = max(cursor, begin + timedelta(days=supply))
    return Decimal(len(covered)) / Decimal(days)


def refill_key(day: date, quarterly: bool) -> str:
    """The window a refill counts in: `YYYY-MM` (30-day, once monthly) or `YYYY-Qn` (90-day)."""
    if quarterly:
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year:04d}-{day.month:02d}"


def refill_window_start(key: str) -> date:
    """First day of a refill window key."""
    year = int(key[:4])
    first_month = (int(key[6]) - 1) * 3 + 1 if key[5] == "Q" else int(key[5:7])
    return date(year, first_month, 1)


def refill_window_end(key: str) -> date:
    """Last day of a refill window key."""
    year = int(key[:4])
    last_month = int(key[6]) * 3 if key[5] == "Q" else int(key[5:7])
    following = date(year + last_month // 12, last_month % 12 + 1, 1)
    return following - timedelta(days=1)


@dataclass(frozen=True)
class Reading:
    """One date of service's result: its rank on the scale (0 best) and tier name."""

    day: date
    rank: int
    tier: str


def _component_rank(scale: ResultScale, evidence: Iterable[Evidence]) -> dict[str, int]:
    ranks: dict[str, int] = {}
    for component in scale.components:
        best: int | None = None
        for item in evidence:
            rank = _rank_of(component.bands, component.loinc, item)
            if rank is not None and (best is None or rank < best):
                best = rank  # several readings on one day: the best one counts (HEDIS: lowest BP)
        if best is not None:
            ranks[component.name] = best
    return ranks


def _rank_of(bands: Sequence[ResultBand], loinc: frozenset[str], item: Evidence) -> int | None:
    concept = (item.concept or "").upper()
    for band in bands:
        if concept in band.codes:
            return band.rank
    if concept not in loinc or item.result_value is None:
        return None
    try:
        value = Decimal(item.result_value)
    except InvalidOperation:
        return None
    for band in bands:
        if band.max_value is None:
            return band.rank
        if value < band.max_value or (band.max_inclusive and value == band.max_value):
            return band.rank
    return None


def reading(scale: ResultScale, day: date, evidence: Iterable[Evidence]) -> Reading | None:
    """The tier of one date of service, when every component of the scale was reported that day."""
    items = list(evidence)
    ranks = _component_rank(scale, items)
    if len(ranks) != len(scale.components):
        return None
    rank = min(max(ranks.values()), len(scale.tiers) - 1)
    return Reading(day=day, rank=rank, tier=scale.tiers[rank])


def improved(previous: Reading | None, current: Reading) -> bool:
    """Change in health status: this reading is in a better tier than the one before it."""
    return previous is not None and current.rank < previous.rank
