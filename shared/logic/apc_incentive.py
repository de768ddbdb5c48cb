"""APC Element 3, the performance incentive: a practice's rates against tables 4 and 5 of the seed, in
whole cents (issue 12 §2; the rules and their boundary table are in docs/apc-incentive.md).

Arithmetic is exact (`Fraction`) until the money: the total is the exact amounts' sum rounded half up to
the cent; each measure gets its exact amount rounded down, and the cents left over go one each to the
largest remainders (ties in table 3's order), so the measures add up to the total and never pass the
maximum. A measure in parts (DSF-E) splits its cents between its components the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from shared.errors import DomainError
from shared.logic.benchmark import half_up
from shared.models.apc import (
    Category,
    ComponentOutcome,
    ComponentRate,
    IncentiveInput,
    IncentiveResult,
    MeasureOutcome,
    MeasureRates,
)
from shared.models.members import PracticeType
from shared.programs.apc import (
    Component,
    Incentive,
    IncentiveMeasure,
    Levels,
    MeasureKind,
    Shares,
)

_BEST_FIRST = (Category.ATTAINMENT, Category.IMPROVEMENT, Category.INELIGIBLE, Category.INVALID)


class IncentiveInputError(DomainError, ValueError):
    """Rates that the program's measures cannot score; the message names each key and what is wrong."""


def apc_incentive(practice: IncentiveInput, rules: Incentive) -> IncentiveResult:
    """One practice's performance incentive for a measurement year, scored by a program version's
    Element 3 rules (`ApcProgram.incentive`). Every applicable measure is in the result, in table 3's
    order; a measure without a result is `invalid`. `IncentiveInputError` for a code the program does
    not pay the practice type, a measure given the wrong shape, or a quality rate over 100."""
    applicable = rules.applicable(practice.practice_type)
    _check(practice, rules, applicable)
    validity = {m.code: _invalid_reason(m, practice.measures.get(m.code), rules) for m in applicable}
    valid = [m for m in applicable if validity[m.code] is None]
    target = Fraction(1) if 2 * len(valid) >= len(applicable) else _percent(rules.reduced_target_percent)
    gold = sum((_percent(m.shares[practice.practice_type].gold) for m in valid), Fraction(0))
    scale = target / gold if gold else Fraction(0)
    closure = _percent(rules.improvement_gap_closure_percent)

    scored: dict[str, list[tuple[str, Category, Fraction, str]]] = {}
    for m in applicable:
        reason = validity[m.code]
        if reason is not None:
            scored[m.code] = [("", Category.INVALID, Fraction(0), reason)]
            continue
        rates = practice.measures[m.code]
        shares = m.shares[practice.practice_type]
        parts = m.parts()
        weight = scale / len(parts)
        scored[m.code] = [
            (name, *_score(levels, m.inverse, shares, weight, _component(rates, name), closure))
            for name, levels in parts
        ]

    maximum = int(practice.max_pmpm * 100) * practice.member_months
    exact = [sum((share for *_, share, _ in scored[m.code]), Fraction(0)) * maximum for m in applicable]
    total = half_up(sum(exact, Fraction(0)))
    cents = allocate(exact, total)
    measures = {
        m.code: _outcome(m, scored[m.code], measure_cents, maximum)
        for m, measure_cents in zip(applicable, cents, strict=True)
    }
    return IncentiveResult(
        practice_type=practice.practice_type,
        maximum_cents=maximum,
        applicable_measures=len(applicable),
        valid_measures=len(valid),
        target=target,
        scale=scale,
        measures=measures,
        total_cents=total,
    )


def allocate(exact: Sequence[Fraction], total: int) -> list[int]:
    """Whole cents for exact amounts that add up to `total`: each amount rounded down, then one cent each
    to the largest remainders, ties to the earlier amount. `total` must be within the number of amounts
    of the rounded-down sum (it is when it is the sum rounded, or a rounding of it)."""
    floors = [math.floor(a) for a in exact]
    left = total - sum(floors)
    if not 0 <= left <= len(exact):
        raise ValueError(f"{total} cents cannot be split over amounts summing to {sum(exact)}")
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def _score(
    levels: Levels,
    inverse: bool,
    shares: Shares,
    weight: Fraction,
    rates: ComponentRate,
    closure: Fraction,
) -> tuple[Category, Fraction, str]:
    """A rate's category, its share of the maximum (`weight` = scale, halved for a component) and why."""
    rate, baseline = Fraction(rates.rate), rates.baseline
    mpt, threshold, gold = Fraction(levels.mpt), Fraction(levels.threshold), Fraction(levels.gold)

    def reaches(level: Fraction) -> bool:
        return rate <= level if inverse else rate >= level

    shown = _text(rates.rate)
    if reaches(gold):
        return Category.ATTAINMENT, _percent(shares.gold) * weight, f"{shown} reaches the gold standard"
    if reaches(threshold):
        low, high = _percent(shares.threshold), _percent(shares.gold)
        share = low + (high - low) * (rate - threshold) / (gold - threshold)
        return Category.ATTAINMENT, share * weight, f"{shown} reaches the attainment threshold"
    if not reaches(mpt):
        return Category.INELIGIBLE, Fraction(0), f"{shown} does not reach the minimum performance threshold"
    if baseline is None:
        return Category.IMPROVEMENT, Fraction(0), f"{shown} is in the improvement range; no baseline"
    start = Fraction(baseline)
    closed, gap = (start - rate, start - gold) if inverse else (rate - start, gold - start)
    needed = f"{_text(_as_percent(closure))}% of the gap from the baseline {_text(baseline)} to gold"
    if closed >= closure * gap:
        return Category.IMPROVEMENT, _percent(shares.improvement) * weight, f"{shown} closed {needed}"
    return Category.IMPROVEMENT, Fraction(0), f"{shown} did not close {needed}"


def _outcome(
    measure: IncentiveMeasure,
    parts: list[tuple[str, Category, Fraction, str]],
    cents: int,
    maximum: int,
) -> MeasureOutcome:
    share = sum((s for _, _, s, _ in parts), Fraction(0))
    if measure.components is None or parts[0][1] is Category.INVALID:
        _, category, _, reason = parts[0]
        return MeasureOutcome(category=category, share=share, amount_cents=cents, reason=reason)
    split = allocate([s * maximum for _, _, s, _ in parts], cents)
    components = {
        name: ComponentOutcome(category=category, share=s, amount_cents=c, reason=reason)
        for (name, category, s, reason), c in zip(parts, split, strict=True)
    }
    best = min((c.category for c in components.values()), key=_BEST_FIRST.index)
    return MeasureOutcome(
        category=best,
        share=share,
        amount_cents=cents,
        reason="scored per component, each with half of the measure's shares",
        components=components,
    )


def _invalid_reason(measure: IncentiveMeasure, rates: MeasureRates | None, rules: Incentive) -> str | None:
    if rates is None:
        return "no result"
    minimum = rules.validity.minimum(measure)
    if rates.denominator >= minimum:
        return None
    unit = "a denominator of" if measure.kind is MeasureKind.QUALITY else "member months"
    if measure.kind is MeasureKind.QUALITY:
        return f"{unit} {rates.denominator}, below the minimum of {minimum}"
    return f"{rates.denominator} {unit}, below the minimum of {minimum}"


def _check(practice: IncentiveInput, rules: Incentive, applicable: Sequence[IncentiveMeasure]) -> None:
    problems: list[str] = []
    codes = [m.code for m in applicable]
    for code, rates in practice.measures.items():
        where = f"measures.{code}"
        measure = rules.measure(code)
        if measure is None:
            tracking = any(t.code == code for t in rules.tracking_measures)
            what = "a tracking measure, never paid" if tracking else "not an incentive measure"
            problems.append(f"{where}: {what}; the measures are {', '.join(m.code for m in rules.measures)}")
        elif code not in codes:
            problems.append(
                f"{where}: does not apply to {_article(practice.practice_type)} practice "
                f"(its measures are {', '.join(codes)})"
            )
        else:
            problems.extend(_shape_problems(where, measure, rates))
    if problems:
        raise IncentiveInputError("; ".join(problems))


def _shape_problems(where: str, measure: IncentiveMeasure, rates: MeasureRates) -> list[str]:
    given = {c.value: getattr(rates, c.value) for c in Component}
    if measure.components is None:
        found = [
            f"{where}: unknown key '{name}' (only a measure in parts has it)"
            for name, v in given.items()
            if v
        ]
        if rates.rate is None:
            found.append(f"{where}: missing key 'rate'")
        else:
            found.extend(_percent_problems(f"{where}", measure, rates.rate, rates.baseline))
        return found
    found = [
        f"{where}: unknown key '{key}' ({measure.code} is scored by its components)"
        for key in ("rate", "baseline")
        if getattr(rates, key) is not None
    ]
    for component in measure.components:
        part = given[component.value]
        if part is None:
            found.append(f"{where}: missing key '{component.value}'")
        else:
            found.extend(_percent_problems(f"{where}.{component.value}", measure, part.rate, part.baseline))
    return found


def _percent_problems(
    where: str, measure: IncentiveMeasure, rate: Decimal, baseline: Decimal | None
) -> list[str]:
    if measure.kind is not MeasureKind.QUALITY:
        return []
    return [
        f"{where}.{key}: must be at most 100, a percent (got {_text(value)})"
        for key, value in (("rate", rate), ("baseline", baseline))
        if value is not None and value > 100
    ]


def _component(rates: MeasureRates, name: str) -> ComponentRate:
    if not name:
        assert rates.rate is not None
        return ComponentRate(rate=rates.rate, baseline=rates.baseline)
    part = getattr(rates, name)
    assert isinstance(part, ComponentRate)
    return part


def _article(practice_type: PracticeType) -> str:
    return f"an {practice_type.value}" if practice_type.value[0] in "aeiou" else f"a {practice_type.value}"


def _percent(value: Decimal) -> Fraction:
    return Fraction(value) / 100


def _as_percent(value: Fraction) -> Decimal:
    return Decimal(value.numerator * 100) / Decimal(value.denominator)


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value != value.to_integral_value() else str(int(value))
