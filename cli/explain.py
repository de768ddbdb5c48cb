"""`p4p explain`: why a clinic was or was not paid for a member's action in a year (FAQ Q9), read from a
stack's gap state, ledger and run registry (the local runtime by default), as text or JSON.

It prints what the clinic is entitled to: the member id, the action, dates, amounts, run ids and evidence
references; never a name or a birth date (`docs/explain.md`)."""

from __future__ import annotations

import json
import logging
import sys

import typer

from cli.stack import StackNotFoundError, StackRef, resolve_stack
from shared.dal.gap_state import DynamoGapStateRepository
from shared.dal.ledger import DynamoLedgerRepository
from shared.dal.objects import S3ObjectStore
from shared.dal.runs import DynamoRunRegistry
from shared.logic.explain import UnknownActionError
from shared.logic.explain.wording import PROGRAM_NAMES
from shared.logic.money import format_cents
from shared.models.explain import Explanation, PaidEntry, Reason
from shared.observability import logger
from shared.programs.care_gap import ProgramNotFoundError
from shared.services.explain import ExplainService, NotEntitledError, UnknownClinicError, UnknownMemberError
from shared.services.wiring import stored_programs

EXIT_USAGE = 2
REFUSED = (
    StackNotFoundError,
    UnknownClinicError,
    UnknownMemberError,
    NotEntitledError,
    UnknownActionError,
    ProgramNotFoundError,
)


def explain_service(stack: StackRef) -> ExplainService:
    """The explanation's read path on a stack: its GapState, Ledger, Registry and Approvals tables and the
    program versions of its curated bucket."""
    db = stack.client("dynamodb")
    gaps_table = stack.output("GapsTableName")
    return ExplainService(
        gaps=DynamoGapStateRepository(db, gaps_table),
        ledger=DynamoLedgerRepository(db, stack.output("LedgerTableName"), history_table=gaps_table),
        runs=DynamoRunRegistry(db, stack.output("RegistryTableName"), stack.output("ApprovalsTableName")),
        programs=stored_programs(S3ObjectStore(stack.client("s3")), stack.output("CuratedBucketName")),
    )


def _chain(reasons: tuple[Reason, ...], indent: str) -> list[str]:
    lines, stopped = [], False
    for reason in reasons:
        if reason.stops:
            lines.append(f"{indent}{'and' if stopped else 'stopped by'}: {reason.text}")
            stopped = True
        else:
            lines.append(f"{indent}- {reason.text}")
    return lines


def _entry(entry: PaidEntry) -> str:
    step = entry.step.value if entry.step else "-"
    status = f" ({entry.run_status})" if entry.run_status else ""
    paid = f", paid {entry.paid_on.isoformat()}" if entry.paid_on else ""
    state = "" if entry.live else ", reversed"
    return (
        f"  {entry.earned_month}  {entry.kind:<8} {entry.period} {step:<12} "
        f"{format_cents(entry.amount_cents):>9}"
        f"  run {entry.run_id}{status}{paid}{state}  on {', '.join(entry.evidence_refs) or '-'}"
        f"  [{entry.rule_version}, entry {entry.entry_id[:12]}]"
    )


def render_text(explanation: Explanation) -> str:
    """The explanation for people: steps, evidence, the clinic's entries and the annual programs."""
    x = explanation
    out = [
        f"Clinic {x.clinic_id}, member {x.member_id}: {x.action} ({x.action_name}) in {x.year}",
        f"as known on {x.as_of.isoformat()}; Care Gap P4P version {x.program_version or '-'}; "
        f"last closed monthly run: {x.last_closed_run or 'none'}",
        f"net paid to the clinic for this gap: {format_cents(x.net_paid_cents)} USD "
        f"in {len(x.entries)} entries",
        "",
        "Steps",
    ]
    for step in x.steps:
        version = f"  (version {step.program_version})" if step.program_version else ""
        out.append(
            f"  {step.period} {step.step.value}: {step.status.value.replace('_', ' ').upper()}{version}"
        )
        out += _chain(step.reasons, "      ")
    out += ["", "Evidence"]
    if not x.evidence:
        out.append(f"  none on file for {x.action} in {x.year}")
    for item in x.evidence:
        done = ", ".join(item.completed) or "nothing"
        out.append(
            f"  {item.reference} ({item.source}, {item.step.value}), dated {item.action_date.isoformat()}, "
            f"known {item.known_date.isoformat()}: completed {done}"
        )
        out += _chain(item.reasons, "      ")
    out += ["", "The clinic's ledger entries"]
    out += [_entry(e) for e in x.entries] or ["  none"]
    for part in x.annual:
        out += [
            "",
            f"{PROGRAM_NAMES.get(part.program, part.program)} ({part.version}): {part.measure} {part.year} "
            f"(run {part.run_id}: {part.run_status})",
        ]
        out += _chain(part.reasons, "      ")
        for line in part.lines:
            out.append(f"  {line.line_of_business}, {line.months_assigned} of 12 months at the clinic")
            out += _chain(line.reasons, "      ")
        out += [_entry(e) for e in part.entries]
    return "\n".join(out) + "\n"


def register(app: typer.Typer) -> None:
    """Add `explain` to the `p4p` app."""

    @app.command("explain")
    def explain_command(
        clinic: str = typer.Option(..., "--clinic", help="The clinic id."),
        member: str = typer.Option(..., "--member", help="The member id."),
        action: str = typer.Option(..., "--action", help="The action code, e.g. BCS-E."),
        year: int = typer.Option(..., "--year", min=2000, max=2100, help="The measurement year."),
        as_json: bool = typer.Option(False, "--json", help="Print the explanation as JSON."),
        stack: str | None = typer.Option(
            None, "--stack", help="A deployed stack; default the local runtime."
        ),
    ) -> None:
        """Why the clinic was or was not paid for the member's action: each step's first stopping rule."""
        # The service's log line goes to stderr: stdout is the explanation alone (the JSON parses).
        handler = logger.registered_handler
        assert isinstance(handler, logging.StreamHandler)
        original = handler.setStream(sys.stderr)
        try:
            found = explain_service(resolve_stack(stack)).explain(
                clinic_id=clinic, member_id=member, action=action, year=year
            )
        except REFUSED as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=EXIT_USAGE) from None
        finally:
            if original is not None:
                handler.setStream(original)
        if as_json:
            typer.echo(json.dumps(found.model_dump(mode="json"), indent=2))
            return
        typer.echo(render_text(found), nl=False)
