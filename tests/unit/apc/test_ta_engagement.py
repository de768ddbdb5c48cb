"""Technical-assistance gating of APC Element 2, worked against the shipped 2026 version's requirements."""

from __future__ import annotations

from datetime import date

import pytest

from shared.logic.ta_engagement import TaActivity, quarter_months, quarter_of, ta_status
from shared.models.files import FileKind
from shared.models.tables import Prefix
from shared.programs.apc import load_apc

TA = load_apc().latest().population_health.technical_assistance
ONBOARDING = TA.onboarding_activities


def _done(activity: str, day: date, status: str = "completed", practice: str = "P1") -> TaActivity:
    return TaActivity(practice_id=practice, activity=activity, activity_date=day, status=status)


def _onboarded(day: date = date(2025, 12, 1)) -> list[TaActivity]:
    return [_done(a, day) for a in ONBOARDING]


def _ongoing(month: str, sessions: int = 2) -> list[TaActivity]:
    year, mon = int(month[:4]), int(month[5:7])
    rows = [_done("coaching_session", date(year, mon, 5 + 7 * i)) for i in range(sessions)]
    return [*rows, _done("work_plan_progress", date(year, mon, 28))]


def _missed(rows: list[TaActivity], month: str) -> tuple[str, ...]:
    return ta_status(rows, ["P1"], [month], TA)[("P1", month)].missed


def test_a_month_with_every_requirement_met_is_compliant():
    # GIVEN onboarding done, two sessions, work-plan progress and the quarter's convening
    rows = [*_onboarded(), *_ongoing("2026-01"), _done("quarterly_convening", date(2026, 2, 10))]
    # WHEN January is judged (the convening later in the quarter counts for every month of it)
    # THEN nothing is missed
    assert _missed(rows, "2026-01") == ()


def test_each_missed_requirement_is_named_in_the_programs_words():
    # GIVEN one session only, no work-plan progress, no convening in the quarter
    rows = [*_onboarded(), _done("coaching_session", date(2026, 1, 5))]
    # WHEN January is judged
    # THEN each requirement it missed is named
    assert _missed(rows, "2026-01") == (
        "two coaching sessions",
        "work plan progress",
        "quarterly learning webinar",
    )


def test_two_rows_of_one_session_on_one_day_count_once_and_a_cancelled_one_not_at_all():
    # GIVEN the same session sent twice (a file sent again) and a cancelled second one
    day = date(2026, 1, 5)
    rows = [
        *_onboarded(),
        _done("coaching_session", day),
        _done("coaching_session", day),
        _done("coaching_session", date(2026, 1, 19), status="cancelled"),
        _done("work_plan_progress", date(2026, 1, 28)),
        _done("quarterly_convening", date(2026, 3, 1)),
    ]
    # WHEN January is judged
    # THEN it has one session, not two
    assert _missed(rows, "2026-01") == ("two coaching sessions",)


def test_onboarding_must_be_complete_by_the_months_end_and_a_late_joiner_is_paid_once_it_is():
    # GIVEN one onboarding activity completed only on 10 February
    rows = [_done(a, date(2025, 12, 1)) for a in ONBOARDING[1:]] + [_done(ONBOARDING[0], date(2026, 2, 10))]
    rows += [*_ongoing("2026-01"), *_ongoing("2026-02"), _done("quarterly_convening", date(2026, 3, 1))]
    # WHEN January and February are judged
    # THEN January misses that activity; February, when it was done, does not
    assert _missed(rows, "2026-01") == (f"onboarding: {ONBOARDING[0]}",)
    assert _missed(rows, "2026-02") == ()


def test_the_onboarding_quarter_pays_only_when_onboarding_is_complete_by_its_date():
    # GIVEN the onboarding quarter (2025-Q4, complete by 31 December 2025) and onboarding done on 2 January
    assert TA.onboarding_quarter == "2025-Q4" and TA.onboarding_complete_by == date(2025, 12, 31)
    rows = [
        *_onboarded(date(2026, 1, 2)),
        *_ongoing("2025-12"),
        _done("quarterly_convening", date(2025, 11, 3)),
    ]
    # WHEN December 2025 is judged
    # THEN every onboarding activity is missed for it
    assert _missed(rows, "2025-12") == tuple(f"onboarding: {a}" for a in ONBOARDING)


def test_the_mid_point_assessment_is_required_in_june_only():
    # GIVEN a practice that met everything but never did an IMAT
    rows = [
        *_onboarded(),
        *_ongoing("2026-05"),
        *_ongoing("2026-06"),
        _done("quarterly_convening", date(2026, 5, 1)),
    ]
    rows += [_done("quarterly_convening", date(2026, 4, 1))]
    # WHEN May and June are judged
    # THEN only June misses the mid-point IMAT
    assert _missed(rows, "2026-05") == ()
    assert _missed(rows, "2026-06") == ("mid-point IMAT",)


def test_a_practice_with_no_activity_misses_every_requirement():
    # GIVEN no rows for P2
    status = ta_status(_onboarded(), ["P1", "P2"], ["2026-01"], TA)
    # WHEN / THEN P2 misses every onboarding activity and every monthly and quarterly requirement
    assert len(status[("P2", "2026-01")].missed) == len(ONBOARDING) + 3


@pytest.mark.parametrize(
    ("month", "quarter"),
    [("2026-01", "2026-Q1"), ("2026-03", "2026-Q1"), ("2026-04", "2026-Q2"), ("2026-12", "2026-Q4")],
)
def test_quarters_hold_their_three_months(month, quarter):
    assert quarter_of(month) == quarter and month in quarter_months(quarter)


def test_the_runs_read_engagement_claims_and_rosters_where_intake_writes_them():
    assert f"{Prefix.CURATED}{FileKind.TA_ENGAGEMENT.value}/" == Prefix.TA_ENGAGEMENT
    assert f"{Prefix.CURATED}{FileKind.MEDICAL_CLAIMS.value}/" == Prefix.MEDICAL_CLAIMS_ROWS
    assert f"{Prefix.CURATED}{FileKind.ELIGIBILITY.value}/" == Prefix.ELIGIBILITY_ROWS
