"""The APC measure set's quality rates through the one engine: the rates file, the measures made as data
(AMR, IMA, WCV, W30, POD, PPC, DRR-E, GSD <8.0%) and the combinations, each on hand-made evidence."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from cli.ecqm_decks import case_facts, load_cases
from shared.logic.measures.apc import WHOLE, apc_rated_measures, apc_valuesets, rate_populations
from shared.logic.measures.engine import member_outcome
from shared.logic.rates import MeasureDefinitionMissingError, member_outcomes
from shared.programs.apc import MeasureKind
from shared.programs.measures import DATA_DIR, MeasureFileError, ValueSets, load_measures
from tests.unit.care_gap.factories import PROGRAM as CARE_GAP
from tests.unit.measures.builders import (
    APC,
    RATED,
    diagnosis,
    dose,
    fill,
    lab,
    member,
    rated,
    results,
    service,
)

ALBUTEROL, FLUTICASONE, MONTELUKAST = "59310057922", "00173071920", "00006011731"
BUPRENORPHINE = "12496120803"


def part(facts, code, name=WHOLE):
    return results(facts, code).parts[code][name]


# ---- the rates file ----------------------------------------------------------------------------------
def test_every_apc_measure_of_the_program_has_a_rate_of_its_code_and_kind() -> None:
    # GIVEN the shipped APC version and programs/apc.json
    # WHEN the rates are checked against the version's measures
    codes = [r.rate.rate for r in apc_rated_measures(APC)]
    # THEN table 3's eleven and the six tracking measures are rated, by their codes
    assert codes == [
        "AMR", "BCS-E", "CIS", "COL-E", "CBP", "DSF-E", "GSD", "IMA", "AHU", "EDU", "TCOC",
        "WCV", "DRR-E", "GSD <8.0%", "POD", "PPC", "W30",
    ]  # fmt: skip
    assert [m.code for m in APC.incentive.measures] + [
        t.code for t in APC.incentive.tracking_measures
    ] == codes
    # AND the utilization and cost rates count events, the others populations
    scoring = {r.rate.rate: r.definition.scoring for r in RATED}
    assert {c for c, s in scoring.items() if s == "utilization"} == {"AHU", "EDU", "TCOC"}


def test_a_program_measure_without_a_rate_or_with_the_wrong_kind_is_named() -> None:
    # GIVEN the APC version with a tracking measure the rates file lacks, and AHU made a quality measure
    tracking = (
        *APC.incentive.tracking_measures,
        APC.incentive.tracking_measures[0].model_copy(update={"code": "X"}),
    )
    measures = tuple(
        m.model_copy(update={"kind": MeasureKind.QUALITY}) if m.code == "AHU" else m
        for m in APC.incentive.measures
    )
    changed = APC.model_copy(
        update={
            "incentive": APC.incentive.model_copy(
                update={"tracking_measures": tracking, "measures": measures}
            )
        }
    )
    # WHEN its rates are checked
    # THEN both problems are named
    with pytest.raises(MeasureDefinitionMissingError, match=r"AHU is a quality measure.*X has no rate"):
        apc_rated_measures(changed)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    target = tmp_path / "measures"
    shutil.copytree(DATA_DIR, target)
    return target


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(combination=["dtap", "smallpox"]), "has no component smallpox"),
        (lambda r: r.update(component="dtap"), "give one of component, combination"),
        (
            lambda r: r.update(measure="AcuteHospitalUtilization"),
            "counts events, it has no groups or components",
        ),
    ],
)
def test_a_rate_selecting_what_its_measure_lacks_stops_the_load(data: Path, change, message: str) -> None:
    # GIVEN the APC rates file with CIS's rate changed
    path = data / "programs" / "apc.json"
    content = json.loads(path.read_text(encoding="utf-8"))
    change(next(r for r in content["rates"] if r["rate"] == "CIS"))
    path.write_text(json.dumps(content), encoding="utf-8")
    # WHEN the measures are loaded
    # THEN the load stops naming the problem
    with pytest.raises(MeasureFileError, match=message):
        load_measures(data)


# ---- AMR --------------------------------------------------------------------------------------------
def _fills(ndc: str, year: int, n: int, supply: int = 30) -> list:
    return [fill(ndc, date(year, 1 + 2 * i, 10), supply) for i in range(n)]


def test_amr_meets_at_half_controllers_and_not_below() -> None:
    # GIVEN 16-year-olds with four albuterol fills in 2025 (persistent: 4 units), and in 2026 two
    # fluticasone and two albuterol fills (2/4 = 0.50), or one fluticasone and three albuterol (0.25)
    prior = _fills(ALBUTEROL, 2025, 4)
    half = member(*prior, *_fills(FLUTICASONE, 2026, 2), *_fills(ALBUTEROL, 2026, 2), birth=date(2010, 6, 1))
    quarter = member(
        *prior, *_fills(FLUTICASONE, 2026, 1), *_fills(ALBUTEROL, 2026, 3), birth=date(2010, 6, 1)
    )
    # WHEN AMR is scored for 2026
    # THEN both are in the denominator; the ratio of 0.50 meets it, 0.25 does not
    assert (part(half, "AMR").rated, part(half, "AMR").met) == (True, True)
    assert (part(quarter, "AMR").rated, part(quarter, "AMR").met) == (True, False)


def test_amr_counts_an_oral_controller_by_30_days_of_supply() -> None:
    # GIVEN four albuterol fills in 2025, and in 2026 one 90-day montelukast fill (3 units) and four
    # albuterol fills: 3 / 7 < 0.50; with 120 days (4 units): 4 / 8 = 0.50
    prior = _fills(ALBUTEROL, 2025, 4)
    relievers = _fills(ALBUTEROL, 2026, 4)
    three = member(*prior, fill(MONTELUKAST, date(2026, 2, 1), 90), *relievers, birth=date(2000, 1, 1))
    four = member(*prior, fill(MONTELUKAST, date(2026, 2, 1), 120), *relievers, birth=date(2000, 1, 1))
    # WHEN AMR is scored
    # THEN 90 days counts three units and misses, 120 days four and meets
    assert part(three, "AMR").met is False and part(three, "AMR").rated
    assert part(four, "AMR").met is True


def test_amr_persistent_by_diagnosis_days_needs_both_years_and_copd_excludes() -> None:
    # GIVEN a member with asthma diagnosed on four days and two fills in each of 2025 and 2026 (the 2026
    # fills controllers); the same without the 2025 diagnoses; and the first with COPD diagnosed in 2024
    def year(y: int, ndc: str) -> list:
        days = [diagnosis("J4530", date(y, m, 5)) for m in (2, 4, 6, 8)]
        return [*days, fill(ndc, date(y, 3, 1)), fill(ndc, date(y, 9, 1))]

    both = [*year(2025, ALBUTEROL), *year(2026, FLUTICASONE)]
    one = [e for e in both if not (e.action == "QM:Condition" and e.action_date.year == 2025)]
    # WHEN AMR is scored for 2026
    persistent = part(member(*both, birth=date(1990, 1, 1)), "AMR")
    not_prior = part(member(*one, birth=date(1990, 1, 1)), "AMR")
    copd = part(member(*both, diagnosis("J449", date(2024, 5, 1)), birth=date(1990, 1, 1)), "AMR")
    # THEN the first is rated and met (2 controllers of 2), the second has no persistent asthma in 2025,
    # and COPD excludes the third
    assert (persistent.rated, persistent.met) == (True, True)
    assert not_prior.initial_population is False
    assert (copd.denominator, copd.denominator_exclusion, copd.rated) == (True, True, False)


def test_amr_counts_members_5_to_64_at_the_years_end() -> None:
    # GIVEN the same persistent, all-controller fills for members turning 65 and 4 in 2026, and one of 64
    fills = [*_fills(FLUTICASONE, 2025, 4), *_fills(FLUTICASONE, 2026, 4)]
    ages = {
        birth: part(member(*fills, birth=birth), "AMR").initial_population
        for birth in (date(1961, 12, 31), date(1962, 1, 1), date(2022, 1, 1))
    }
    # THEN only the one who is 64 on 31 December counts
    assert ages == {date(1961, 12, 31): False, date(1962, 1, 1): True, date(2022, 1, 1): False}


# ---- IMA and CIS combinations -------------------------------------------------------------------------
BIRTH_13 = date(2013, 5, 10)
"""Turns 13 on 2026-05-10."""


def _ima(*doses):
    facts = member(*doses, birth=BIRTH_13)
    found = results(facts, "IMA")
    return found.parts["IMA"][WHOLE], found.outcomes["IMA"].components


def test_ima_combination_2_is_every_antigen_in_its_window() -> None:
    # GIVEN meningococcal at 11, Tdap at 10, and HPV at 9 twice 183 days apart (a two-dose series)
    complete = [dose("114", date(2024, 6, 1)), dose("115", date(2023, 6, 1))]
    hpv = [dose("165", date(2022, 6, 1)), dose("165", date(2022, 12, 1))]
    # WHEN IMA is scored, and again with the HPV doses 145 days apart, and with meningococcal before 11
    full, _ = _ima(*complete, *hpv)
    short, short_antigens = _ima(*complete, dose("165", date(2022, 6, 1)), dose("165", date(2022, 10, 24)))
    early, early_antigens = _ima(dose("114", date(2024, 5, 9)), complete[1], *hpv)
    # THEN only the first meets Combination 2; each failure is its antigen's
    assert (full.rated, full.met) == (True, True)
    assert short.met is False and not short_antigens["hpv"].met and short_antigens["meningococcal"].met
    assert early.met is False and not early_antigens["meningococcal"].met and early_antigens["hpv"].met


def test_ima_counts_three_hpv_doses_and_only_members_turning_13() -> None:
    # GIVEN three HPV doses 30 days apart with the other antigens, for the member turning 13 in 2026 and one
    # turning 13 in 2025
    doses = [
        dose("114", date(2024, 6, 1)),
        dose("115", date(2024, 6, 1)),
        *(dose("62", date(2023, 1, 1) + timedelta(days=30 * i)) for i in range(3)),
    ]
    in_year, _ = _ima(*doses)
    older = results(member(*doses, birth=date(2012, 5, 10)), "IMA").parts["IMA"][WHOLE]
    # THEN three doses complete HPV; the older member is not in 2026's population
    assert in_year.met is True
    assert older.initial_population is False


@pytest.mark.skipif(not load_cases(), reason="eCQM decks not found")
def test_cis_combination_10_is_cms117s_numerator_on_every_deck_case(deck_valuesets: ValueSets) -> None:
    # GIVEN every CMS117 deck patient, scored by the APC rate (Combination 10 as its ten components)
    item = next(r for r in RATED if r.rate.rate == "CIS")
    cases = [c for c in load_cases() if c.measure == "ChildhoodImmunizationStatusFHIR"]
    compared = 0
    for case in cases:
        outcome = member_outcomes(case_facts(case), [item], year=case.year, valuesets=deck_valuesets)["CIS"]
        combined = rate_populations(item, outcome)[WHOLE]
        group = outcome.groups[0]
        # THEN the combination's populations are CMS117's group's: every antigen met is its numerator
        assert (combined.initial_population, combined.denominator, combined.numerator) == (
            group.initial_population,
            group.denominator,
            group.numerator,
        ), case.label
        compared += group.numerator
    assert compared > 0


# ---- GSD <8.0% ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "above_9", "below_8"),
    [
        ("7.9", False, True),
        ("8.0", False, False),
        ("9.0", False, False),
        ("9.1", True, False),
        (None, True, False),
    ],
)
def test_gsd_below_8_is_the_last_result_below_8_and_above_9_is_cms122(
    value: str | None, above_9: bool, below_8: bool
) -> None:
    # GIVEN a diabetic 50-year-old whose last HbA1c of 2026 is the value (None: no test at all)
    evidence = [diagnosis("E119", date(2026, 2, 1))]
    if value is not None:
        evidence += [lab("4548-4", date(2026, 3, 1), "10.5"), lab("4548-4", date(2026, 9, 1), value)]
    facts = member(*evidence, birth=date(1976, 3, 3))
    # WHEN both rates are scored
    found = results(facts, "GSD", "GSD <8.0%").parts
    # THEN >9.0% is met above 9 or without a test, <8.0% only below 8
    assert found["GSD"][WHOLE].met is above_9 and found["GSD <8.0%"][WHOLE].met is below_8
    assert found["GSD"][WHOLE].rated and found["GSD <8.0%"][WHOLE].rated


# ---- WCV and W30 --------------------------------------------------------------------------------------
def test_wcv_needs_one_well_care_visit_in_the_year_from_3_to_21() -> None:
    # GIVEN an 11-year-old with a well-child visit claim in 2026, one with only a 2025 visit, a 22-year-old
    # with a visit, and an 11-year-old whose visit is a well-care diagnosis
    visit = service("99393", date(2026, 4, 1))
    seen = part(member(visit, birth=date(2015, 3, 1)), "WCV")
    last_year = part(member(service("99393", date(2025, 4, 1)), birth=date(2015, 3, 1)), "WCV")
    adult = part(member(visit, birth=date(2004, 1, 1)), "WCV")
    coded = part(member(diagnosis("Z00129", date(2026, 6, 1)), birth=date(2015, 3, 1)), "WCV")
    # THEN the visit (or the diagnosis) meets it, last year's does not, and 22 is outside the ages
    assert (seen.rated, seen.met, last_year.rated, last_year.met) == (True, True, True, False)
    assert adult.initial_population is False and coded.met is True


def test_w30_counts_six_visits_by_15_months_and_two_from_15_to_30_months() -> None:
    # GIVEN a child born 2025-06-15 (15 months on 2026-09-15) with six visits by then or only five; and one
    # born 2024-03-10 (30 months on 2026-09-10) with two visits after 2025-06-10 (15 months)
    def visits(start: date, n: int, step: int = 40) -> list:
        return [service("99391", start + timedelta(days=step * i)) for i in range(n)]

    young = date(2025, 6, 15)
    six = results(member(*visits(date(2025, 6, 20), 6), birth=young), "W30").parts["W30"]
    five = results(member(*visits(date(2025, 6, 20), 5), birth=young), "W30").parts["W30"]
    older = results(member(*visits(date(2025, 7, 1), 2, 200), birth=date(2024, 3, 10)), "W30").parts["W30"]
    # THEN six visits meet the first window, five do not; the older child is in the second window only and
    # meets it
    assert (six["first_15_months"].met, five["first_15_months"].met) == (True, False)
    assert five["first_15_months"].rated and not six["months_15_to_30"].initial_population
    assert older["months_15_to_30"].met is True and not older["first_15_months"].initial_population


# ---- POD ----------------------------------------------------------------------------------------------
def _monthly(start: date, supplies: list[int]) -> list:
    fills, day = [], start
    for supply in supplies:
        fills.append(fill(BUPRENORPHINE, day, supply))
        day += timedelta(days=supply)
    return fills


def test_pod_meets_with_180_days_of_treatment_from_a_new_episode() -> None:
    # GIVEN an OUD diagnosis on 2025-08-01 and buprenorphine from 2025-09-01: six fills of 30 days run
    # through 2026-02-27, the 180th day; with the last fill 29 days, through the 179th day
    dx = diagnosis("F1120", date(2025, 8, 1))
    full = part(member(dx, *_monthly(date(2025, 9, 1), [30] * 6), birth=date(1990, 1, 1)), "POD")
    short = part(member(dx, *_monthly(date(2025, 9, 1), [30] * 5 + [29]), birth=date(1990, 1, 1)), "POD")
    undiagnosed = part(member(*_monthly(date(2025, 9, 1), [30] * 6), birth=date(1990, 1, 1)), "POD")
    # THEN 180 days meets, 179 does not; without a diagnosis the member is not in the population
    assert (full.rated, full.met, short.rated, short.met) == (True, True, True, False)
    assert undiagnosed.initial_population is False


def test_pod_allows_a_gap_of_7_days_not_8_and_needs_a_negative_history() -> None:
    # GIVEN treatment from 2025-09-01 (30 days), then fills resuming after a gap of 7 days or of 8 days
    dx = diagnosis("F1120", date(2025, 8, 1))
    first = fill(BUPRENORPHINE, date(2025, 9, 1), 30)
    seven = part(member(dx, first, *_monthly(date(2025, 10, 8), [30] * 6), birth=date(1990, 1, 1)), "POD")
    eight = part(member(dx, first, *_monthly(date(2025, 10, 9), [30] * 6), birth=date(1990, 1, 1)), "POD")
    # AND treatment that began before the intake period (2025-06-10, 30 days, then continuously)
    ongoing = member(dx, *_monthly(date(2025, 6, 10), [30] * 8), birth=date(1990, 1, 1))
    # THEN the 7-day gap keeps treatment continuous, the 8-day gap breaks it
    assert seven.met is True and eight.met is False and eight.rated
    # AND the ongoing treatment has no new episode in the intake period
    assert part(ongoing, "POD").initial_population is False


# ---- PPC ----------------------------------------------------------------------------------------------
def test_ppc_prenatal_in_the_first_trimester_and_postpartum_7_to_84_days_after() -> None:
    # GIVEN a delivery on 2026-05-01 (first trimester: 2025-07-25 to 2025-11-06), a prenatal visit on
    # 2025-09-01 and a postpartum visit 19 days after; then the visits moved to 2025-11-07 and 4 days after
    delivery = service("59400", date(2026, 5, 1))
    timely = member(
        delivery,
        service("0500F", date(2025, 9, 1)),
        service("59430", date(2026, 5, 20)),
        birth=date(1995, 1, 1),
    )
    late = member(
        delivery,
        service("0500F", date(2025, 11, 7)),
        service("59430", date(2026, 5, 5)),
        birth=date(1995, 1, 1),
    )
    # WHEN PPC is scored
    on_time, off = results(timely, "PPC").parts["PPC"], results(late, "PPC").parts["PPC"]
    # THEN the first meets both parts, the second neither
    assert (on_time["prenatal"].met, on_time["postpartum"].met) == (True, True)
    assert (off["prenatal"].rated, off["prenatal"].met, off["postpartum"].met) == (True, False, False)


def test_ppc_counts_deliveries_from_october_8_to_october_7() -> None:
    # GIVEN deliveries on 2025-10-08 and 2026-10-08
    first = part(member(service("59400", date(2025, 10, 8)), birth=date(1995, 1, 1)), "PPC", "postpartum")
    after = part(member(service("59400", date(2026, 10, 8)), birth=date(1995, 1, 1)), "PPC", "postpartum")
    # THEN the first is in 2026's population, the second is not
    assert (first.initial_population, after.initial_population) == (True, False)


# ---- DRR-E --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("follow_up", "remission", "response"),
    [("4", True, True), ("7", False, True), ("8", False, False), (None, False, False)],
)
def test_drr_e_remission_below_5_and_response_at_half_the_index_score(
    follow_up: str | None, remission: bool, response: bool
) -> None:
    # GIVEN depression diagnosed on 2025-06-01, a PHQ-9 of 15 on 2025-06-10 (the index; 4 to 8 months
    # after: 2025-10-10 to 2026-02-10) and a follow-up score on 2025-12-01 (None: none)
    evidence = [diagnosis("F321", date(2025, 6, 1)), lab("44261-6", date(2025, 6, 10), "15")]
    if follow_up is not None:
        evidence.append(lab("44261-6", date(2025, 12, 1), follow_up))
    parts = results(member(*evidence, birth=date(1980, 1, 1)), "DRR-E").parts["DRR-E"]
    # THEN remission is a last score below 5; response one at most 7.5 (half of 15)
    assert parts["follow_up"].rated and parts["follow_up"].met is (follow_up is not None)
    assert (parts["remission"].met, parts["response"].met) == (remission, response)


def test_drr_e_needs_an_elevated_score_with_a_diagnosis_in_the_intake_period() -> None:
    # GIVEN a PHQ-9 of 9 (not above 9) with a diagnosis, and one of 15 without a diagnosis
    low = [diagnosis("F321", date(2025, 6, 1)), lab("44261-6", date(2025, 6, 10), "9")]
    undiagnosed = [lab("44261-6", date(2025, 6, 10), "15")]
    # THEN neither is in the population
    for evidence in (low, undiagnosed):
        parts = results(member(*evidence, birth=date(1980, 1, 1)), "DRR-E").parts["DRR-E"]
        assert parts["follow_up"].initial_population is False


def test_only_the_named_rates_are_scored_and_quality_can_be_skipped() -> None:
    # GIVEN a member
    facts = member(service("99393", date(2026, 4, 1)), birth=date(2015, 3, 1))
    # WHEN the APC results are asked for two rates, and without the quality rates
    two = results(facts, "WCV", "TCOC")
    none = results(facts, quality=False)
    # THEN only those rates are there, and without quality only the utilization and cost contributions
    assert set(two.parts) == {"WCV"} and set(two.contributions) == {"TCOC"}
    assert none.parts == {} and set(none.contributions) == {"AHU", "EDU", "TCOC"}
    assert rated("WCV")[0].definition.program_code == "WCV"


def test_a_utilization_measure_is_not_scored_as_a_proportion() -> None:
    # GIVEN AHU's definition
    definition = rated("AHU")[0].definition
    # WHEN the proportion engine is asked for its populations
    # THEN it refuses, naming where such a measure is scored
    with pytest.raises(ValueError, match="counts events, not populations"):
        member_outcome(member(birth=date(1980, 1, 1)), definition, 2026)


def test_the_apc_value_sets_hold_the_menus_claim_codes_and_are_built_once() -> None:
    # GIVEN the Care Gap menu
    # WHEN the APC value sets are asked for twice
    first, again = apc_valuesets(CARE_GAP), apc_valuesets(CARE_GAP)
    # THEN they are one object, and the menu's mammography CPT code stands for CMS's mammography value set
    assert first is again
    assert "2.16.840.1.113883.3.464.1003.108.12.1018" in first.oids("CPT", "77067")
