"""What a month's program phases pay each clinic: participation and reporting amounts (`PhasePayment`).

Rules (`shared/programs/phases.py` for the program data; `docs/program.md`, "Phases"):
- the phase in force is read day by day: a clinic-month amount is prorated by the days of the month on which
  the phase was in force and the clinic was in Care Gap P4P (amount x days / days in the month, half up to
  the cent), so a phase that changes mid-month pays each phase its own days;
- reporting pays those days only when the month's files met the phase's data-submission rules: for each file
  kind, at least one file accepted from the first day of the month after through its `due_day`, and of those
  files' rows at most `max_reject_share` rejected. A file received later is late and counts for no month;
- onboarding complete is paid once per clinic, in the first month a participation phase offering it is in
  force while the clinic is in Care Gap P4P and every one of its activities was completed by the month's end
  (a `ta_engagement` row of the clinic's with status `completed`).
Entries are the deploying plan's (`payer`): clinics, not members, are paid.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from shared.logic.dates import month_end
from shared.logic.ta_engagement import COMPLETED, TaActivity
from shared.models.files import FileSubmission
from shared.models.ledger import EntryKind, LedgerEntry, Phase, PhasePayment, PhaseReason
from shared.models.members import CARE_GAP_PROGRAM, Clinic
from shared.programs.care_gap import CareGapProgram, ProgramCatalog
from shared.programs.phases import ParticipationPhase, ReportingPhase, SubmissionRules

ONBOARDING_PERIOD = "onboarding"
"""The period of the one-time onboarding payment: once per clinic, whatever the year."""


def month_days(month: str) -> list[date]:
    """Every day of a `YYYY-MM` month."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    return [first + timedelta(days=n) for n in range(calendar.monthrange(first.year, first.month)[1])]


def due_date(month: str, rules: SubmissionRules) -> date:
    """The last day a month's files are on time: `due_day` of the month after."""
    last = month_end(month)
    after = last + timedelta(days=1)
    return after.replace(day=rules.due_day)


def submission_met(
    rules: SubmissionRules, month: str, files: Iterable[FileSubmission]
) -> tuple[bool, str, tuple[str, ...]]:
    """Whether the month's files met the rules; the rule in words (what was met, or the first kind that
    missed it and why); the files that counted (`file:<kind>:<received day>`)."""
    window = (month_end(month) + timedelta(days=1), due_date(month, rules))
    on_time: dict[str, list[FileSubmission]] = defaultdict(list)
    for f in files:
        if window[0] <= f.received_on <= window[1]:
            on_time[f.kind.value].append(f)
    limit = f"{rules.max_reject_share * 100:.2f}%"
    kinds = ", ".join(k.value for k in rules.file_kinds)
    refs: list[str] = []
    for kind in rules.file_kinds:
        found = on_time.get(kind.value, [])
        if not found:
            return False, f"no {kind.value} file accepted between {window[0]} and {window[1]}", ()
        read = sum(f.rows_read for f in found)
        rejected = sum(f.rejected for f in found)
        if read and Decimal(rejected) / Decimal(read) > rules.max_reject_share:
            return False, f"{kind.value} files rejected {rejected} of {read} rows (at most {limit})", ()
        refs += [f"file:{kind.value}:{f.received_on.isoformat()}" for f in found]
    return True, f"{kinds} accepted by {window[1]} with at most {limit} of rows rejected", tuple(refs)


def onboarded_on(activities: Iterable[TaActivity], names: Iterable[str]) -> dict[str, date]:
    """The day each practice completed the last of the activities `names` (practices missing one are left
    out): the first completed day of each, the latest of those."""
    wanted = set(names)
    first: dict[str, dict[str, date]] = defaultdict(dict)
    for row in activities:
        if row.status == COMPLETED and row.activity in wanted:
            days = first[row.practice_id]
            days[row.activity] = min(days.get(row.activity, row.activity_date), row.activity_date)
    return {p: max(days.values()) for p, days in first.items() if set(days) == wanted}


def _cents(amount: Decimal, days: int, of: int) -> int:
    return int((amount * 100 * days / of).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _entry(
    *,
    clinic_id: str,
    program: CareGapProgram,
    basis: PhasePayment,
    cents: int,
    period: str,
    on: date,
    month: str,
    refs: tuple[str, ...],
    run_id: str,
    payer: str,
) -> LedgerEntry:
    return LedgerEntry(
        program=CARE_GAP_PROGRAM,
        payer=payer,
        clinic_id=clinic_id,
        member_id="",
        period=period,
        kind=EntryKind.EARN,
        basis=basis,
        amount_cents=cents,
        rule_version=program.version,
        evidence_refs=refs,
        action_date=on,
        earned_month=month,
        run_id=run_id,
    )


PhaseDays = dict[tuple[str, date], tuple[CareGapProgram, ParticipationPhase | ReportingPhase, list[date]]]


def _phase_days(catalog: ProgramCatalog, clinic: Clinic, month: str) -> PhaseDays:
    """The clinic's days in Care Gap P4P in the month under each participation or reporting phase, by
    (version, phase start)."""
    found: PhaseDays = {}
    for day in month_days(month):
        program = catalog.find(day)
        phase = program.phase_on(day) if program else None
        if program is None or not isinstance(phase, ParticipationPhase | ReportingPhase):
            continue
        if clinic.in_care_gap_on(day):
            found.setdefault((program.version, phase.effective_from), (program, phase, []))[2].append(day)
    return found


def month_phase_payments(
    *,
    clinics: Mapping[str, Clinic],
    catalog: ProgramCatalog,
    month: str,
    files: Iterable[FileSubmission],
    activities: Iterable[TaActivity],
    run_id: str,
    payer: str,
) -> list[LedgerEntry]:
    """Every phase payment the month's phases support, per clinic (onboarding included whether or not an
    earlier month paid it: the ledger's deterministic ids keep it to once)."""
    files, activities = list(files), list(activities)
    of = len(month_days(month))
    last = month_end(month)
    met_by: dict[tuple[str, date], tuple[bool, str, tuple[str, ...]]] = {}
    onboarded: dict[tuple[str, date], dict[str, date]] = {}
    out: list[LedgerEntry] = []
    for clinic_id, clinic in sorted(clinics.items()):
        for key, (program, phase, days) in sorted(_phase_days(catalog, clinic, month).items()):
            span = f"{days[0]} to {days[-1]}"
            common = {"phase_from": phase.effective_from, "month": month, "days": len(days)}
            reason: PhaseReason
            if isinstance(phase, ReportingPhase):
                if key not in met_by:
                    met_by[key] = submission_met(phase.submission, month, files)
                met, rule, refs = met_by[key]
                if not met:
                    continue
                reason, rule = "reporting_month", f"{rule}; in Care Gap P4P {len(days)} of {of} days ({span})"
            else:
                reason, refs = "enrolled_month", ()
                rule = f"in Care Gap P4P {len(days)} of {of} days ({span})"
            basis = PhasePayment(
                phase=Phase(phase.phase),
                reason=reason,
                amount=phase.per_clinic_month,
                days_in_month=of,
                rule=rule,
                **common,
            )
            cents = _cents(phase.per_clinic_month, len(days), of)
            if cents:
                entry = _entry(
                    clinic_id=clinic_id,
                    program=program,
                    basis=basis,
                    cents=cents,
                    period=month,
                    on=last,
                    month=month,
                    refs=refs,
                    run_id=run_id,
                    payer=payer,
                )
                out.append(entry)
            if isinstance(phase, ParticipationPhase) and phase.onboarding_complete > 0:
                if key not in onboarded:
                    onboarded[key] = onboarded_on(activities, phase.onboarding_activities)
                done = onboarded[key].get(clinic_id)
                if done is None or done > last:
                    continue
                names = ", ".join(phase.onboarding_activities)
                one_time = PhasePayment(
                    phase=Phase.PARTICIPATION,
                    reason="onboarding_complete",
                    amount=phase.onboarding_complete,
                    days_in_month=0,
                    rule=f"onboarding complete on {done}: {names}",
                    **(common | {"days": 0}),
                )
                refs = tuple(f"ta:{name}" for name in phase.onboarding_activities)
                out.append(
                    _entry(
                        clinic_id=clinic_id,
                        program=program,
                        basis=one_time,
                        cents=_cents(phase.onboarding_complete, 1, 1),
                        period=ONBOARDING_PERIOD,
                        on=done,
                        month=month,
                        refs=refs,
                        run_id=run_id,
                        payer=payer,
                    )
                )
    # One onboarding per clinic even when two participation phases of the month offer it: the later one.
    by_id = {e.entry_id: e for e in out}
    return sorted(by_id.values(), key=lambda e: (e.clinic_id, *e.basis.slot_key()))


def reporting_due(catalog: ProgramCatalog, month: str) -> date | None:
    """The latest due date of the reporting phases in force during the month (None when none is): a final
    run waits for it, so files still on time are counted."""
    dues = []
    for day in month_days(month):
        program = catalog.find(day)
        phase = program.phase_on(day) if program else None
        if isinstance(phase, ReportingPhase):
            dues.append(due_date(month, phase.submission))
    return max(dues, default=None)
