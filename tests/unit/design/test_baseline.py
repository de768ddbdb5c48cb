"""Baselines and proposed benchmarks (`shared/logic/baseline.py`): the Wilson interval, nearest-rank
percentiles, small panels flagged rather than zeroed, proposals the programs' own loaders take, re-dating."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import pytest

from shared.logic.annual_incentives import LineCounts
from shared.logic.apc_rates import PracticeRate, RateUnit
from shared.logic.baseline import (
    apc_baselines,
    benchmark_baselines,
    nearest_rank,
    parse_percentiles,
    plain,
    propose_apc,
    propose_benchmark,
    redate,
    wilson_interval,
)
from shared.models.design import ProviderBaseline
from shared.models.members import Clinic, PracticeType
from shared.programs.apc import load_apc
from shared.programs.benchmark import load_benchmark
from shared.programs.catalog import parse_version
from tests.unit.care_gap.factories import clinic

BENCHMARK = load_benchmark().versions[0]
APC = load_apc().versions[0]
D = Decimal


def _adult(clinic_id: str) -> Clinic:
    return clinic(clinic_id).model_copy(update={"practice_type": PracticeType.ADULT})


def _reference(x: int, n: int) -> tuple[float, float]:
    z, p = 1.959963984540054, x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half) * 100, min(1.0, centre + half) * 100


@pytest.mark.parametrize(("x", "n"), [(0, 10), (5, 10), (10, 10), (3, 4), (1, 1), (57, 100), (999, 1000)])
def test_the_wilson_interval_holds_the_exact_one_rounded_outward(x, n):
    # GIVEN a proportion; WHEN its interval is computed
    low, high = wilson_interval(x, n)
    # THEN its bounds are the score interval's, floored and ceiled to the hundredth of a percent
    ref_low, ref_high = _reference(x, n)
    assert float(low) <= ref_low + 1e-9 < float(low) + 0.01
    assert float(high) - 0.01 < ref_high - 1e-9 <= float(high)


def test_the_wilson_interval_of_known_proportions():
    # GIVEN none of ten, and half of ten: THEN the textbook intervals (27.75% is 0 of 10's upper bound)
    assert wilson_interval(0, 10) == (D("0.00"), D("27.76"))
    assert wilson_interval(5, 10) == (D("23.65"), D("76.35"))
    # AND an empty denominator has none
    assert wilson_interval(0, 0) is None


def test_nearest_rank_percentiles_are_rates_someone_reached():
    # GIVEN ten rates 1..10
    values = [D(v) for v in range(10, 0, -1)]
    # THEN rank ceil(p/100 x n): p50 is the 5th, p75 the 8th, p90 the 9th, p100 the best
    assert [nearest_rank(values, D(p)) for p in (50, 75, 90, 100, 1)] == [D(5), D(8), D(9), D(10), D(1)]
    # AND for an inverse measure the order runs from the worst (highest) rate to the best
    assert [nearest_rank(values, D(p), inverse=True) for p in (50, 90, 100)] == [D(6), D(2), D(1)]
    # AND one rate is every percentile; none gives none
    assert nearest_rank([D(7)], D(90)) == D(7) and nearest_rank([], D(50)) is None


@pytest.mark.parametrize("text", ["50,50", "75,50", "0,50", "50,101", "fifty", "50,,75", "NaN"])
def test_percentiles_must_increase_within_0_and_100(text):
    with pytest.raises(ValueError):
        parse_percentiles(text)


def test_percentiles_parse():
    assert parse_percentiles("50, 75,90") == (D(50), D(75), D(90))
    assert parse_percentiles("97.5") == (D("97.5"),)


def _line(lob: str, members: int, **measures: tuple[int, int]) -> LineCounts:
    return LineCounts("K1", lob, members, {code.replace("_", "-"): v for code, v in measures.items()})


def test_a_small_panel_keeps_its_rate_and_interval_and_is_left_out_of_the_distribution():
    # GIVEN an adult clinic's MC line: BCS-E 6 of 8 (under the minimum denominator of 10), COL-E 30 of 40
    clinics = {"K1": _adult("K1")}
    lines = {"K1": {"MC": _line("MC", 150, BCS_E=(8, 6), COL_E=(40, 30))}}
    # WHEN its baselines are computed
    found = {b.measure: b for b in benchmark_baselines(BENCHMARK, clinics, lines)}
    # THEN BCS-E keeps its 75% with its interval, flagged and not counted; COL-E counts
    bcs = found["BCS-E"]
    assert (bcs.rate, bcs.small_panel, bcs.counted) == (D("75.0000"), True, False)
    assert (bcs.ci_low, bcs.ci_high) == wilson_interval(6, 8)
    assert "under the minimum of 10" in bcs.note
    assert (found["COL-E"].rate, found["COL-E"].counted) == (D("75.0000"), True)
    # AND a measure no member is in has no rate, and does not count either
    assert found["CBP"].rate is None and not found["CBP"].counted and not found["CBP"].small_panel


def test_a_line_under_its_minimum_members_flags_every_measure():
    # GIVEN 40 MC members counted (the line's minimum is 100)
    clinics = {"K1": _adult("K1")}
    lines = {"K1": {"MC": _line("MC", 40, BCS_E=(30, 20))}}
    # THEN its measures are small panels, rates kept
    [bcs] = [b for b in benchmark_baselines(BENCHMARK, clinics, lines) if b.measure == "BCS-E"]
    assert bcs.small_panel and bcs.rate == D("66.6667") and "under the MC minimum of 100" in bcs.note


def _rate(clinic_id: str, measure: str, rate: str, *, unit: str = "percent") -> ProviderBaseline:
    return ProviderBaseline(
        clinic_id=clinic_id,
        line_of_business="MC",
        measure=measure,
        unit=unit,
        denominator=100,
        numerator=0,
        rate=D(rate),
        small_panel=False,
        counted=True,
    )


def test_the_proposed_benchmark_is_the_target_percentile_and_loads_as_benchmark():
    # GIVEN four clinics' BCS-E rates and none of any other measure
    rates = [_rate(f"K{i}", "BCS-E", r) for i, r in enumerate(("40", "50", "60", "70"))]
    # WHEN benchmarks are proposed at the 75th percentile of 50, 75, 90
    raw, measures = propose_benchmark(BENCHMARK, rates, (D(50), D(75), D(90)), D(75))
    # THEN BCS-E's benchmark is the 3rd of 4 rates; the others keep theirs, said in a note
    program = parse_version(raw)
    by_code = {m.code: m for m in program.measures}
    assert by_code["BCS-E"].benchmark == D(60)
    assert by_code["CCS-E"].benchmark == next(m.benchmark for m in BENCHMARK.measures if m.code == "CCS-E")
    dist = {m.measure: m for m in measures}
    assert dist["BCS-E"].percentiles == {"50": D(50), "75": D(60), "90": D(70)}
    assert dist["CCS-E"].note and dist["CCS-E"].providers == 0
    # AND a target that is not one of the percentiles is refused
    with pytest.raises(ValueError):
        propose_benchmark(BENCHMARK, rates, (D(50), D(75)), D(90))


def test_apc_levels_come_from_the_three_percentiles_in_each_measures_direction():
    # GIVEN ten practices' BCS-E (higher is better) and GSD (lower is better) rates
    rates = [_rate(f"K{i}", "BCS-E", str(60 + i)) for i in range(10)]
    rates += [_rate(f"K{i}", "GSD", str(20 + i)) for i in range(10)]
    # WHEN levels are proposed at 50, 75, 90
    raw, measures = propose_apc(APC, rates, (D(50), D(75), D(90)))
    program = parse_version(raw)
    levels = {m.code: m.levels for m in program.incentive.measures}
    # THEN BCS-E runs up: mpt 64, threshold 67, gold 68; GSD runs down from the worst: 25, 22, 21
    assert (levels["BCS-E"].mpt, levels["BCS-E"].threshold, levels["BCS-E"].gold) == (D(64), D(67), D(68))
    assert (levels["GSD"].mpt, levels["GSD"].threshold, levels["GSD"].gold) == (D(25), D(22), D(21))
    # AND a measure without practices keeps its levels
    assert levels["AMR"] == next(m.levels for m in APC.incentive.measures if m.code == "AMR")
    assert next(m for m in measures if m.measure == "AMR").note


def test_apc_levels_that_would_meet_are_kept():
    # GIVEN two practices at one rate: the threshold and the gold standard would be equal
    rates = [_rate("K1", "BCS-E", "70"), _rate("K2", "BCS-E", "70")]
    raw, measures = propose_apc(APC, rates, (D(50), D(75), D(90)))
    # THEN BCS-E keeps its levels, said in a note
    bcs = next(m for m in measures if m.measure == "BCS-E")
    assert bcs.proposed == bcs.current and "equal" in bcs.note
    assert parse_version(raw).incentive.measures[1].levels == APC.incentive.measures[1].levels
    # AND APC takes exactly three percentiles
    with pytest.raises(ValueError):
        propose_apc(APC, rates, (D(50), D(90)))


def test_apc_baselines_per_component_and_without_an_interval_for_rates_per_member_years():
    # GIVEN an adult practice's DSF-E in parts and its EDU in member months, both under validity minimums
    practice = _adult("K2")
    dsf = PracticeRate(
        "DSF-E",
        RateUnit.PERCENT,
        10,
        8,
        None,
        parts={
            "screening": PracticeRate("DSF-E screening", RateUnit.PERCENT, 10, 8, D("80.0000")),
            "follow_up": PracticeRate("DSF-E follow_up", RateUnit.PERCENT, 4, 3, D("75.0000")),
        },
    )
    edu = PracticeRate("EDU", RateUnit.PER_1000_MEMBER_YEARS, 50, 2, D("480.0000"))
    found = apc_baselines(APC, {"K2": (practice, {"DSF-E": dsf, "EDU": edu})})
    by_key = {(b.measure, b.component): b for b in found}
    # THEN each DSF-E component has its rate and interval; EDU has its rate and no interval
    follow = by_key[("DSF-E", "follow_up")]
    assert (follow.rate, (follow.ci_low, follow.ci_high)) == (D("75.0000"), wilson_interval(3, 4))
    assert by_key[("EDU", "")].ci_low is None and by_key[("EDU", "")].unit == "per_1000_member_years"
    assert all(b.small_panel and not b.counted for b in found)


def test_redate_moves_every_date_month_and_quarter_and_nothing_else():
    raw = {
        "version": "x-2026.1",
        "measurement_year": 2024,
        "effective_from": "2024-02-29",
        "quarter": "2024-Q4",
        "months": ["2024-06", "2024-12"],
        "nested": [{"start": "2024-01-01", "code": "99213", "name": "2024-ish"}],
    }
    moved = redate(raw, 1)
    assert moved == {
        "version": "x-2026.1",
        "measurement_year": 2025,
        "effective_from": "2025-02-28",
        "quarter": "2025-Q4",
        "months": ["2025-06", "2025-12"],
        "nested": [{"start": "2025-01-01", "code": "99213", "name": "2024-ish"}],
    }
    assert redate(raw, 0) == raw


def test_a_program_as_plain_data_loads_back_the_same_and_moved_a_year():
    # GIVEN the shipped APC version (sets of codes, decimals, dates): THEN its plain data loads back equal
    assert parse_version(plain(APC)) == APC
    # AND moved a year it is next year's, its dates a year on
    moved = parse_version(redate(plain(BENCHMARK), 1))
    assert moved.measurement_year == BENCHMARK.measurement_year + 1
    assert moved.timeline.finalization_from == date(BENCHMARK.timeline.finalization_from.year + 1, 6, 1)
