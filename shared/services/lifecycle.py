"""What operators and approvers do to runs, through the operator API: start, recalculate, list, show,
approve, mark paid. The API records who asks (`identity`); the client never says who it is.

Before approval the run's year is set against the funding pools its programs name (paid so far, this run,
the rest projected): over a pool is a warning, a refusal only where the program file says so.

Four eyes: a run is approved only by an identity that neither started nor recalculated nor resumed it
(unless the program allows a single operator), only while it is CALCULATED and every earlier final run
of its kind is approved, and the approval is a transaction with the run's version, so a recalculation
racing it loses one way or the other. Approval writes the payment file once (If-None-Match; Object Lock
in prod) from the reviewed draft with the payee details of that moment, and keeps its SHA-256; marking
paid checks the file still has that digest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared import clock
from shared.dal.errors import AlreadyRecordedError, NotFoundError, StaleVersionError
from shared.dal.executions import ExecutionStarter
from shared.dal.gap_state import GapStateRepository
from shared.dal.objects import ObjectStore
from shared.dal.runs import RunRegistry
from shared.errors import DomainError
from shared.models.design import PoolProjection
from shared.models.runs import (
    IDENTITY_PATTERN,
    QUARTER_PATTERN,
    Approval,
    Run,
    RunKind,
    RunMode,
    RunRequest,
    RunStatus,
)
from shared.models.tables import Prefix
from shared.observability import logger
from shared.programs.catalog import ProgramSet
from shared.services.budget import check_approval, pool_projections
from shared.services.failures import fields_of
from shared.services.kinds import RunInputError, kind_of
from shared.services.run_records import RunNotFoundError, final_runs, require_run
from shared.services.runs import run_id_for
from shared.services.settlement import draft_key, sha256_of
from shared.services.statements import payment_csv, payment_lines

__all__ = [
    "ApprovalRefusedError",
    "PaymentFileChangedError",
    "RunLifecycle",
    "RunNotFoundError",
    "RunTransitionError",
    "StartedRun",
    "payment_key",
]


class RunTransitionError(DomainError):
    """The run is not in a status that allows the move (or it changed while we looked)."""


class ApprovalRefusedError(DomainError):
    """Approval refused: the approver ran the run, or an earlier run of its kind is not approved."""


class PaymentFileChangedError(DomainError):
    """A draft or payment file no longer has the digest the run recorded for it."""


class StartRequest(BaseModel):
    """What an operator sends to start a run (the API adds who sent it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_kind: RunKind
    program_year: int = Field(ge=2000, le=2100)
    month: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    quarter: str | None = Field(default=None, pattern=QUARTER_PATTERN)
    mode: RunMode = RunMode.FINAL


class PaymentReference(BaseModel):
    """What an approver sends to mark a run paid: finance's reference for the payment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    payment_reference: str = Field(pattern=r"^[A-Za-z0-9._:/#-]{1,128}$")


class StartedRun(BaseModel):
    """An execution the operator API started, and the run it opens."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    execution_arn: str
    execution_name: str


def payment_key(run_id: str) -> str:
    """Where a run's payment file lives in the payments bucket."""
    return f"{Prefix.PAYMENTS}{run_id}.csv"


_IDENTITY = re.compile(IDENTITY_PATTERN)


def _identity(identity: str) -> str:
    if not identity or not _IDENTITY.fullmatch(identity):
        raise RunTransitionError("the request carries no caller identity; call through the operator API")
    return identity


def _parsed(model: type[BaseModel], body: Mapping[str, Any]) -> Any:
    try:
        return model.model_validate(dict(body))
    except ValidationError as error:
        raise RunInputError(f"the request is not valid: {fields_of(error)}") from None


class RunLifecycle:
    """The operator API's use cases, on the run registry, the reports and payments buckets, and the
    run kinds' state machines (`machines`: kind -> state machine ARN)."""

    def __init__(
        self,
        *,
        runs: RunRegistry,
        store: ObjectStore,
        gaps: GapStateRepository,
        programs: ProgramSet,
        executions: ExecutionStarter,
        machines: Mapping[str, str],
        reports_bucket: str,
        payments_bucket: str,
        now: clock.Clock = clock.now,
    ) -> None:
        self._runs = runs
        self._store = store
        self._gaps = gaps
        self._programs = programs
        self._executions = executions
        self._machines = dict(machines)
        self._reports = reports_bucket
        self._payments = payments_bucket
        self._now = now

    def recent(self, limit: int = 50) -> list[Run]:
        """The newest runs first."""
        return self._runs.recent(limit)

    def show(self, run_id: str) -> Run:
        """One run with its last failure and approval."""
        return require_run(self._runs, run_id)

    def start(self, body: Mapping[str, Any], identity: str) -> StartedRun:
        """Start a run's state machine with the caller recorded as `requested_by`."""
        who = _identity(identity)
        asked: StartRequest = _parsed(StartRequest, body)
        request = RunRequest(**asked.model_dump(), requested_by=who)
        return self._start(request, "")

    def recalculate(self, run_id: str, identity: str) -> StartedRun:
        """Settle a CALCULATED, unapproved final run again with what is known now (OpenRun reopens it)."""
        who = _identity(identity)
        run = require_run(self._runs, run_id)
        if run.mode is not RunMode.FINAL:
            raise RunTransitionError(f"run {run_id} is a preview; run the preview again instead")
        if run.effective_status is not RunStatus.CALCULATED:
            raise RunTransitionError(
                f"run {run_id} is {run.effective_status.value}; only a CALCULATED run that is not "
                "approved can be recalculated"
            )
        fields = kind_of(run.run_kind).request_fields(run.period)
        request = RunRequest(
            run_kind=run.run_kind,
            program_year=run.program_year,
            mode=RunMode.FINAL,
            requested_by=who,
            recalculate=True,
            **fields,
        )
        return self._start(request, "recalc-")

    def _start(self, request: RunRequest, label: str) -> StartedRun:
        kind = kind_of(request.run_kind)
        period = kind.period(request)
        stamp = self._now().strftime("%Y%m%dT%H%M%S%f")
        name = f"{request.run_kind.value}-{period}-{request.mode.value}-{label}{stamp}"
        run_id = run_id_for(request, period, name)
        try:
            machine = self._machines[request.run_kind.value]
        except KeyError:
            raise RunInputError(
                f"this stack has no state machine for {request.run_kind.value} runs"
            ) from None
        arn = self._executions.start(machine, name, request.model_dump(mode="json", exclude_none=True))
        logger.info("run started", run_id=run_id, execution_name=name)
        return StartedRun(run_id=run_id, execution_arn=arn, execution_name=name)

    def approve(self, run_id: str, identity: str) -> Run:
        """CALCULATED → APPROVED by a second person; writes the payment file once and keeps its digest."""
        who = _identity(identity)
        run = require_run(self._runs, run_id)
        self._check_approvable(run, who)
        check_approval(self.funding_pools(run))
        draft = self._draft(run)
        body = self._payment_file(run, draft)
        approval = Approval(
            run_id=run_id,
            approved_by=who,
            approved_at=self._now(),
            approved_version=run.version,
            payment_file_key=payment_key(run_id),
            payment_sha256=sha256_of(body),
            total_cents=run.total_cents,
        )
        try:
            approved = self._runs.approve(run, approval)
        except StaleVersionError:
            raise RunTransitionError(
                f"run {run_id} changed while it was being approved; look again"
            ) from None
        logger.info("run approved", run_id=run_id, total_cents=run.total_cents)
        return approved

    def funding_pools(self, run: Run) -> list[PoolProjection]:
        """The run's programs' year against their funding pools: paid so far, this run, the rest projected
        (`shared/logic/budget.py`); none for a preview, a run not calculated, or programs without a pool."""
        return pool_projections(
            runs=self._runs, store=self._store, reports_bucket=self._reports, programs=self._programs, run=run
        )

    def _check_approvable(self, run: Run, who: str) -> None:
        if run.mode is not RunMode.FINAL:
            raise RunTransitionError(f"run {run.run_id} is a {run.mode.value} run; only final runs are paid")
        if run.effective_status is not RunStatus.CALCULATED:
            raise RunTransitionError(
                f"run {run.run_id} is {run.effective_status.value}; it must be CALCULATED to become APPROVED"
            )
        kind = kind_of(run.run_kind)
        if who in run.operators and not kind.single_operator(self._programs, run.period):
            raise ApprovalRefusedError(
                f"{who} started or recalculated run {run.run_id}; another person must approve it "
                "(the program does not allow a single operator)"
            )
        waiting = sorted(
            r.run_id
            for r in final_runs(self._runs, run.run_kind)
            if r.period < run.period and r.effective_status not in (RunStatus.APPROVED, RunStatus.PAID)
        )
        if waiting:
            raise ApprovalRefusedError(
                f"earlier final run(s) {', '.join(waiting)} are not approved; approve them first"
            )

    def _draft(self, run: Run) -> bytes:
        try:
            draft = self._store.get_bytes(self._reports, draft_key(run.run_id))
        except NotFoundError:
            raise PaymentFileChangedError(f"run {run.run_id} has no draft payment file") from None
        if run.draft_sha256 is None or sha256_of(draft) != run.draft_sha256:
            raise PaymentFileChangedError(
                f"the draft payment file of run {run.run_id} changed after the run was calculated; "
                "recalculate the run"
            )
        return draft

    def _payment_file(self, run: Run, draft: bytes) -> bytes:
        """The payment file: the reviewed draft's amounts, payee details as of now, written once."""
        amounts = payment_lines(draft)
        if sum(amounts.values()) != run.total_cents:
            raise PaymentFileChangedError(f"the draft of run {run.run_id} does not add up to the run's total")
        clinics = self._gaps.clinics()
        unknown = sorted({c for c, _ in amounts} - set(clinics))
        if unknown:
            raise RunTransitionError(f"{len(unknown)} paid clinic(s) are missing from the clinic registry")
        body = payment_csv(run.run_id, amounts, clinics)
        key = payment_key(run.run_id)
        try:
            self._store.put_once(self._payments, key, body, "text/csv")
        except AlreadyRecordedError:
            # An approval that crashed after writing the file: that file, frozen then, is the payment file.
            body = self._store.get_bytes(self._payments, key)
            if payment_lines(body) != amounts:
                raise PaymentFileChangedError(
                    f"{key} exists with other amounts than the draft of run {run.run_id}"
                ) from None
        return body

    def mark_paid(self, run_id: str, identity: str, body: Mapping[str, Any]) -> Run:
        """APPROVED → PAID with finance's payment reference, once the payment file still has its digest."""
        who = _identity(identity)
        reference: PaymentReference = _parsed(PaymentReference, body)
        run = require_run(self._runs, run_id)
        approval = run.approval
        if approval is None or approval.paid_at is not None:
            raise RunTransitionError(
                f"run {run_id} is {run.effective_status.value}; it must be APPROVED to become PAID"
            )
        try:
            current = self._store.get_bytes(self._payments, approval.payment_file_key)
        except NotFoundError:
            raise PaymentFileChangedError(f"the payment file of run {run_id} is missing") from None
        if sha256_of(current) != approval.payment_sha256:
            raise PaymentFileChangedError(
                f"the payment file of run {run_id} changed since approval; do not pay it"
            )
        try:
            paid = self._runs.mark_paid(
                run_id,
                paid_by=who,
                paid_at=self._now(),
                reference=reference.payment_reference,
                sha256=approval.payment_sha256,
            )
        except StaleVersionError:
            raise RunTransitionError(
                f"run {run_id} changed while it was being marked paid; look again"
            ) from None
        logger.info("run paid", run_id=run_id)
        return paid
