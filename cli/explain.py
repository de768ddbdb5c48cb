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
from shared.observability import logger
from shared.programs.care_gap import ProgramNotFoundError
from shared.render.explain_text import explanation_text
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
        typer.echo(explanation_text(found), nl=False)
