"""The registry clinics work from: each assigned member's open gaps ranked by the money at stake, and the
chart-request list of completions attested but never confirmed by a claim (FAQ Q13).

Both read the gap state through an injected `GapStateRepository`; nothing here writes except `store`,
which records the computed gaps (the GapState table's `GAP#<action>#<period>` items).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from shared.csv_cells import csv_bytes
from shared.dal.gap_state import GapStateRepository
from shared.logic.gaps import member_gaps
from shared.logic.money import amount_cents, format_cents
from shared.logic.occurrences import MemberView, occurrences
from shared.models.actions import ActionCode, Step
from shared.models.evidence import EvidenceSource
from shared.models.gaps import Gap, GapStatus
from shared.models.members import Clinic
from shared.observability import logger
from shared.programs.care_gap import CareGapProgram, ProgramCatalog

DEFAULT_CHART_REQUEST_DAYS = 120
"""Q13's example: a screening attested in January without a claim by June is worth a chart request."""

SHOWN = frozenset({GapStatus.OPEN, GapStatus.PROSPECTIVE})
VIEW_BATCH = 100
"""Members read at once for a registry: one batch read of profiles (DynamoDB takes 100 keys a call)."""


class UnknownClinicError(LookupError):
    """The clinic id is not in the gap state's clinic list."""


class RegistryRow(BaseModel):
    """One open (or coming due) gap of an assigned member, with what closing it is worth."""

    model_config = ConfigDict(frozen=True)

    clinic_id: str
    member_id: str
    action: ActionCode
    action_name: str
    period: str
    status: GapStatus
    next_action: Step | None
    due_date: date | None
    svu_at_stake: str
    cents_at_stake: int
    tags: tuple[str, ...] = ()
    detail: str | None = None


class ChartRequest(BaseModel):
    """A completion the clinic attested that no claim or supplemental record has confirmed."""

    model_config = ConfigDict(frozen=True)

    clinic_id: str
    member_id: str
    action: ActionCode
    period: str
    step: Step
    attested_on: date
    reference: str
    days_unconfirmed: int


class RegistryService:
    """Registry and chart requests of one clinic on a date."""

    def __init__(
        self,
        *,
        gaps: GapStateRepository,
        catalog: ProgramCatalog,
        chart_request_days: int = DEFAULT_CHART_REQUEST_DAYS,
    ) -> None:
        self._gaps = gaps
        self._catalog = catalog
        self._chart_request_days = chart_request_days

    def _clinic(self, clinic_id: str) -> Clinic:
        clinic = self._gaps.clinics().get(clinic_id)
        if clinic is None:
            raise UnknownClinicError(f"clinic {clinic_id} is not known")
        return clinic

    def _views(self, clinic_id: str) -> Iterator[MemberView]:
        # A hundred members at a time: one batch read of their profiles, and no more of them held at once.
        ids = list(self._gaps.member_ids(clinic_id))
        for start in range(0, len(ids), VIEW_BATCH):
            for facts in self._gaps.members(ids[start : start + VIEW_BATCH]):
                yield MemberView.of_facts(facts)

    def member_gaps(self, clinic_id: str, as_of: date) -> list[Gap]:
        """Every gap (any status) of every member assigned to the clinic, as known on `as_of`."""
        clinic = self._clinic(clinic_id)
        return clinic_gaps(clinic, self._catalog.in_force(as_of), self._views(clinic_id), as_of)

    def registry(self, clinic_id: str, as_of: date) -> list[RegistryRow]:
        """Open and coming-due gaps of the clinic's members, most money at stake first."""
        clinic = self._clinic(clinic_id)
        rows = ranked_rows(clinic, self._catalog.in_force(as_of), self.member_gaps(clinic_id, as_of), as_of)
        logger.info("registry built", clinic_id=clinic_id, row_count=len(rows))
        return rows

    def store(self, clinic_id: str, as_of: date) -> int:
        """Write the clinic's members' gaps to the gap state; returns how many were written."""
        return self._gaps.put_gaps(self.member_gaps(clinic_id, as_of))

    def chart_requests(
        self, clinic_id: str, as_of: date, after_days: int | None = None
    ) -> list[ChartRequest]:
        """Completions attested `after_days`+ days before `as_of` with no confirming record by then."""
        self._clinic(clinic_id)
        wait = self._chart_request_days if after_days is None else after_days
        program = self._catalog.in_force(as_of)
        found = unconfirmed_completions(clinic_id, program, self._views(clinic_id), as_of, wait)
        logger.info("chart requests listed", clinic_id=clinic_id, request_count=len(found))
        return found


def registry_order(row: RegistryRow) -> tuple[int, date, str, str, str]:
    """The registry's order: most money at stake first, then the earliest due."""
    return (-row.cents_at_stake, row.due_date or date.max, row.member_id, row.action, row.period)


def chart_order(request: ChartRequest) -> tuple[int, str, str, str]:
    """Chart requests' order: the longest waiting first."""
    return (-request.days_unconfirmed, request.member_id, request.action, request.period)


def clinic_gaps(
    clinic: Clinic, program: CareGapProgram, views: Iterable[MemberView], as_of: date
) -> list[Gap]:
    """Every gap (any status) of these members of the clinic, as known on `as_of`."""
    found: list[Gap] = []
    for view in views:
        found += member_gaps(view, program, as_of=as_of, track=clinic.track)
    return found


def unconfirmed_completions(
    clinic_id: str, program: CareGapProgram, views: Iterable[MemberView], as_of: date, wait: int
) -> list[ChartRequest]:
    """The chart requests of these members of the clinic: completions it attested `wait`+ days before
    `as_of` that no record confirms by then, the longest waiting first."""
    found: list[ChartRequest] = []
    for view in views:
        found += _unconfirmed(clinic_id, program, view.known(as_of), as_of, wait)
    found.sort(key=chart_order)
    return found


def ranked_rows(
    clinic: Clinic, program: CareGapProgram, gaps: Iterable[Gap], as_of: date
) -> list[RegistryRow]:
    """The registry's rows of these gaps (any status given; open and coming-due ones kept), most money at
    stake first."""
    # One clinic on one day: its bonus rate is the same for every row, and a multiplier is the action's.
    bonus_rate = program.bonus_rate(_joined(clinic, as_of), as_of)
    multipliers: dict[str, Decimal] = {}
    rows = []
    for gap in gaps:
        if gap.status not in SHOWN or gap.svu_at_stake <= 0:
            continue
        multiplier = multipliers.get(gap.action)
        if multiplier is None:
            multiplier = multipliers[gap.action] = program.multiplier(gap.action, clinic.clinic_id, as_of)
        rows.append(_row(clinic, program, gap, multiplier, bonus_rate))
    rows.sort(key=registry_order)
    return rows


def _row(
    clinic: Clinic, program: CareGapProgram, gap: Gap, multiplier: Decimal, bonus_rate: Decimal
) -> RegistryRow:
    cents = amount_cents(
        svu=gap.svu_at_stake,
        multiplier=multiplier,
        bonus_rate=bonus_rate,
        dollar_rate=program.svu_dollar_rate,
    )
    return RegistryRow(
        clinic_id=clinic.clinic_id,
        member_id=gap.member_id,
        action=gap.action,
        action_name=program.action(gap.action).name,
        period=gap.period,
        status=gap.status,
        next_action=gap.next_action,
        due_date=gap.due_date,
        svu_at_stake=str(gap.svu_at_stake),
        cents_at_stake=cents,
        tags=gap.tags,
        detail=gap.detail,
    )


def _unconfirmed(
    clinic_id: str, program: CareGapProgram, view: MemberView, as_of: date, wait: int
) -> Iterator[ChartRequest]:
    for action in program.actions:
        for occurrence in occurrences(view, action):
            if any(e.source.confirms for e in occurrence.evidence):
                continue
            attested = sorted(
                (
                    e
                    for e in occurrence.evidence
                    if e.source is EvidenceSource.ATTESTATION
                    and e.attesting_clinic_id == clinic_id
                    and e.step is not Step.SCHEDULE
                ),
                key=lambda e: (e.action_date, e.evidence_id),
            )
            if attested and (as_of - attested[0].action_date).days >= wait:
                first = attested[0]
                yield ChartRequest(
                    clinic_id=clinic_id,
                    member_id=view.profile.member_id,
                    action=action.code,
                    period=occurrence.period,
                    step=first.step,
                    attested_on=first.action_date,
                    reference=first.reference,
                    days_unconfirmed=(as_of - first.action_date).days,
                )


REGISTRY_COLUMNS = (
    "rank,clinic_id,member_id,action,action_name,period,status,next_action,due_date,"
    "svu_at_stake,dollars_at_stake,tags,detail"
)
CHART_COLUMNS = "clinic_id,member_id,action,period,step,attested_on,days_unconfirmed,reference"


def _csv(header: str, rows: Iterable[list[object]]) -> bytes:
    # Every cell made safe to open in a spreadsheet (a clinic's or member's id, a gap's detail).
    return csv_bytes(header.split(","), rows)


def registry_csv(rows: Iterable[RegistryRow]) -> bytes:
    """The registry as CSV, ranked, dollars with two places."""
    return _csv(
        REGISTRY_COLUMNS,
        (
            [
                rank,
                r.clinic_id,
                r.member_id,
                r.action,
                r.action_name,
                r.period,
                r.status.value,
                r.next_action.value if r.next_action else "",
                r.due_date.isoformat() if r.due_date else "",
                r.svu_at_stake,
                format_cents(r.cents_at_stake),
                "|".join(r.tags),
                r.detail or "",
            ]
            for rank, r in enumerate(rows, start=1)
        ),
    )


def chart_requests_csv(rows: Iterable[ChartRequest]) -> bytes:
    """The chart-request list as CSV."""
    return _csv(
        CHART_COLUMNS,
        (
            [
                r.clinic_id,
                r.member_id,
                r.action,
                r.period,
                r.step.value,
                r.attested_on.isoformat(),
                r.days_unconfirmed,
                r.reference,
            ]
            for r in rows
        ),
    )


def _joined(clinic: Clinic, day: date) -> date:
    """When the clinic joined the program it is in on `day` (its early-adoption date)."""
    current = clinic.enrollment_on(day)
    return current.start if current else clinic.program_enrollment_date
