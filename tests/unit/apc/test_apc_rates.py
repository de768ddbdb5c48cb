"""A practice's APC rates from its members' parts: percent for quality, risk-adjusted per 1,000 member-years
for AHU and EDU and dollars PMPM for TCOC, exact until rounded half up to four places; and the rates as the
Element 3 calculator reads them. Every expectation is derived by hand in its comment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.logic.apc_incentive import apc_incentive
from shared.logic.apc_rates import (
    PracticeRate,
    PracticeSums,
    ProportionCount,
    RateUnit,
    incentive_measures,
    measure_rates,
    practice_rates,
    round_rate,
)
from shared.logic.measures.apc import WHOLE, ApcMemberYear, Contribution
from shared.logic.measures.outcome import Populations
from shared.models.apc import IncentiveInput
from shared.models.members import PracticeType
from tests.unit.measures.builders import APC, RATED, member, results, service

RATED_ONLY = Populations(True, True, False, False)
MET = Populations(True, True, False, True)
EXCLUDED = Populations(True, True, True, False)
OUTSIDE = Populations(False, False, False, False)
WOMAN_40 = Contribution(member_months=12, factor_months=Decimal("12.4296"), events=1, cost_cents=753_400)
"""12 months x 1.0358 (female, 40-45), one discharge, $7,534.00."""
MAN_40 = Contribution(member_months=12, factor_months=Decimal("10.5324"), events=0, cost_cents=12_000)
"""12 months x 0.8777 (male, 40-45), no discharge, $120.00."""


def sums(*members: ApcMemberYear) -> PracticeSums:
    found = PracticeSums()
    for m in members:
        found.add(m)
    return found


def quality(code: str, *populations: Populations, part: str = WHOLE) -> list[ApcMemberYear]:
    return [ApcMemberYear(parts={code: {part: p}}) for p in populations]


def test_round_rate_rounds_half_up_at_the_fourth_place() -> None:
    # GIVEN values at and near a half of the fourth place
    # THEN 0.00005 rounds up, 0.0000333… down, a negative half away from zero
    assert round_rate(Fraction(1, 20_000)) == Decimal("0.0001")
    assert round_rate(Fraction(1, 30_000)) == Decimal("0.0000")
    assert round_rate(Fraction(-1, 20_000)) == Decimal("-0.0001")
    assert round_rate(Fraction(2, 3)) == Decimal("0.6667")


def test_a_quality_rate_is_its_numerator_over_the_rated_members_in_percent() -> None:
    # GIVEN BCS-E for three members rated (two met) and one excluded and one outside the population
    members = quality("BCS-E", MET, MET, RATED_ONLY, EXCLUDED, OUTSIDE)
    # WHEN the practice's rates are computed
    rate = practice_rates(sums(*members), RATED)["BCS-E"]
    # THEN the denominator is 3 and the rate 2 / 3 = 66.6667%
    assert (rate.unit, rate.denominator, rate.numerator, rate.rate) == (
        RateUnit.PERCENT,
        3,
        2,
        Decimal("66.6667"),
    )


def test_a_rate_nobody_counts_in_has_no_result() -> None:
    # GIVEN a practice whose members are outside CBP's population and AHU's (no member months)
    found = practice_rates(
        sums(*quality("CBP", OUTSIDE), ApcMemberYear(contributions={"AHU": Contribution()})), RATED
    )
    # THEN both have a zero denominator and no rate, and the calculator gets neither
    assert (found["CBP"].denominator, found["CBP"].rate) == (0, None)
    assert (found["AHU"].denominator, found["AHU"].rate) == (0, None)
    assert incentive_measures(found, ["CBP", "AHU"]) == {}


def test_ahu_is_discharges_per_1000_member_years_divided_by_the_mean_factor() -> None:
    # GIVEN a woman (1 discharge) and a man (none) of 40, twelve months each
    members = [ApcMemberYear(contributions={"AHU": c, "EDU": c, "TCOC": c}) for c in (WOMAN_40, MAN_40)]
    rates = practice_rates(sums(*members), RATED)
    ahu, edu, tcoc = rates["AHU"], rates["EDU"], rates["TCOC"]
    # THEN member months 24, factor months 12.4296 + 10.5324 = 22.962, mean factor 22.962 / 24 = 0.95675
    # → 0.9568 (half up); observed 1 x 12,000 / 24 = 500; adjusted 12,000 / 22.962 = 522.60256… → 522.6026
    assert (ahu.unit, ahu.denominator, ahu.numerator) == (RateUnit.PER_1000_MEMBER_YEARS, 24, 1)
    assert (ahu.observed, ahu.mean_factor, ahu.rate) == (
        Decimal("500.0000"),
        Decimal("0.9568"),
        Decimal("522.6026"),
    )
    # AND EDU reads the same events the same way
    assert edu.rate == ahu.rate
    # AND TCOC: $7,654.00 / 24 = 318.91666… → 318.9167 PMPM observed; / mean factor = 7,654 / 22.962 =
    # 333.3333… (22.962 x 1,000 / 3 = 7,654)
    assert (tcoc.unit, tcoc.denominator, tcoc.numerator) == (RateUnit.DOLLARS_PMPM, 24, 765_400)
    assert (tcoc.observed, tcoc.rate) == (Decimal("318.9167"), Decimal("333.3333"))


def test_dsf_e_is_rated_per_part_and_reaches_the_calculator_with_its_baselines() -> None:
    # GIVEN DSF-E with 40 members rated for screening (30 screened) and 4 positives followed up 3 times
    screening = [*quality("DSF-E", *[MET] * 30, *[RATED_ONLY] * 10, part="screening")]
    follow_up = [*quality("DSF-E", *[MET] * 3, RATED_ONLY, part="follow_up")]
    rate = practice_rates(sums(*screening, *follow_up), RATED)["DSF-E"]
    baseline = PracticeRate(
        "DSF-E",
        RateUnit.PERCENT,
        35,
        0,
        None,
        parts={
            "screening": PracticeRate("DSF-E screening", RateUnit.PERCENT, 35, 7, Decimal("20.0000")),
            "follow_up": PracticeRate("DSF-E follow_up", RateUnit.PERCENT, 5, 4, Decimal("80.0000")),
        },
    )
    # WHEN it is made the calculator's input
    converted = measure_rates(rate, baseline)
    # THEN screening is 30 / 40 = 75%, follow-up 3 / 4 = 75%, the measure's denominator the screening's 40
    assert converted is not None
    assert converted.denominator == 40 and converted.rate is None
    assert converted.screening is not None and converted.follow_up is not None
    assert (converted.screening.rate, converted.screening.baseline) == (
        Decimal("75.0000"),
        Decimal("20.0000"),
    )
    assert (converted.follow_up.rate, converted.follow_up.baseline) == (
        Decimal("75.0000"),
        Decimal("80.0000"),
    )


def test_dsf_e_without_a_positive_screening_has_no_follow_up_and_so_no_result() -> None:
    # GIVEN 25 members screened, none positive
    rate = practice_rates(sums(*quality("DSF-E", *[MET] * 25, part="screening")), RATED)["DSF-E"]
    # THEN the follow-up part has no denominator and the measure no result for the calculator
    assert rate.parts["follow_up"].rate is None and rate.denominator == 25
    assert measure_rates(rate) is None


def test_the_sums_of_members_in_one_practice_do_not_depend_on_how_they_are_sharded() -> None:
    # GIVEN five member-years, counted in one shard or in two merged
    members = [*quality("GSD", MET, RATED_ONLY, EXCLUDED), ApcMemberYear(contributions={"TCOC": WOMAN_40})]
    members.append(ApcMemberYear(contributions={"TCOC": MAN_40}))
    whole, split = sums(*members), sums(*members[:2]).merge(sums(*members[2:]))
    # THEN the sums are the same: GSD 1 met of 2 rated; TCOC 24 months, 765,400 cents
    assert whole == split
    assert whole.proportions["GSD"][WHOLE] == ProportionCount(2, 1)
    assert whole.contributions["TCOC"] == WOMAN_40 + MAN_40


contributions = st.builds(
    Contribution,
    member_months=st.integers(1, 12),
    factor_months=st.decimals(min_value=Decimal("0.5"), max_value=Decimal("20"), places=4),
    events=st.integers(0, 5),
    cost_cents=st.integers(0, 10**7),
)


@settings(deadline=None, max_examples=60)
@given(st.lists(contributions, min_size=1, max_size=8), st.integers(0, 8))
def test_the_adjusted_rate_is_the_sums_ratio_whatever_the_split(
    members: list[Contribution], cut: int
) -> None:
    # GIVEN members' AHU contributions, split anywhere into two shards
    parts = [ApcMemberYear(contributions={"AHU": m, "TCOC": m}) for m in members]
    merged = sums(*parts[:cut]).merge(sums(*parts[cut:]))
    rates = practice_rates(merged, RATED)
    events = sum(m.events for m in members)
    factors = sum((Fraction(m.factor_months) for m in members), Fraction(0))
    cents = sum(m.cost_cents for m in members)
    # THEN AHU is events x 12,000 / Σ factor months and TCOC cents / 100 / Σ factor months, half up
    assert rates["AHU"].rate == round_rate(events * Fraction(12_000) / factors)
    assert rates["TCOC"].rate == round_rate(Fraction(cents, 100) / factors)
    assert rates["AHU"].denominator == sum(m.member_months for m in members)


@settings(deadline=None, max_examples=40)
@given(st.lists(st.tuples(st.integers(1, 12), st.integers(0, 4)), min_size=1, max_size=6))
def test_with_every_factor_1_the_adjusted_rate_is_the_observed(members: list[tuple[int, int]]) -> None:
    # GIVEN members whose every month has a factor of 1
    parts = [
        ApcMemberYear(contributions={"EDU": Contribution(months, Decimal(months), events)})
        for months, events in members
    ]
    rate = practice_rates(sums(*parts), RATED)["EDU"]
    # THEN the mean factor is 1 and risk adjustment changes nothing
    assert rate.mean_factor == Decimal("1.0000") and rate.rate == rate.observed


def test_a_practice_of_real_member_years_reaches_the_incentive_calculator() -> None:
    # GIVEN 1,800 member months of 40-year-old women (150 x 12; each month 1.0358, so 1,864.44 factor
    # months), one with a stay discharged in March (DRG 190 at $7,400.00) and a mammogram-free year
    woman = member(birth=date(1986, 1, 1))
    admitted = member(
        service(
            None,
            date(2026, 3, 2),
            claim_type="institutional",
            bill_type_code="0111",
            revenue_center_code="0120",
            admission_date=date(2026, 3, 2),
            discharge_date=date(2026, 3, 5),
            ms_drg_code="190",
        ),
        birth=date(1986, 1, 1),
    )
    practice = sums(*[results(woman)] * 149, results(admitted))
    rates = practice_rates(practice, RATED)
    # THEN AHU is 1 x 12,000 / 1,864.44 = 6.43624… → 6.4362 and TCOC 7,400 / 1,864.44 = 3.96902… → 3.9690
    assert (rates["AHU"].denominator, rates["AHU"].rate) == (1800, Decimal("6.4362"))
    assert rates["TCOC"].rate == Decimal("3.9690")
    # AND the adult practice's input holds the valid rates: AHU, EDU, TCOC at 1,800 member months, and the
    # quality measures the women are in (BCS-E: CMS125's 52-74 leaves 40-year-olds out)
    codes = [m.code for m in APC.incentive.applicable(PracticeType.ADULT)]
    measures = incentive_measures(rates, codes)
    assert {"AHU", "EDU", "TCOC"} <= set(measures) and "BCS-E" not in measures
    result = apc_incentive(
        IncentiveInput(
            practice_type=PracticeType.ADULT, max_pmpm=Decimal("6.00"), member_months=1800, measures=measures
        ),
        APC.incentive,
    )
    # AND AHU (6.4362, at most gold 18) and TCOC (3.969, at most 283) score gold: attainment
    assert result.measures["AHU"].category.value == "attainment"
    assert result.measures["TCOC"].category.value == "attainment"
