"""`p4p registry` and `p4p chart-requests`: a clinic's ranked open gaps, and its completions attested but
never claims-confirmed (Q13), as CSV, read from a stack's gap state (the local runtime by default)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from cli.stack import StackNotFoundError, StackRef, resolve_stack
from shared.dal.gap_state import DynamoGapStateRepository
from shared.dal.objects import S3ObjectStore
from shared.programs.care_gap import ProgramCatalog, ProgramNotFoundError
from shared.services.registry import (
    DEFAULT_CHART_REQUEST_DAYS,
    RegistryService,
    UnknownClinicError,
    chart_requests_csv,
    registry_csv,
)
from shared.services.wiring import program_catalog

EXIT_USAGE = 2


def stack_catalog(stack: StackRef) -> ProgramCatalog:
    """Shipped program versions plus the ones dropped in the stack's curated bucket (they win by version)."""
    return program_catalog(S3ObjectStore(stack.client("s3")), stack.output("CuratedBucketName"))


def _service(stack_name: str | None, chart_days: int = DEFAULT_CHART_REQUEST_DAYS) -> RegistryService:
    stack = resolve_stack(stack_name)
    gaps = DynamoGapStateRepository(stack.client("dynamodb"), stack.output("GapsTableName"))
    return RegistryService(gaps=gaps, catalog=stack_catalog(stack), chart_request_days=chart_days)


def _write(data: bytes, out: Path | None) -> None:
    if out is None:
        typer.echo(data.decode(), nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    typer.echo(f"wrote {out}", err=True)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        typer.echo("error: --as-of must be YYYY-MM-DD", err=True)
        raise typer.Exit(code=EXIT_USAGE) from None


def register(app: typer.Typer) -> None:
    """Add `registry` and `chart-requests` to the `p4p` app."""

    @app.command("registry")
    def registry_command(
        clinic: str = typer.Option(..., "--clinic", help="The clinic id."),
        as_of: str = typer.Option(..., "--as-of", help="The day the gaps are known on, YYYY-MM-DD."),
        out: Path | None = typer.Option(None, "--out", help="Write the CSV here instead of stdout."),
        stack: str | None = typer.Option(
            None, "--stack", help="A deployed stack; default the local runtime."
        ),
    ) -> None:
        """Every assigned member's open gaps with next action, due date and money at stake, ranked (CSV)."""
        try:
            rows = _service(stack).registry(clinic, _day(as_of))
        except (StackNotFoundError, UnknownClinicError, ProgramNotFoundError, ValueError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=EXIT_USAGE) from None
        _write(registry_csv(rows), out)

    @app.command("chart-requests")
    def chart_requests_command(
        clinic: str = typer.Option(..., "--clinic", help="The clinic id."),
        as_of: str = typer.Option(..., "--as-of", help="The day the list is made on, YYYY-MM-DD."),
        after_days: int = typer.Option(
            DEFAULT_CHART_REQUEST_DAYS, "--after-days", min=0, help="Days an attestation waits for a claim."
        ),
        out: Path | None = typer.Option(None, "--out", help="Write the CSV here instead of stdout."),
        stack: str | None = typer.Option(
            None, "--stack", help="A deployed stack; default the local runtime."
        ),
    ) -> None:
        """Completions attested but not confirmed by a claim or supplemental data after N days (Q13)."""
        try:
            rows = _service(stack, after_days).chart_requests(clinic, _day(as_of))
        except (StackNotFoundError, UnknownClinicError, ProgramNotFoundError, ValueError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=EXIT_USAGE) from None
        _write(chart_requests_csv(rows), out)
