"""Technical-assistance engagement: which requirements a practice met in a month (APC Element 2's gate).

The seed (`apc-common-payment-model.txt`, "Technical Assistance - Engagement"): the required onboarding
activities are complete (the onboarding quarter pays only when they are complete by its date; a practice
that joins later completes them too), and every month two coaching sessions and progress on the work plan,
every quarter the learning convening, the mid-point and final assessments in their months. A month that
misses any requirement is not paid; the requirements it missed are named, in the program's words.

An activity is counted once per practice, kind and day, whatever files repeat it (the `ta_engagement` file
has no natural key, so a file sent again with the same rows must not double a month's sessions); it counts
when any row of it says `completed`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from shared.logic.dates import month_end
from shared.programs.apc import TaRequirement, TechnicalAssistance

COMPLETED = "completed"


@dataclass(frozen=True)
class TaActivity:
    """One row of a `ta_engagement` file."""

    practice_id: str
    activity: str
    activity_date: date
    status: str


@dataclass(frozen=True)
class TaMonth:
    """A practice's month: compliant when it missed no requirement; `missed` names each one it missed."""

    practice_id: str
    month: str
    missed: tuple[str, ...]

    @property
    def compliant(self) -> bool:
        return not self.missed


def quarter_of(month: str) -> str:
    """The quarter (`YYYY-Qn`) a `YYYY-MM` month is in."""
    return f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}"


def quarter_months(quarter: str) -> tuple[str, str, str]:
    """The three months (`YYYY-MM`) of a `YYYY-Qn` quarter, in order."""
    year, number = int(quarter[:4]), int(quarter[-1])
    first = 3 * (number - 1) + 1
    return (f"{year}-{first:02d}", f"{year}-{first + 1:02d}", f"{year}-{first + 2:02d}")


def _completed(activities: Iterable[TaActivity]) -> dict[str, dict[str, set[date]]]:
    """The days each practice completed each kind of activity."""
    days: dict[str, dict[str, set[date]]] = defaultdict(lambda: defaultdict(set))
    for row in activities:
        if row.status == COMPLETED:
            days[row.practice_id][row.activity].add(row.activity_date)
    return days


def _in_force(requirement: TaRequirement, month: str) -> bool:
    return not requirement.months or month in requirement.months


def _period(requirement: TaRequirement, month: str) -> str:
    """The month, or its quarter, over which `requirement` counts activities."""
    return quarter_of(month) if requirement.per == "quarter" else month


def _met(requirement: TaRequirement, done: Mapping[str, set[date]], month: str) -> bool:
    period = _period(requirement, month)
    days = done.get(requirement.activity, ())
    return sum(1 for day in days if _period(requirement, f"{day:%Y-%m}") == period) >= requirement.count


def month_status(
    practice_id: str, month: str, done: Mapping[str, set[date]], ta: TechnicalAssistance
) -> TaMonth:
    """What `practice_id` missed in `month`, given the days it completed each activity: each onboarding
    activity not complete by the month's end (by `onboarding_complete_by` in the onboarding quarter), then
    each ongoing requirement in force that month with too few activities in its month or quarter."""
    missed: list[str] = []
    deadline = month_end(month)
    if quarter_of(month) == ta.onboarding_quarter:
        deadline = min(deadline, ta.onboarding_complete_by)
    for activity in ta.onboarding_activities:
        if not any(day <= deadline for day in done.get(activity, ())):
            missed.append(f"onboarding: {activity}")
    missed += [r.requirement for r in ta.ongoing if _in_force(r, month) and not _met(r, done, month)]
    return TaMonth(practice_id=practice_id, month=month, missed=tuple(missed))


def ta_status(
    activities: Iterable[TaActivity], practices: Iterable[str], months: Iterable[str], ta: TechnicalAssistance
) -> dict[tuple[str, str], TaMonth]:
    """Every practice's status in every month, by (practice, month); a practice with no activity at all
    misses every requirement."""
    done = _completed(activities)
    return {
        (practice, month): month_status(practice, month, done.get(practice, {}), ta)
        for practice in sorted(set(practices))
        for month in months
    }
