"""The monthly SVU run (Care Gap P4P): every unpaid step earned in the month or before, paid per action.

Before a final month opens: the month has ended, no final run of a later month exists (its settling would
reverse what later months paid), no earlier month's final run is unfinished, and some ingested
eligibility covers the month (a month closed before its roster arrived would pay nothing and lock).
Each member settles against its ledger history (`shared/logic/reversals.py`); a clinic whose month nets
negative is carried to the next run at aggregation.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date

from shared.errors import DomainError
from shared.logic.awards import member_awards
from shared.logic.dates import month_end
from shared.logic.eligibility import span_on
from shared.logic.gaps import member_gaps
from shared.logic.occurrences import MemberView
from shared.logic.phases import reporting_due
from shared.logic.reversals import carry_balances, settle_member, settle_run_entries
from shared.models.gaps import Gap, GapStatus
from shared.models.ledger import LedgerEntry
from shared.models.members import CARE_GAP_PROGRAM, Clinic, MemberFacts
from shared.models.runs import RunKind, RunMode, RunRef, RunRequest, ShardOutput
from shared.programs.catalog import ProgramSet
from shared.services.kinds.base import (
    RunContext,
    RunInputError,
    RunKindModule,
    append_member_entries,
    earnings_key,
)
from shared.services.kinds.phase_payments import settle_phase_payments
from shared.services.run_records import final_runs


class MonthNotEndedError(DomainError):
    """A final monthly run waits for its month to end."""


class LaterRunExistsError(DomainError):
    """A final run of a later month exists: this month's settling would reverse what that month paid."""


class EarlierRunOpenError(DomainError):
    """An earlier month's final run is OPEN or FAILED: finish it first, or its entries would be skipped."""


class NoEligibilityError(DomainError):
    """No ingested eligibility file covers the month: a run now would close it with nothing to pay."""


class ReportingNotDueError(DomainError):
    """The month pays for reporting and its files are not yet due: a run now could miss files on time."""


class CarriedBalanceChangedError(DomainError):
    """A resumed run found its own carried balance recorded with another amount."""


class MonthlySvu(RunKindModule):
    """Care Gap P4P's monthly SVU payment run."""

    kind = RunKind.MONTHLY
    legacy_program = CARE_GAP_PROGRAM

    def pages_as_of(self, period: str, today: date) -> date:
        return month_end(period)

    def period(self, request: RunRequest) -> str:
        if request.quarter is not None:
            raise RunInputError("a monthly run takes `month` (YYYY-MM), not `quarter`")
        if request.month is None:
            raise RunInputError("a monthly run needs `month` (YYYY-MM)")
        if int(request.month[:4]) != request.program_year:
            raise RunInputError(f"month {request.month} is outside program_year {request.program_year}")
        return request.month

    def check_open(self, ctx: RunContext, request: RunRequest, period: str) -> None:
        today = ctx.now().date()
        last_day = month_end(period)
        if today <= last_day:
            raise MonthNotEndedError(
                f"month {period} ends on {last_day.isoformat()} (today is {today.isoformat()}); "
                "a final run waits for the month's end: run a preview instead"
            )
        runs = final_runs(ctx.runs, self.kind)
        later = sorted(r.run_id for r in runs if r.period > period)
        if later:
            raise LaterRunExistsError(
                f"final run(s) of later months exist ({', '.join(later)}): {period} can no longer be "
                "run final; its late evidence is paid by the next open month"
            )
        for other in sorted(runs, key=lambda r: r.period):
            if other.period < period and not other.status.closed:
                raise EarlierRunOpenError(
                    f"run {other.run_id} is {other.status.value}; start it again to finish it first"
                )
        first_day = date(int(period[:4]), int(period[5:7]), 1)
        if not any(c.overlaps(first_day, last_day) for c in ctx.files.eligibility_coverage()):
            raise NoEligibilityError(
                f"no ingested eligibility file covers {period}: drop the month's roster under "
                "landing/eligibility/ before its final run"
            )
        due = reporting_due(ctx.catalog, period)
        if due is not None and today <= due:
            raise ReportingNotDueError(
                f"month {period} pays for reporting and its files are due by {due.isoformat()} (today is "
                f"{today.isoformat()}); a final run waits for the day after: run a preview instead"
            )

    def earn(
        self, ctx: RunContext, run: RunRef, shard_id: str, members: Sequence[MemberFacts]
    ) -> ShardOutput:
        """Settle each member against its ledger history: reversals of lost awards, then new awards.

        History includes this run's own entries, so a retried, resumed or recalculated shard appends only
        what is missing and reports everything this run recorded for its members.
        """
        clinics = ctx.gaps.clinics()
        ours: list[LedgerEntry] = []
        skipped = 0
        preview = run.mode is RunMode.PREVIEW
        as_of = month_end(run.period)
        changed_gaps: list[Gap] = []
        digests: dict[str, dict[str, str]] = {}
        copies: list[LedgerEntry] = []
        for member in members:
            member_id = member.profile.member_id
            supported = member_awards(
                member,
                clinics=clinics,
                catalog=ctx.catalog,
                through_month=run.period,
                run_id=run.run_id,
                payer=ctx.payer,
                view=ctx.memo.view(member) if ctx.memo is not None else None,
            )
            state = ctx.ledger.member_state(member_id)
            # Only Care Gap's awards settle here: a member's entries of other programs (APC's PMPM
            # member-months) are no award of this run to reverse.
            paid = [e for e in state.entries if e.program == CARE_GAP_PROGRAM]
            wanted = settle_member(paid, supported, run_id=run.run_id, month=run.period)
            appended, earlier = append_member_entries(ctx, run, state.entries, wanted, copies)
            ours += appended
            skipped += earlier
            if preview:
                continue
            digest = dict(state.gap_digest)
            for gap in member_gaps_on(ctx, member, clinics, as_of):
                key, fingerprint = f"{gap.action}#{gap.period}", _fingerprint(gap)
                # A not-applicable gap of a month, quarter or visit that never applied is not worth an item.
                never_applied = gap.status is GapStatus.NOT_APPLICABLE and key not in digest
                if never_applied and gap.period != str(as_of.year):
                    continue
                if digest.get(key) != fingerprint:
                    changed_gaps.append(gap)
                    digest[key] = fingerprint
            if digest != state.gap_digest:
                digests[member_id] = digest
        if not preview:
            # The history copies after their entries, gaps before digests: a crash in between heals on
            # the retry (an entry met again gets its copy; the same gaps are rewritten).
            ctx.ledger.index_members(copies)
            ctx.gaps.put_gaps(changed_gaps)
            ctx.ledger.put_gap_digests(digests)
        unique = {e.entry_id: e for e in ours}
        return ShardOutput(
            run_id=run.run_id,
            shard_id=shard_id,
            entries=tuple(unique[i] for i in sorted(unique)),
            skipped_paid_earlier=skipped,
        )

    def settle(self, ctx: RunContext, run: RunRef, outputs: Sequence[ShardOutput]) -> list[LedgerEntry]:
        """The month's phase payments (participation, reporting: `phase_payments.py`); then bring in the
        previous run's carried balances and carry out every clinic still negative."""
        phased = settle_phase_payments(ctx, run)
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for e in (*(e for out in outputs for e in out.entries), *phased):
            totals[(e.payer, e.clinic_id)] += e.amount_cents
        # The latest closed final monthly run before this month: its carried balances open this run.
        closed = [r for r in final_runs(ctx.runs, self.kind) if r.period < run.period and r.status.closed]
        previous = max(closed, key=lambda r: r.period, default=None)
        carried_in = ctx.ledger.balances(previous.run_id) if previous else []
        wanted = carry_balances(
            totals,
            carried_in,
            program=CARE_GAP_PROGRAM,
            run_id=run.run_id,
            month=run.period,
            as_of=month_end(run.period),
        )
        if run.mode is RunMode.PREVIEW:
            return phased + wanted
        ctx.objects.put_json(ctx.curated, earnings_key(run.run_id), _earnings(outputs))
        # A resumed run finds what it recorded; a recalculated one reverses the balances that changed.
        own = ctx.ledger.balances(run.run_id)
        for entry in settle_run_entries(own, wanted, run_id=run.run_id, month=run.period):
            stored, _ = ctx.ledger.record(entry)
            if stored.amount_cents != entry.amount_cents or stored.run_id != run.run_id:
                raise CarriedBalanceChangedError(
                    f"a carried balance of run {run.run_id} changed since it was recorded"
                )
            own.append(stored)
        return phased + sorted({e.entry_id: e for e in own}.values(), key=lambda e: e.entry_id)

    def single_operator(self, programs: ProgramSet, period: str) -> bool:
        program = programs.care_gap.find(month_end(period))
        return bool(program and program.approval.single_operator)

    def request_fields(self, period: str) -> dict[str, str]:
        return {"month": period}


def _earnings(outputs: Sequence[ShardOutput]) -> dict[str, dict[str, int]]:
    """Net Care Gap earnings of the run's awards and reversals, per clinic and year earned."""
    found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for out in outputs:
        for e in out.entries:
            if not e.is_balance and e.program == CARE_GAP_PROGRAM:
                found[e.clinic_id][e.earned_month[:4]] += e.amount_cents
    return {c: dict(sorted(years.items())) for c, years in sorted(found.items())}


def member_gaps_on(
    ctx: RunContext, member: MemberFacts, clinics: Mapping[str, Clinic], as_of: date
) -> list[Gap]:
    """Every gap of the member in the Care Gap version in force on `as_of`, as known then, at the clinic the
    member is assigned to that day (none when unassigned)."""
    program = ctx.catalog.find(as_of)
    if program is None:
        return []
    span = span_on(member.spans, as_of)
    clinic = clinics.get(span.clinic_id) if span else None
    # member_gaps, not build_gap per action: HCC-DX has one gap per condition.
    track = clinic.track if clinic else None
    if ctx.memo is not None:  # a shard's: its page facts ask the same question of the same member
        return ctx.memo.gaps(member, program, as_of=as_of, track=track)
    return member_gaps(MemberView.of_facts(member), program, as_of=as_of, track=track)


def _fingerprint(gap: Gap) -> str:
    """A short content hash of a gap item: equal hashes mean the stored item is already current. The model's
    JSON is canonical (its fields in declared order; tuples, no dicts)."""
    return hashlib.sha256(gap.model_dump_json().encode()).hexdigest()[:16]
