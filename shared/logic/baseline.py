"""Baselines and proposed benchmarks (program-design step 5, `docs/program-design.md`).

- **Baseline**: each provider's rate per measure in a past year, from the counts the annual run makes
  (Benchmark P4P per clinic and line of business, APC per practice). A panel under the program's minimum
  (Benchmark: the line's minimum members or the minimum denominator; APC: the validity minimum) keeps its
  rate, flagged, with its 95% Wilson score interval, rather than being dropped or zeroed; it is left out of
  the distribution, as the program would not count it.
- **Percentiles** are nearest rank: the value at rank ceil(p/100 x n) of the n counted rates sorted from
  worst to best (ascending; descending for an inverse measure, where lower is better), so every proposed
  level is a rate some provider reached.
- **Proposals**: Benchmark P4P's `benchmark` of each measure at the target percentile; APC's `mpt`,
  `threshold` and `gold` at the three percentiles picked. A measure no provider counted in, or whose
  levels would not be in order (a threshold equal to the gold standard), keeps its current levels, said in
  a note. Every other figure is the base version's.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation, localcontext
from enum import Enum
from fractions import Fraction
from typing import Any

from pydantic import BaseModel

from shared.logic.annual_incentives import LineCounts, rate_percent
from shared.logic.apc_rates import PracticeRate, RateUnit
from shared.models.design import MeasureDistribution, ProviderBaseline
from shared.models.members import Clinic
from shared.programs.apc import ApcProgram, IncentiveMeasure, Levels, MeasureKind
from shared.programs.benchmark import BenchmarkProgram

WILSON_Z = Decimal("1.959963984540054")
"""The two-sided 95% normal quantile."""
INTERVAL = "Wilson score interval, 95% (z = 1.959964), bounds rounded outward to 0.01 percent"
METHOD = "nearest rank over the counted rates, worst to best"
PERCENT = RateUnit.PERCENT.value
_CI_PLACES = Decimal("0.01")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH_OR_QUARTER = re.compile(r"^(\d{4})-(\d{2}|Q[1-4])$")


def wilson_interval(numerator: int, denominator: int) -> tuple[Decimal, Decimal] | None:
    """The 95% Wilson score interval of numerator / denominator, in percent (None without a denominator):
    centre (p + z²/2n) / (1 + z²/n), half-width z / (1 + z²/n) x sqrt(p(1 - p)/n + z²/4n²)."""
    if denominator <= 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 34
        n = Decimal(denominator)
        p = Decimal(numerator) / n
        z2 = WILSON_Z * WILSON_Z
        scale = 1 + z2 / n
        centre = (p + z2 / (2 * n)) / scale
        half = WILSON_Z / scale * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt()
        low, high = max(Decimal(0), centre - half), min(Decimal(1), centre + half)
        return (
            (low * 100).quantize(_CI_PLACES, rounding=ROUND_FLOOR),
            (high * 100).quantize(_CI_PLACES, rounding=ROUND_CEILING),
        )


def nearest_rank(values: Iterable[Decimal], percentile: Decimal, *, inverse: bool = False) -> Decimal | None:
    """The nearest-rank percentile of `values` ordered worst to best (descending when `inverse`); None for
    no values. The 100th percentile is the best value, any percentile of one value is that value."""
    ordered = sorted(values, reverse=inverse)
    if not ordered:
        return None
    rank = max(1, math.ceil(Fraction(percentile) * len(ordered) / 100))
    return ordered[rank - 1]


def parse_percentiles(text: str) -> tuple[Decimal, ...]:
    """`"50,75,90"` as percentiles: each above 0 and at most 100, in increasing order (ValueError)."""
    found = []
    for part in text.split(","):
        try:
            value = Decimal(part.strip())
        except InvalidOperation:
            raise ValueError(f"{part.strip()!r} is not a percentile") from None
        if not value.is_finite() or not 0 < value <= 100:
            raise ValueError(f"a percentile is above 0 and at most 100, not {part.strip()}")
        found.append(value)
    if any(b <= a for a, b in itertools.pairwise(found)):
        raise ValueError("percentiles must increase (e.g. 50,75,90)")
    return tuple(found)


def percentile_key(percentile: Decimal) -> str:
    """How a percentile is named in reports: `75`, `97.5`."""
    text = format(percentile.normalize(), "f")
    return text


def _baseline(
    clinic_id: str,
    line: str,
    measure: str,
    component: str,
    unit: str,
    counts: tuple[int, int, Decimal | None],
    small: Sequence[str],
) -> ProviderBaseline:
    denominator, numerator, rate = counts
    interval = wilson_interval(numerator, denominator) if unit == PERCENT else None
    notes = list(small)
    if rate is None:
        notes.append("no member in the denominator")
    return ProviderBaseline(
        clinic_id=clinic_id,
        line_of_business=line,
        measure=measure,
        component=component,
        unit=unit,
        denominator=denominator,
        numerator=numerator,
        rate=rate,
        ci_low=interval[0] if interval else None,
        ci_high=interval[1] if interval else None,
        small_panel=bool(small),
        counted=rate is not None and not small,
        note="; ".join(notes),
    )


def benchmark_baselines(
    program: BenchmarkProgram,
    clinics: Mapping[str, Clinic],
    lines: Mapping[str, Mapping[str, LineCounts]],
) -> list[ProviderBaseline]:
    """Every clinic line's rate of each measure of its metric set, from the annual run's counts."""
    found = []
    for clinic_id in sorted(lines):
        clinic = clinics.get(clinic_id)
        if clinic is None:
            continue
        for lob, counts in sorted(lines[clinic_id].items()):
            line = program.line(lob)
            if line is None:
                continue
            panel = []
            if counts.assigned_members < line.minimum_members:
                panel.append(
                    f"{counts.assigned_members} members counted, under the {lob} minimum of "
                    f"{line.minimum_members}"
                )
            for metric in program.metric_set(clinic.practice_type, lob):
                denominator, numerator = counts.measures.get(metric.code, (0, 0))
                small = list(panel)
                if 0 < denominator < program.minimum_denominator:
                    small.append(
                        f"denominator {denominator} under the minimum of {program.minimum_denominator}"
                    )
                rate = rate_percent(numerator, denominator)
                found.append(
                    _baseline(clinic_id, lob, metric.code, "", PERCENT, (denominator, numerator, rate), small)
                )
    return found


def apc_baselines(
    program: ApcProgram, practices: Mapping[str, tuple[Clinic, Mapping[str, PracticeRate]]]
) -> list[ProviderBaseline]:
    """Every APC practice's rate of each incentive measure of its practice type (DSF-E per component),
    from the annual run's rates."""
    found = []
    validity = program.incentive.validity
    for clinic_id, (clinic, rates) in sorted(practices.items()):
        for measure in program.incentive.applicable(clinic.practice_type):
            rate = rates.get(measure.code)
            if rate is None:
                continue
            minimum = validity.minimum(measure)
            what = "denominator" if measure.kind is MeasureKind.QUALITY else "member months"
            small = (
                [f"{what} {rate.denominator} under the validity minimum of {minimum}"]
                if 0 < rate.denominator < minimum
                else []
            )
            parts = [(name, rate.parts[name]) for name, _ in measure.parts() if name and name in rate.parts]
            for name, part in parts or [("", rate)]:
                counts = (part.denominator, part.numerator, part.rate)
                found.append(_baseline(clinic_id, "", measure.code, name, part.unit.value, counts, small))
    return found


def distribution(
    baselines: Iterable[ProviderBaseline],
    measure: str,
    component: str,
    *,
    inverse: bool,
    percentiles: Sequence[Decimal],
) -> MeasureDistribution:
    """The counted rates of one measure (component) at each percentile; current and proposed left empty."""
    rows = [b for b in baselines if b.measure == measure and b.component == component]
    counted = [b.rate for b in rows if b.counted and b.rate is not None]
    return MeasureDistribution(
        measure=measure,
        component=component,
        unit=rows[0].unit if rows else PERCENT,
        inverse=inverse,
        providers=len(counted),
        small_panels=sum(1 for b in rows if b.small_panel),
        percentiles={percentile_key(p): nearest_rank(counted, p, inverse=inverse) for p in percentiles},
        current={},
        proposed={},
    )


def propose_benchmark(
    program: BenchmarkProgram,
    baselines: Sequence[ProviderBaseline],
    percentiles: Sequence[Decimal],
    target: Decimal,
) -> tuple[dict[str, Any], list[MeasureDistribution]]:
    """The program's data with each measure's benchmark at the `target` percentile of its distribution."""
    if target not in percentiles:
        raise ValueError(f"the target percentile {target} is not one of {', '.join(map(str, percentiles))}")
    raw = plain(program)
    found = []
    for index, metric in enumerate(program.measures):
        dist = distribution(baselines, metric.code, "", inverse=metric.inverse, percentiles=percentiles)
        value = dist.percentiles[percentile_key(target)]
        current = {"benchmark": metric.benchmark}
        note = ""
        if value is None:
            value, note = metric.benchmark, "no clinic line counted: the benchmark is kept"
        raw["measures"][index]["benchmark"] = str(value)
        found.append(
            dist.model_copy(update={"current": current, "proposed": {"benchmark": value}, "note": note})
        )
    return raw, found


LEVELS = ("mpt", "threshold", "gold")


def propose_apc(
    program: ApcProgram, baselines: Sequence[ProviderBaseline], percentiles: Sequence[Decimal]
) -> tuple[dict[str, Any], list[MeasureDistribution]]:
    """The program's data with each incentive measure's levels (DSF-E's per component) at the three
    percentiles: the improvement range's lower end (`mpt`), the threshold and the gold standard."""
    if len(percentiles) != 3:
        raise ValueError(
            "APC's levels take three percentiles: the improvement range's lower end (mpt), the attainment "
            "threshold and the gold standard, e.g. 50,75,90"
        )
    raw = plain(program)
    found = []
    for index, measure in enumerate(program.incentive.measures):
        for name, levels in measure.parts():
            dist = distribution(
                baselines, measure.code, name, inverse=measure.inverse, percentiles=percentiles
            )
            values = [dist.percentiles[percentile_key(p)] for p in percentiles]
            current = {level: getattr(levels, level) for level in LEVELS}
            proposed, note = _levels(measure, name, values, current)
            target = raw["incentive"]["measures"][index]
            if name:
                target["components"][name] = {k: str(v) for k, v in proposed.items()}
            else:
                target["levels"] = {k: str(v) for k, v in proposed.items()}
            found.append(dist.model_copy(update={"current": current, "proposed": proposed, "note": note}))
    return raw, found


def _levels(
    measure: IncentiveMeasure,
    component: str,
    values: Sequence[Decimal | None],
    current: dict[str, Decimal],
) -> tuple[dict[str, Decimal], str]:
    if any(v is None for v in values):
        return current, "no practice counted: the levels are kept"
    proposed = dict(zip(LEVELS, (v for v in values if v is not None), strict=True))
    try:
        Levels(**proposed).check(measure.inverse, f"{measure.code} {component}".strip())
    except ValueError:
        # Percentiles that meet (few practices, or many at one rate) give no range to score on.
        return current, "the threshold and gold standard would be equal: the levels are kept"
    return proposed, ""


def plain(program: BaseModel) -> dict[str, Any]:
    """A program version as the JSON a file holds, deterministically: sets sorted, decimals as strings."""
    value = _plain(program.model_dump(mode="python"))
    assert isinstance(value, dict)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def redate(raw: Mapping[str, Any], years: int) -> dict[str, Any]:
    """A program version's data moved by whole years: its measurement year and every date, month and
    quarter in it (29 February becomes the 28th in a common year). Nothing else changes."""
    moved = _redate(dict(raw), years)
    if "measurement_year" in moved:
        moved["measurement_year"] = int(moved["measurement_year"]) + years
    assert isinstance(moved, dict)
    return moved


def _redate(value: Any, years: int) -> Any:
    if isinstance(value, dict):
        return {k: _redate(v, years) for k, v in value.items()}
    if isinstance(value, list):
        return [_redate(v, years) for v in value]
    if isinstance(value, str) and years:
        day = _DATE.match(value)
        if day:
            year, month, dom = int(day[1]) + years, int(day[2]), int(day[3])
            if (month, dom) == (2, 29) and not _leap(year):
                dom = 28
            return date(year, month, dom).isoformat()
        period = _MONTH_OR_QUARTER.match(value)
        if period:
            return f"{int(period[1]) + years:04d}-{period[2]}"
    return value


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
