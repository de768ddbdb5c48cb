"""APC Element 3: the doc's boundary cases row by row, refusals of rates the tables cannot score, and
properties of the money (measures add up to the total, never past the maximum) and of the scoring."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.logic.apc_incentive import IncentiveInputError, allocate, apc_incentive
from shared.logic.benchmark import format_composite, half_up
from shared.logic.money import format_cents
from shared.models.apc import Category, IncentiveInput, IncentiveResult
from shared.models.members import PracticeType
from shared.programs.apc import load_apc
from tests.unit.apc.cases import INCENTIVE_CASES, IncentiveCase, dsf, r, u

RULES = load_apc().latest().incentive


def _scored(result: IncentiveResult) -> dict[str, tuple[str, str, str]]:
    found: dict[str, tuple[str, str, str]] = {}
    for code, outcome in result.measures.items():
        found[code] = (
            outcome.category.value,
            format_composite(outcome.share),
            format_cents(outcome.amount_cents),
        )
        for name, part in outcome.components.items():
            found[f"{code}.{name}"] = (
                part.category.value,
                format_composite(part.share),
                format_cents(part.amount_cents),
            )
    return found


@pytest.mark.parametrize("case", INCENTIVE_CASES, ids=[c.name for c in INCENTIVE_CASES])
def test_every_row_of_the_doc_table(case: IncentiveCase) -> None:
    # GIVEN one row of docs/apc-incentive.md, its expectations derived by hand from tables 4 and 5
    # WHEN the practice's incentive is calculated
    result = apc_incentive(case.practice(), RULES)
    # THEN the row's measures score as expected, every other measure earns nothing, and the totals agree
    scored = _scored(result)
    assert {key: scored[key] for key in case.expected} == case.expected
    assert {code: scored[code] for code in case.others()} == case.others()
    assert (result.valid_measures, result.applicable_measures) == (case.valid, case.applicable)
    assert format_composite(result.scale) == case.scale
    assert format_cents(result.total_cents) == case.total


def _practice(practice_type: str, measures: dict[str, Any]) -> IncentiveInput:
    return IncentiveInput.model_validate(
        {"practice_type": practice_type, "max_pmpm": "6.00", "member_months": 1200, "measures": measures}
    )


@pytest.mark.parametrize(
    ("practice_type", "measures", "message"),
    [
        (
            "mixed",
            {"AMR2": r("90")},
            "measures.AMR2: not an incentive measure; the measures are AMR, BCS-E, CIS",
        ),
        ("mixed", {"WCV": r("90")}, "measures.WCV: a tracking measure, never paid"),
        (
            "adult",
            {"CIS": r("70")},
            "measures.CIS: does not apply to an adult practice "
            "(its measures are AMR, BCS-E, COL-E, CBP, DSF-E, GSD, AHU, EDU, TCOC)",
        ),
        ("pediatric", {"BCS-E": r("70")}, "measures.BCS-E: does not apply to a pediatric practice"),
        (
            "mixed",
            {"DSF-E": r("5")},
            "measures.DSF-E: unknown key 'rate' (DSF-E is scored by its components)",
        ),
        (
            "mixed",
            {"DSF-E": {"denominator": 30, "screening": {"rate": "5"}}},
            "measures.DSF-E: missing key 'follow_up'",
        ),
        ("mixed", {"AMR": {"denominator": 30}}, "measures.AMR: missing key 'rate'"),
        ("mixed", {"AMR": r("90") | {"screening": {"rate": "1"}}}, "measures.AMR: unknown key 'screening'"),
        ("mixed", {"AMR": r("100.01")}, "measures.AMR.rate: must be at most 100, a percent (got 100.01)"),
        ("mixed", {"DSF-E": dsf(follow_up="101")}, "measures.DSF-E.follow_up.rate: must be at most 100"),
        ("mixed", {"CBP": r("70", baseline="120")}, "measures.CBP.baseline: must be at most 100"),
    ],
)
def test_rates_the_tables_cannot_score_are_refused_by_key(
    practice_type: str, measures: dict[str, Any], message: str
) -> None:
    # GIVEN rates naming a measure the practice is not paid for, or in the wrong shape
    practice = _practice(practice_type, measures)
    # WHEN the incentive is calculated
    with pytest.raises(IncentiveInputError) as error:
        apc_incentive(practice, RULES)
    # THEN the error names the key and what is wrong
    assert message in str(error.value)


def test_utilization_and_cost_rates_are_not_percents() -> None:
    # GIVEN an EDU rate of 149 per 1,000 member-years and a TCOC of $432 PMPM (both their MPT)
    practice = _practice("mixed", {"EDU": u("149", "200"), "TCOC": u("432", "500")})
    # WHEN the incentive is calculated
    result = apc_incentive(practice, RULES)
    # THEN both are scored (improvement: 51 ≥ 10% of 90 and 68 ≥ 10% of 217), not refused as over 100
    assert result.measures["EDU"].category is Category.IMPROVEMENT
    assert result.measures["TCOC"].share > 0


def test_every_problem_is_listed_at_once() -> None:
    # GIVEN two bad measures
    practice = _practice("adult", {"IMA": r("40"), "GSD": r("101")})
    # WHEN the incentive is calculated
    with pytest.raises(IncentiveInputError) as error:
        apc_incentive(practice, RULES)
    # THEN both are named on one line
    assert str(error.value).count("; ") >= 1
    assert "measures.IMA" in str(error.value) and "measures.GSD.rate" in str(error.value)


def test_a_practice_with_no_valid_measure_is_paid_nothing() -> None:
    # GIVEN a practice whose only result is short of its minimum
    practice = _practice("mixed", {"AMR": r("95", denominator=5)})
    # WHEN the incentive is calculated
    result = apc_incentive(practice, RULES)
    # THEN scale is 0, every measure is invalid and the total 0
    assert (result.scale, result.total_cents, result.valid_measures) == (0, 0, 0)
    assert {o.category for o in result.measures.values()} == {Category.INVALID}


def test_a_measure_says_why_it_earned_nothing() -> None:
    # GIVEN AMR in the improvement range, short of 10% of its gap, and CBP with too small a denominator
    practice = _practice("mixed", {"AMR": r("81.09", "80"), "CBP": r("70", denominator=19)})
    # WHEN the incentive is calculated
    result = apc_incentive(practice, RULES)
    # THEN the reasons give the rate, the baseline and the minimum
    assert result.measures["AMR"].reason == "81.09 did not close 10% of the gap from the baseline 80 to gold"
    assert result.measures["CBP"].reason == "a denominator of 19, below the minimum of 20"
    assert result.measures["AHU"].reason == "no result"


# --- properties ---------------------------------------------------------------------------------------

_HIGH = {"AHU": 60, "EDU": 300, "TCOC": 800}


def _rate(code: str) -> st.SearchStrategy[str]:
    return st.integers(0, _HIGH.get(code, 100) * 100).map(lambda n: str(Decimal(n) / 100))


def _measure(code: str) -> st.SearchStrategy[dict[str, Any] | None]:
    minimum = 1800 if code in _HIGH else 20
    denominator = st.integers(0, minimum * 2)
    baseline = st.none() | _rate(code)

    def rates(rate: str, base: str | None) -> dict[str, Any]:
        return {"rate": rate} | ({} if base is None else {"baseline": base})

    if code == "DSF-E":
        part = st.builds(rates, _rate(code), baseline)
        shape = st.builds(
            lambda d, s, f: {"denominator": d, "screening": s, "follow_up": f}, denominator, part, part
        )
    else:
        shape = st.builds(
            lambda d, rt: {"denominator": d} | rt, denominator, st.builds(rates, _rate(code), baseline)
        )
    return st.none() | shape


@st.composite
def practices(draw: st.DrawFn) -> IncentiveInput:
    practice_type = draw(st.sampled_from(list(PracticeType)))
    measures = {}
    for measure in RULES.applicable(practice_type):
        rates = draw(_measure(measure.code))
        if rates is not None:
            measures[measure.code] = rates
    return IncentiveInput.model_validate(
        {
            "practice_type": practice_type.value,
            "max_pmpm": str(Decimal(draw(st.integers(0, 5000))) / 100),
            "member_months": draw(st.integers(0, 100_000)),
            "measures": measures,
        }
    )


@settings(max_examples=150, deadline=None)
@given(practices())
def test_measures_add_up_to_the_total_and_never_pass_the_maximum(practice: IncentiveInput) -> None:
    # GIVEN any practice's rates
    # WHEN its incentive is calculated
    result = apc_incentive(practice, RULES)
    # THEN the measures' cents are the total, which is the exact shares' sum half up and within the maximum
    cents = [o.amount_cents for o in result.measures.values()]
    exact = sum((o.share for o in result.measures.values()), Fraction(0)) * result.maximum_cents
    assert sum(cents) == result.total_cents == half_up(exact)
    assert result.total_cents <= min(result.maximum_cents, half_up(result.maximum_cents * result.target))
    assert all(c <= result.maximum_cents for c in cents)
    # AND each measure is its exact amount rounded down or up, its components adding up to it
    for outcome in result.measures.values():
        assert abs(outcome.amount_cents - outcome.share * result.maximum_cents) < 1
        if outcome.components:
            assert sum(c.amount_cents for c in outcome.components.values()) == outcome.amount_cents
            assert sum(c.share for c in outcome.components.values()) == outcome.share


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([m for m in RULES.measures if m.levels is not None]), st.data())
def test_a_better_rate_never_earns_a_smaller_share(measure: Any, data: st.DataObject) -> None:
    # GIVEN one measure, a baseline, and two rates of which one is at least as good as the other
    first, second = data.draw(_rate(measure.code)), data.draw(_rate(measure.code))
    worse, better = sorted((Decimal(first), Decimal(second)), reverse=measure.inverse)
    baseline = data.draw(st.none() | _rate(measure.code))
    denominator = 1800 if measure.code in _HIGH else 40

    def share(rate: Decimal) -> Fraction:
        rates = {"rate": str(rate), "denominator": denominator} | (
            {} if baseline is None else {"baseline": baseline}
        )
        return apc_incentive(_practice("mixed", {measure.code: rates}), RULES).measures[measure.code].share

    # WHEN both are scored
    # THEN the better rate's share is at least the worse one's
    assert share(better) >= share(worse)


@given(st.lists(st.fractions(min_value=0, max_value=10**6), max_size=12))
def test_allocate_rounds_each_amount_down_or_up_and_hits_the_total(exact: list[Fraction]) -> None:
    # GIVEN exact amounts in cents and their sum half up
    total = half_up(sum(exact, Fraction(0)))
    # WHEN they are allocated
    cents = allocate(exact, total)
    # THEN they add up to the total and each is its amount rounded down or up
    assert sum(cents) == total
    assert all(abs(c - a) < 1 for c, a in zip(cents, exact, strict=True))


def test_allocate_gives_ties_to_the_earlier_amount() -> None:
    # GIVEN three amounts with the same remainder and two cents left over
    # WHEN they are allocated
    cents = allocate([Fraction(1, 2), Fraction(3, 2), Fraction(5, 2)], 6)
    # THEN the first two get the cents
    assert cents == [1, 2, 3]
