"""Counting rules: immunization series, statin adherence (PDC), refill windows, well-child visit windows,
HCC recapture and result tiers."""

import random
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.logic.counting import proportion_of_days_covered, refill_key, refill_window_end
from shared.logic.occurrences import MemberView, occurrences
from shared.models.actions import Step
from shared.models.evidence import EvidenceSource
from tests.unit.care_gap.factories import PROGRAM, attest, diagnosis, item, profile, span

BABY = date(2025, 1, 10)
CHILD = profile(birth=BABY)


def view(*evidence, member=CHILD):
    return MemberView.of(member, (span(),), evidence)


def dose(action, day, concept):
    return item(action, day, source=EvidenceSource.IMMUNIZATION, concept=concept)


def steps(occurrence):
    return set(occurrence.completions)


def test_cis_dtap_needs_four_doses_by_the_second_birthday():
    # GIVEN three DTaP doses in the first year and a fourth one day after the second birthday
    doses = [dose("CIS DTaP", BABY + timedelta(days=d), "20") for d in (61, 122, 183)]
    late = dose("CIS DTaP", date(2027, 1, 11), "20")
    # WHEN the series is counted with and without a fourth dose by the birthday
    early = occurrences(view(*doses), PROGRAM.action("CIS DTaP"))
    missed = occurrences(view(*doses, late), PROGRAM.action("CIS DTaP"))
    on_time = occurrences(view(*doses, dose("CIS DTaP", date(2027, 1, 10), "20")), PROGRAM.action("CIS DTaP"))
    # THEN the first dose earns the initial dose; only a fourth dose by the birthday earns the final one
    assert steps(early[0]) == steps(missed[0]) == {Step.INITIAL_DOSE}
    assert early[0].completions[Step.INITIAL_DOSE].evidence.action_date == BABY + timedelta(days=61)
    assert steps(on_time[0]) == {Step.INITIAL_DOSE, Step.FINAL_DOSE}
    assert on_time[0].period == "2027" and on_time[0].due_date == date(2027, 1, 10)


def test_doses_before_the_minimum_age_or_on_one_day_count_once_or_not_at_all():
    # GIVEN a HiB dose at 30 days (too young), then two doses on the same day and one more
    action = PROGRAM.action("CIS HiB")
    doses = [
        dose("CIS HiB", BABY + timedelta(days=30), "49"),
        dose("CIS HiB", BABY + timedelta(days=70), "49"),
        dose("CIS HiB", BABY + timedelta(days=70), "48"),
        dose("CIS HiB", BABY + timedelta(days=140), "49"),
    ]
    # WHEN counted
    found = occurrences(view(*doses), action)
    # THEN only two doses count, so three are not reached
    assert steps(found[0]) == {Step.INITIAL_DOSE}
    assert found[0].completions[Step.INITIAL_DOSE].evidence.action_date == BABY + timedelta(days=70)


def test_rotavirus_two_dose_vaccine_completes_in_two_mixed_series_need_three():
    # GIVEN two Rotarix doses, and a Rotarix then a RotaTeq dose
    action = PROGRAM.action("CIS RV")
    rotarix = [dose("CIS RV", BABY + timedelta(days=d), "119") for d in (61, 122)]
    mixed = [
        dose("CIS RV", BABY + timedelta(days=61), "119"),
        dose("CIS RV", BABY + timedelta(days=122), "116"),
    ]
    # WHEN each series is counted
    # THEN the two-dose vaccine completes the series and the mixed one does not
    assert Step.FINAL_DOSE in steps(occurrences(view(*rotarix), action)[0])
    assert Step.FINAL_DOSE not in steps(occurrences(view(*mixed), action)[0])


def test_hpv_two_doses_complete_only_when_146_days_apart():
    # GIVEN a child turning 13 in 2026 with two HPV doses 100 days apart, another with 150 days apart
    teen = profile(birth=date(2013, 9, 1))
    action = PROGRAM.action("IMA HPV")
    close = [dose("IMA HPV", date(2025, 1, 1), "165"), dose("IMA HPV", date(2025, 4, 11), "165")]
    apart = [dose("IMA HPV", date(2025, 1, 1), "165"), dose("IMA HPV", date(2025, 5, 31), "165")]
    # WHEN each is counted
    # THEN only the second completes by the 13th birthday
    assert Step.FINAL_DOSE not in steps(occurrences(view(*close, member=teen), action)[0])
    done = occurrences(view(*apart, member=teen), action)[0]
    assert Step.FINAL_DOSE in steps(done) and done.due_date == date(2026, 9, 1)


def test_adult_flu_counts_once_per_season():
    # GIVEN flu doses in October 2025 and October 2026
    adult = profile(birth=date(1970, 1, 1))
    action = PROGRAM.action("AIS-E")
    found = occurrences(
        view(dose("AIS-E", date(2025, 10, 1), "141"), dose("AIS-E", date(2026, 10, 2), "141"), member=adult),
        action,
    )
    # WHEN counted
    # THEN each season is its own completed occurrence
    assert [o.period for o in found] == ["2025", "2026"]
    assert all(steps(o) == {Step.INITIAL_DOSE, Step.FINAL_DOSE} for o in found)


def test_well_child_visits_six_in_the_first_15_months_then_two_to_30_months():
    # GIVEN eight well visits in the first 15 months and three between 15 and 30 months
    first = [item("W30-1", BABY + timedelta(days=30 * k + 5), concept="99391") for k in range(8)]
    second = [item("W30-2", date(2026, 5, 1) + timedelta(days=90 * k), concept="99392") for k in range(3)]
    member = view(*first, *second)
    # WHEN the visits are counted
    w30_1 = occurrences(member, PROGRAM.action("W30-1"))
    w30_2 = occurrences(member, PROGRAM.action("W30-2"))
    # THEN six visits count in the first window and two in the second, each a complete occurrence
    assert len(w30_1) == 6 and len(w30_2) == 2
    assert all(steps(o) == {Step.SCHEDULE, Step.PERFORM, Step.CLAIM} for o in w30_1 + w30_2)
    assert [o.period for o in w30_1] == [f"2026/visit-{n}" for n in range(1, 7)]


def test_a_scheduled_visit_and_its_claim_are_one_visit():
    # GIVEN a schedule attestation, then the visit's claim
    scheduled = attest("W30-1", Step.SCHEDULE, date(2025, 3, 1))
    visit = item("W30-1", date(2025, 3, 15), concept="99391", received=date(2025, 4, 2))
    # WHEN counted
    found = occurrences(view(scheduled, visit), PROGRAM.action("W30-1"))
    # THEN one visit holds both, the schedule step earned by the attestation
    assert len(found) == 1
    assert found[0].completions[Step.SCHEDULE].evidence is scheduled
    assert found[0].completions[Step.CLAIM].evidence is visit


def test_hcc_recapture_is_once_per_historical_condition_per_year():
    # GIVEN diabetes and heart failure diagnosed in 2025, two diabetes claims in 2026, and a new COPD claim
    adult = profile(birth=date(1950, 1, 1))
    member = view(
        diagnosis("HCC Diabetes", date(2025, 3, 1)),
        diagnosis("HCC Heart Failure", date(2025, 4, 1)),
        item("HCC-DX", date(2026, 2, 1), concept="E119", condition="HCC Diabetes"),
        item("HCC-DX", date(2026, 5, 1), concept="E119", condition="HCC Diabetes"),
        item("HCC-DX", date(2026, 5, 1), concept="J449", condition="HCC COPD"),
        attest("HCC-DX", Step.ASSESS, date(2026, 1, 20), result_value="I509"),
        member=adult,
    )
    # WHEN the recaptures are counted
    found = {o.period: o for o in occurrences(member, PROGRAM.action("HCC-DX"))}
    # THEN one occurrence per historical condition; the new condition is no recapture
    assert set(found) == {"2026/HCC Diabetes", "2026/HCC Heart Failure"}
    assert found["2026/HCC Diabetes"].completions[Step.CLAIM].evidence.action_date == date(2026, 2, 1)
    assert steps(found["2026/HCC Heart Failure"]) == {Step.ASSESS}


def test_blood_pressure_tiers_from_cpt_ii_codes_and_lab_values_with_improvement():
    # GIVEN an uncontrolled reading in February (CPT II) and a controlled one in May (lab values)
    action = PROGRAM.action("CBP")
    member = view(
        item("CBP", date(2026, 2, 1), concept="3077F"),
        item("CBP", date(2026, 2, 1), concept="3079F"),
        item("CBP", date(2026, 5, 1), source=EvidenceSource.LAB, concept="8480-6", result_value="128"),
        item("CBP", date(2026, 5, 1), source=EvidenceSource.LAB, concept="8462-4", result_value="78"),
        item("CBP", date(2026, 6, 1), concept="3074F"),
    )
    # WHEN the dates of service are read
    feb, may, june = occurrences(member, action)
    # THEN February is uncontrolled, May controlled and improved, June (systolic only) has no tier
    assert (feb.reading.tier, feb.improved) == ("uncontrolled", False)
    assert (may.reading.tier, may.improved) == ("controlled", True)
    assert june.reading is None and june.period == "2026-06-01"


def test_hba1c_values_fall_in_the_scale_bands():
    # GIVEN HbA1c lab values on four days
    action = PROGRAM.action("GSD")
    values = {
        date(2026, 1, 5): "6.9",
        date(2026, 2, 5): "7.0",
        date(2026, 3, 5): "9.0",
        date(2026, 4, 5): "9.1",
    }
    member = view(
        *(
            item("GSD", d, source=EvidenceSource.LAB, concept="4548-4", result_value=v)
            for d, v in values.items()
        )
    )
    # WHEN read
    tiers = [o.reading.tier for o in occurrences(member, action)]
    # THEN below 7 / 7 to 8 / 8 to 9 (inclusive) / above 9
    assert tiers == ["below_7", "7_to_8", "8_to_9", "above_9"]


def test_refill_windows_are_months_or_quarters():
    # GIVEN dates across a quarter boundary
    # WHEN keyed
    # THEN 30-day refills key by month and 90-day ones by quarter, with the window's last day
    assert refill_key(date(2026, 3, 31), quarterly=False) == "2026-03"
    assert refill_key(date(2026, 3, 31), quarterly=True) == "2026-Q1"
    assert refill_key(date(2026, 4, 1), quarterly=True) == "2026-Q2"
    assert refill_window_end("2026-Q4") == date(2026, 12, 31)
    assert refill_window_end("2026-02") == date(2026, 2, 28)


def test_pdc_shifts_early_refills_instead_of_double_counting():
    # GIVEN two 30-day fills ten days apart in a 60-day period
    fills = [(date(2026, 1, 1), 30), (date(2026, 1, 21), 30)]
    # WHEN the PDC is computed
    pdc = proportion_of_days_covered(fills, date(2026, 1, 1), date(2026, 3, 1))
    # THEN the second fill covers days 31-60, so 60 of 60 days are covered
    assert pdc == Decimal(1)
    assert proportion_of_days_covered(
        [(date(2026, 1, 1), 30)], date(2026, 1, 1), date(2026, 3, 1)
    ) == Decimal(30) / Decimal(60)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 200), st.integers(1, 90)), max_size=8),
    st.integers(1, 365),
)
def test_pdc_is_a_proportion_and_never_exceeds_the_supply(fills, length):
    # GIVEN any fills and period
    start = date(2026, 1, 1)
    dated = [(start + timedelta(days=d), s) for d, s in fills]
    # WHEN the PDC is computed
    pdc = proportion_of_days_covered(dated, start, start + timedelta(days=length - 1))
    # THEN it lies in [0, 1] and covers no more days than were supplied
    assert Decimal(0) <= pdc <= Decimal(1)
    assert (pdc * length).quantize(Decimal(1)) <= sum(s for _, s in fills)


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False))
def test_occurrences_do_not_depend_on_the_order_evidence_is_read(rng: random.Random):
    # GIVEN a mix of visit, dose and screening evidence, shuffled
    evidence = [
        attest("W30-1", Step.SCHEDULE, date(2025, 2, 1)),
        item("W30-1", date(2025, 2, 20), concept="99391", received=date(2025, 3, 1)),
        item("W30-1", date(2025, 5, 20), concept="99391", received=date(2025, 6, 1)),
        dose("CIS HepB", date(2025, 1, 10), "8"),
        dose("CIS HepB", date(2025, 3, 10), "8"),
        dose("CIS HepB", date(2025, 7, 10), "8"),
        attest("LSC", Step.PERFORM, date(2026, 1, 3)),
        item("LSC", date(2026, 1, 3), concept="83655", received=date(2026, 2, 1)),
    ]
    shuffled = list(evidence)
    rng.shuffle(shuffled)

    def summary(items):
        member = view(*items)
        return {
            code: [(o.period, {s: c.evidence.evidence_id for s, c in o.completions.items()}) for o in occ]
            for code in ("W30-1", "CIS HepB", "LSC")
            if (occ := occurrences(member, PROGRAM.action(code)))
        }

    # WHEN occurrences are computed from either order
    # THEN they are the same
    assert summary(shuffled) == summary(evidence)


def test_a_member_as_known_on_a_day_is_one_view_sharing_its_occurrences():
    # GIVEN a member's view with a HiB dose received when given and one received a month later
    early = BABY + timedelta(days=70)
    late = BABY + timedelta(days=130)
    shot = {"source": EvidenceSource.IMMUNIZATION, "concept": "49"}
    first = item("CIS HiB", early, **shot)
    second = item("CIS HiB", late, received=late + timedelta(days=30), **shot)
    member = view(first, second)
    action = PROGRAM.action("CIS HiB")
    # WHEN it is asked for as known on a day between the receipts, twice, and on a day after both
    between = member.known(late + timedelta(days=1))
    # THEN the same view answers both times, holding what was known then, and its occurrences are its own
    assert member.known(late + timedelta(days=1)) is between
    assert between.by_action == {"CIS HiB": [first]} and member.by_action == {"CIS HiB": [first, second]}
    assert occurrences(between, action) == occurrences(MemberView.of(CHILD, (span(),), [first]), action)
    assert occurrences(between, action) != occurrences(member, action)
    # and with everything known by then, the member as known is the view itself
    assert member.known(late + timedelta(days=31)) is member


def test_a_views_occurrences_are_worked_out_once_per_action(monkeypatch):
    # GIVEN a member's view with a dose and a too-early dose, asked once
    from shared.logic import occurrences as module

    member = view(
        dose("CIS HiB", BABY + timedelta(days=30), "49"), dose("CIS HiB", BABY + timedelta(days=70), "49")
    )
    action = PROGRAM.action("CIS HiB")
    first = occurrences(member, action)
    worked = []
    original = module._occurrences
    monkeypatch.setattr(module, "_occurrences", lambda *a: worked.append(a[1].code) or original(*a))
    # WHEN the same view is asked again, asked with the evidence it leaves out, and a new view of the facts
    again = occurrences(member, action)
    unused = []
    traced = occurrences(member, action, unused)
    other = occurrences(view(*(e for items in member.by_action.values() for e in items)), action)
    # THEN the second answer is the first, not worked out again; a trace and a new view are worked out
    assert again == first == traced == other and again is not first
    assert worked == ["CIS HiB", "CIS HiB"]
