"""The gap engine: per member and action, what is open, closed, not applicable or coming due, the next
step, its due date and the SVUs at stake, as known on a date."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from shared.logic.counting import (
    ADHERENCE_THRESHOLD,
    dose_window,
    proportion_of_days_covered,
    refill_key,
    refill_window_end,
    window_bounds,
)
from shared.logic.eligibility import has_conditions, in_denominator
from shared.logic.occurrences import (
    MemberView,
    Occurrence,
    StepCompletion,
    first_completions,
    historical_conditions,
    occurrences,
)
from shared.models.actions import ActionCode, Step, Track
from shared.models.evidence import Evidence, EvidenceSource
from shared.models.gaps import CompletedStep, Gap, GapStatus
from shared.models.members import EligibilitySpan, MemberProfile
from shared.programs.care_gap import ActionDefinition, CareGapProgram
from shared.programs.menu import FrequencyPer

__all__ = ["StepCompletion", "build_gap", "member_gaps", "step_completions"]

PROSPECTIVE_DAYS = 60
"""A gap whose window opens within this many days is shown as prospective (due soon)."""


def step_completions(
    action: ActionDefinition, evidence: Iterable[Evidence], period: str
) -> dict[Step, StepCompletion]:
    """First completion of each step of `action` in calendar-year `period` (see `occurrences`)."""
    return first_completions(action, (e for e in evidence if e.action == action.code and e.period == period))


def _covered(
    spans: Iterable[EligibilitySpan], action: ActionDefinition, first: date, last: date
) -> list[date]:
    """Start dates (clipped to `first`) of spans under the action's lines of business that touch the range."""
    return [
        max(s.start, first)
        for s in spans
        if s.line_of_business in action.lines_of_business
        and s.start <= last
        and (s.end is None or s.end >= first)
    ]


class _Context:
    """What every gap of one member shares: the member, the program, the track and the dates."""

    def __init__(
        self, view: MemberView, program: CareGapProgram, track: Track | None, as_of: date, year: int
    ) -> None:
        self.view, self.program, self.track, self.as_of, self.year = view, program, track, as_of, year
        self.year_start, self.year_end = date(year, 1, 1), date(year, 12, 31)
        # The day eligibility is judged on: today, kept inside the year asked about.
        self.today = min(max(as_of, self.year_start), self.year_end)

    def svu(self, action: ActionDefinition, steps: Iterable[Step]) -> Decimal:
        if self.track is None:
            return Decimal(0)
        return sum((self.program.svu(self.track, action.code, s) for s in steps), Decimal(0))

    def base(self, action: ActionDefinition, period: str) -> dict[str, object]:
        return {"member_id": self.view.profile.member_id, "action": action.code, "period": period}

    def eligible(self, action: ActionDefinition) -> bool:
        return in_denominator(self.view.profile, action, self.year, self.today) and has_conditions(
            action, self.view.conditions, self.year
        )


def _completed(occurrence: Occurrence | None, action: ActionDefinition) -> tuple[CompletedStep, ...]:
    if occurrence is None:
        return ()
    return tuple(
        CompletedStep(
            step=c.step,
            action_date=c.evidence.action_date,
            earned_month=c.earned_month,
            evidence_id=c.evidence.evidence_id,
            reference=c.evidence.reference,
        )
        for step in action.steps
        if (c := occurrence.completions.get(step)) is not None
    )


def _gap(
    ctx: _Context,
    action: ActionDefinition,
    period: str,
    occurrence: Occurrence | None,
    *,
    due: date,
    opens: date | None = None,
    extra_at_stake: Decimal = Decimal(0),
    tags: tuple[str, ...] = (),
) -> Gap:
    done = occurrence.completions if occurrence else {}
    remaining = [s for s in action.steps if s not in done]
    completed = _completed(occurrence, action)
    if not remaining:
        return Gap(**ctx.base(action, period), status=GapStatus.CLOSED, completed_steps=completed, tags=tags)
    status = GapStatus.PROSPECTIVE if opens is not None and ctx.as_of < opens else GapStatus.OPEN
    return Gap(
        **ctx.base(action, period),
        status=status,
        completed_steps=completed,
        next_action=remaining[0],
        due_date=due,
        svu_at_stake=ctx.svu(action, remaining) + extra_at_stake,
        tags=tags,
    )


def _not_applicable(ctx: _Context, action: ActionDefinition, period: str) -> Gap:
    return Gap(**ctx.base(action, period), status=GapStatus.NOT_APPLICABLE)


def _condition_dates(ctx: _Context, action: ActionDefinition, year: int) -> list[date]:
    return [
        d for n in action.eligibility.conditions for d in ctx.view.conditions.get(n, ()) if d.year == year
    ]


def _annual(ctx: _Context, action: ActionDefinition, found: list[Occurrence]) -> list[Gap]:
    gaps = [_annual_gap(ctx, action, found)]
    days = action.due_days_after_condition
    if days is not None and ctx.as_of.year == ctx.year:
        # A condition late last year is still due this year (OMW: a November fracture has until May):
        # its gap stays on the registry until its window closes, as its evidence still earns.
        last_year = _condition_dates(ctx, action, ctx.year - 1)
        if last_year and ctx.as_of <= max(last_year) + timedelta(days=days):
            before = _Context(ctx.view, ctx.program, ctx.track, ctx.as_of, ctx.year - 1)
            gaps.append(_annual_gap(before, action, found))
    return gaps


def _annual_gap(ctx: _Context, action: ActionDefinition, found: list[Occurrence]) -> Gap:
    period = str(ctx.year)
    starts = _covered(ctx.view.spans, action, ctx.year_start, ctx.year_end)
    if not starts or not ctx.eligible(action):
        return _not_applicable(ctx, action, period)
    occurrence = next((o for o in found if o.period == period), None)
    due: date = ctx.year_end
    tags: tuple[str, ...] = ()
    for tag in action.tags:
        enrolled = _first_enrollment(ctx.view.spans, tag.line_of_business)
        if enrolled is not None and enrolled.year == ctx.year:
            due, tags = enrolled + timedelta(days=tag.within_days_of_enrollment), (tag.name,)
    if action.due_days_after_condition is not None:
        dates = _condition_dates(ctx, action, ctx.year)
        if dates:
            due = max(dates) + timedelta(days=action.due_days_after_condition)
    opens = min(starts)
    if action.visit_window is not None:
        # An age window (LSC: by the 2nd birthday) closes the chance to earn, as for visits and doses.
        first, last = window_bounds(ctx.view.profile.birth_date, action.visit_window)
        due, opens = min(due, last), max(opens, first)
        done = occurrence is not None and len(occurrence.completions) == len(action.steps)
        if ctx.as_of > last and not done:
            return _not_applicable(ctx, action, period)
    return _gap(ctx, action, period, occurrence, due=due, opens=opens, tags=tags)


def _first_enrollment(spans: Iterable[EligibilitySpan], lob: object) -> date | None:
    starts = [s.start for s in spans if s.line_of_business == lob]
    return min(starts, default=None)


def _results(ctx: _Context, action: ActionDefinition, found: list[Occurrence]) -> list[Gap]:
    period = str(ctx.year)
    starts = _covered(ctx.view.spans, action, ctx.year_start, ctx.year_end)
    if not starts or not ctx.eligible(action) or action.results is None:
        return [_not_applicable(ctx, action, period)]
    readings = [o for o in found if o.year == ctx.year and o.reading is not None]
    latest = readings[-1].reading if readings else None
    best = action.results.tiers[0]
    if latest is not None and latest.rank == 0:
        return [
            Gap(
                **ctx.base(action, period),
                status=GapStatus.CLOSED,
                result_tier=latest.tier,
                completed_steps=_completed(readings[-1], action),
            )
        ]
    extra = Decimal(0)
    if ctx.track is not None:
        extra = ctx.program.result_svu(ctx.track, action.code, best)
        if latest is not None:
            extra += ctx.program.result_svu(ctx.track, action.code, action.results.improvement)
    gap = _gap(ctx, action, period, None, due=ctx.year_end, opens=min(starts), extra_at_stake=extra)
    return [gap.model_copy(update={"result_tier": latest.tier if latest else None})]


def _refills(ctx: _Context, action: ActionDefinition, found: list[Occurrence]) -> list[Gap]:
    quarterly = action.frequency.per is FrequencyPer.QUARTER
    period = refill_key(ctx.today, quarterly=quarterly)
    if not _covered(ctx.view.spans, action, ctx.today, ctx.today) or not ctx.eligible(action):
        return [_not_applicable(ctx, action, period)]
    occurrence = next((o for o in found if o.period == period), None)
    return [_gap(ctx, action, period, occurrence, due=refill_window_end(period))]


def _holds(occurrence: Occurrence, day: date) -> bool:
    first, last = occurrence.window_start, occurrence.due_date
    return first is not None and last is not None and first <= day <= last


def _adherence(ctx: _Context, action: ActionDefinition, found: list[Occurrence]) -> list[Gap]:
    period = str(ctx.year)
    if not _covered(ctx.view.spans, action, ctx.year_start, ctx.year_end) or not ctx.eligible(action):
        return [_not_applicable(ctx, action, period)]
    # Adherence counts every fill, whether or not it confirmed an attested prescription.
    fills = [
        (e.action_date, e.days_supply or 0)
        for e in ctx.view.by_action.get(action.code, ())
        if e.source is EvidenceSource.PHARMACY_CLAIM and e.action_date.year == ctx.year
    ]
    current = next((o for o in found if _holds(o, ctx.today)), None)
    if not fills:
        return [_gap(ctx, action, period, current, due=ctx.year_end)]
    start = min(d for d, _ in fills)
    pdc = proportion_of_days_covered(fills, start, max(start, ctx.today))
    runs_out = max(d + timedelta(days=s) for d, s in fills)
    detail = f"PDC {int(pdc * 100)}%"
    if pdc >= ADHERENCE_THRESHOLD and runs_out > ctx.today:
        return [Gap(**ctx.base(action, period), status=GapStatus.CLOSED, detail=detail)]
    gap = _gap(ctx, action, period, current, due=min(max(runs_out, ctx.today), ctx.year_end))
    if gap.status is GapStatus.CLOSED:  # this month's steps are done but adherence is short
        gap = gap.model_copy(
            update={"status": GapStatus.OPEN, "next_action": action.first_step, "due_date": runs_out}
        )
    return [gap.model_copy(update={"detail": detail})]


def _window_gap(
    ctx: _Context,
    action: ActionDefinition,
    period: str,
    first: date,
    last: date,
    done: list[Occurrence],
    slots: int,
) -> Gap:
    if ctx.as_of > last or ctx.as_of < first - timedelta(days=PROSPECTIVE_DAYS):
        finished = len(done) >= slots and all(len(o.completions) == len(action.steps) for o in done)
        if finished and ctx.as_of > last:
            return Gap(
                **ctx.base(action, period),
                status=GapStatus.CLOSED,
                completed_steps=_completed(done[-1], action),
            )
        return _not_applicable(ctx, action, period)
    if not _covered(ctx.view.spans, action, min(ctx.as_of, last), last):
        return _not_applicable(ctx, action, period)
    if not in_denominator(ctx.view.profile, action, ctx.year, max(ctx.as_of, first)):
        return _not_applicable(ctx, action, period)
    open_slot = next((o for o in done if len(o.completions) < len(action.steps)), None)
    missing = slots - len(done)
    if open_slot is None and missing <= 0:
        return Gap(
            **ctx.base(action, period), status=GapStatus.CLOSED, completed_steps=_completed(done[-1], action)
        )
    extra = ctx.svu(action, action.steps) * max(missing - (0 if open_slot else 1), 0)
    return _gap(ctx, action, period, open_slot, due=last, opens=first, extra_at_stake=extra)


def _visits(ctx: _Context, action: ActionDefinition, found: list[Occurrence]) -> list[Gap]:
    assert action.visit_window is not None
    first, last = window_bounds(ctx.view.profile.birth_date, action.visit_window)
    return [_window_gap(ctx, action, str(last.year), first, last, found, action.frequency.count)]


def _doses(ctx: _Context, action: ActionDefinition, found: list[Occurrence]) -> list[Gap]:
    assert action.doses is not None
    # Seasons are found from the day inside the year asked about (as_of may be date.max for year-end rates).
    first, last = dose_window(action.doses, ctx.view.profile.birth_date, ctx.today)
    period = str(first.year if action.doses.window is None else last.year)
    mine = [o for o in found if o.due_date == last]
    if not mine:
        return [_window_gap(ctx, action, period, first, last, [], 1)]
    return [_window_gap(ctx, action, period, first, last, mine, 1)]


def _recapture(ctx: _Context, action: ActionDefinition, found: list[Occurrence]) -> list[Gap]:
    if not _covered(ctx.view.spans, action, ctx.year_start, ctx.year_end) or not ctx.eligible(action):
        return []
    gaps = []
    for name in historical_conditions(ctx.view, action, ctx.year):
        period = f"{ctx.year}/{name}"
        occurrence = next((o for o in found if o.period == period), None)
        gaps.append(
            _gap(ctx, action, period, occurrence, due=ctx.year_end).model_copy(update={"detail": name})
        )
    return gaps


_KINDS = {
    FrequencyPer.CALENDAR_YEAR: _annual,
    FrequencyPer.DATE_OF_SERVICE: _results,
    FrequencyPer.MONTH: _refills,
    FrequencyPer.QUARTER: _refills,
    FrequencyPer.PRESCRIPTION: _adherence,
    FrequencyPer.MONTHS_15: _visits,
    FrequencyPer.DOSE: _doses,
    FrequencyPer.YEAR_PER_CONDITION: _recapture,
}


def action_gaps(
    view: MemberView,
    action: ActionDefinition,
    program: CareGapProgram,
    *,
    as_of: date,
    track: Track | None,
    period_year: int | None = None,
) -> list[Gap]:
    """The gaps of one action for a member already cut to what was known on `as_of`."""
    ctx = _Context(view, program, track, as_of, period_year or as_of.year)
    return _KINDS[action.frequency.per](ctx, action, occurrences(view, action))


def member_gaps(
    view: MemberView,
    program: CareGapProgram,
    *,
    as_of: date,
    track: Track | None,
    actions: Iterable[ActionCode] | None = None,
) -> list[Gap]:
    """Every gap of every action (or of `actions`) for one member on `as_of` (HCC-DX: one per condition)."""
    known = view.known(as_of)
    wanted = set(actions) if actions is not None else None
    gaps: list[Gap] = []
    for action in program.actions:
        if wanted is None or action.code in wanted:
            gaps += action_gaps(known, action, program, as_of=as_of, track=track)
    return gaps


def build_gap(
    *,
    profile: MemberProfile,
    spans: Iterable[EligibilitySpan],
    evidence: Iterable[Evidence],
    action: ActionDefinition,
    program: CareGapProgram,
    period_year: int,
    as_of: date,
    track: Track | None = None,
) -> Gap:
    """The gap of one action for one member in one year, as known on `as_of` (the first of several)."""
    view = MemberView.of(profile, spans, evidence).known(as_of)
    found = action_gaps(view, action, program, as_of=as_of, track=track, period_year=period_year)
    if not found:
        return Gap(
            member_id=profile.member_id,
            action=action.code,
            period=str(period_year),
            status=GapStatus.NOT_APPLICABLE,
        )
    return found[0]
