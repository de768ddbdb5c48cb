"""APC Element 2, the population-health payment: per attributed member-month in which the practice met
the technical-assistance requirements, PMPM x age/sex factor x (1 + HPI uplift), half up to the cent
(issue 13 §4; docs/apc.md). Whether a month met the requirements is an input: the quarterly run reads it
from the `ta_engagement` files."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from shared.errors import DomainError
from shared.logic.benchmark import half_up
from shared.models.actions import Sex
from shared.models.apc import PhmInput, PhmMemberMonth, PhmResult
from shared.programs.apc import RiskAdjustment


class PhmInputError(DomainError, ValueError):
    """Member-months the payment cannot be computed for; the message names each key and what is wrong."""


def first_day(month: str) -> date:
    """The first day of a `YYYY-MM` month."""
    return date(int(month[:4]), int(month[5:7]), 1)


def age_on(birth_date: date, day: date) -> int:
    """Whole years of age on `day` (a birthday counts on the day itself); 0 for a member not born by
    `day` (one born later in the month is attributed from birth)."""
    years = day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))
    return max(years, 0)


def member_month(
    *,
    member_id: str,
    birth_date: date,
    gender: Sex | None,
    month: str,
    pmpm: Decimal,
    hpi_decile: int | None,
    ta_compliant: bool,
    risk: RiskAdjustment,
) -> PhmMemberMonth:
    """One attributed member-month: age on the month's first day, the factor of its age band (a band
    holds its lower bound, not its upper; `U` or no gender reads the Unknown column), the practice's HPI
    uplift, and PMPM x factor x (1 + uplift) half up to the cent, or 0 when the month missed the TA
    requirements. The member must be born by the month's end (`PhmInputError` otherwise)."""
    start = first_day(month)
    if (birth_date.year, birth_date.month) > (start.year, start.month):
        raise PhmInputError(f"{month} is before the member's month of birth")
    age = age_on(birth_date, start)
    factor = risk.band(age).factor(gender)
    uplift = risk.uplift(hpi_decile)
    exact = Fraction(pmpm) * Fraction(factor) * (1 + Fraction(uplift)) * 100
    return PhmMemberMonth(
        member_id=member_id,
        month=month,
        age=age,
        factor=factor,
        uplift=uplift,
        ta_compliant=ta_compliant,
        amount_cents=half_up(exact) if ta_compliant else 0,
    )


def population_health(practice: PhmInput, risk: RiskAdjustment) -> PhmResult:
    """A practice's population-health payment for its members' months, in the input's order; the total is
    the sum of the member-months' cents. `PhmInputError` names every member-month that cannot be paid:
    a month missing from `ta_compliant`, a month listed twice for a member, a month before birth, a
    member listed twice."""
    problems: list[str] = []
    seen: set[str] = set()
    rows: list[PhmMemberMonth] = []
    for i, member in enumerate(practice.members):
        if member.member_id in seen:
            problems.append(f"members.{i}.member_id: the member is listed twice")
        seen.add(member.member_id)
        months: set[str] = set()
        for j, month in enumerate(member.months):
            where = f"members.{i}.months.{j}"
            if month in months:
                problems.append(f"{where}: {month} is listed twice")
                continue
            months.add(month)
            if month not in practice.ta_compliant:
                problems.append(f"{where}: {month} has no entry in ta_compliant")
                continue
            try:
                rows.append(
                    member_month(
                        member_id=member.member_id,
                        birth_date=member.birth_date,
                        gender=member.gender,
                        month=month,
                        pmpm=practice.pmpm,
                        hpi_decile=practice.hpi_decile,
                        ta_compliant=practice.ta_compliant[month],
                        risk=risk,
                    )
                )
            except PhmInputError as error:
                problems.append(f"{where}: {error}")
    if problems:
        raise PhmInputError("; ".join(problems))
    return PhmResult(member_months=tuple(rows), total_cents=sum(r.amount_cents for r in rows))
