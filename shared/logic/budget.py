"""A program year's payouts against its funding pool (program-design step 6, `docs/program-design.md`).

When a final run is up for approval, each program it pays that names a `funding_pool` in the version in
force for the run's program year is checked: paid so far (the year's approved and paid final runs) + this
run + the rest of the year projected at this run kind's average per period so far (the kind's approved
runs of the year and this one) over the periods after this run's (none after an annual run). Over the
pool is a warning; it refuses the approval only where the program file says so
(`refuse_approval_over_pool`).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from shared.logic.benchmark import check_pool
from shared.logic.money import format_cents
from shared.models.design import PoolProjection

PERIODS_IN_YEAR = {"monthly": 12, "quarterly": 4, "annual": 1}


def periods_left(run_kind: str, period: str) -> int:
    """The periods of the run's kind still to come in its year after `period` (`2026-03` → 9, `2026-Q3` →
    1, an annual run → 0)."""
    if run_kind == "monthly":
        return 12 - int(period[5:7])
    if run_kind == "quarterly":
        return 4 - int(period[-1])
    return 0


def projected_rest(kind_cents: int, kind_runs: int, left: int) -> int:
    """The rest of the year at the kind's average per run so far, rounded half up to the cent."""
    if kind_runs <= 0 or left <= 0:
        return 0
    exact = Fraction(kind_cents * left, kind_runs)
    return int((exact * 2 + 1) // 2) if exact >= 0 else -int((-exact * 2 + 1) // 2)


def pool_projection(
    *,
    program: str,
    version: str,
    year: int,
    run_id: str,
    pool: Decimal,
    paid_cents: int,
    run_cents: int,
    rest_cents: int,
    left: int,
    refuses: bool,
) -> PoolProjection:
    """The year's projected payouts of one program against its pool, with a warning when over."""
    check = check_pool(pool, [paid_cents, run_cents, rest_cents])
    warning = None
    if check.exceeds:
        warning = (
            f"{program} {year}: paid {format_cents(paid_cents)} + this run {format_cents(run_cents)} + "
            f"projected {format_cents(rest_cents)} = {format_cents(check.projected_cents)}, over the "
            f"funding pool of {format_cents(check.pool_cents)} by {format_cents(check.over_by_cents)}"
            + (" (the program refuses approval over its pool)" if refuses else "")
        )
    return PoolProjection(
        program=program,
        version=version,
        year=year,
        run_id=run_id,
        pool_cents=check.pool_cents,
        paid_cents=paid_cents,
        run_cents=run_cents,
        projected_rest_cents=rest_cents,
        periods_left=left,
        refuses_approval=refuses,
        warning=warning,
    )
