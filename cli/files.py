"""`p4p files`: landed files by key with their status, counts and reason; `p4p files show KEY` (the
manifest and the first rejects); `p4p files retry KEY` (deliver a FAILED file to the ingest queue again,
where it is applied exactly once). Reads a stack's Registry and reports bucket (the local runtime by
default)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import typer
from rich.console import Console
from rich.table import Table

from cli.stack import StackNotFoundError, StackRef, resolve_stack
from shared.dal.files import DynamoFileLog, FileDrop
from shared.dal.objects import S3ObjectStore
from shared.models.files import FileKind, FileStatus
from shared.services.file_report import FileReport, NotRetryableError, UnknownFileError

EXIT_USAGE = 2
STATUSES = [*(s.value for s in FileStatus), "PROCESSING"]
files_app = typer.Typer(
    help="Landed files: status, counts and reason by key; one file's manifest and rejects; retry.",
    invoke_without_command=True,
)
console = Console(soft_wrap=True)


def _report(stack: StackRef) -> FileReport:
    return FileReport(
        log=DynamoFileLog(stack.client("dynamodb"), stack.output("RegistryTableName")),
        store=S3ObjectStore(stack.client("s3")),
        reports_bucket=stack.output("ReportsBucketName"),
    )


def _stack(name: str | None) -> StackRef:
    try:
        return resolve_stack(name)
    except StackNotFoundError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=EXIT_USAGE) from None


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def files_table(drops: list[FileDrop]) -> Table:
    """Drops as a table: key, kind, status, counts, reason (or the key a duplicate repeats)."""
    table = Table(title=f"{len(drops)} landed files")
    for name in ("key", "kind", "status", "read", "accepted", "rejected", "dup", "superseded", "reason"):
        table.add_column(name, overflow="fold")
    for d in drops:
        why = d.reason or (f"duplicate of {d.duplicate_of}" if d.duplicate_of else "")
        table.add_row(
            d.key,
            d.kind or "",
            d.status,
            _count(d.rows_read),
            _count(d.accepted),
            _count(d.rejected),
            _count(d.duplicate),
            _count(d.superseded),
            why,
        )
    return table


def _notification(bucket: str, key: str) -> str:
    """The S3 event notification of an object at `key`, as the landing bucket sends it."""
    record: dict[str, Any] = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "p4p-files-retry"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "p4p-files-retry", "x-amz-id-2": "p4p-files-retry"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "p4p-files-retry",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "p4p"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            # The ingest reads the object itself; size and ETag only make the notification well formed.
            "object": {"key": quote_plus(key, safe="/"), "size": 0, "eTag": "0" * 32, "sequencer": "0"},
        },
    }
    return json.dumps({"Records": [record]})


@files_app.callback()
def files_command(
    ctx: typer.Context,
    kind: FileKind | None = typer.Option(None, "--kind", help="Only files of this kind."),
    status: str | None = typer.Option(
        None, "--status", help=f"Only files in this status: {', '.join(STATUSES)}."
    ),
    stack: str | None = typer.Option(None, "--stack", help="A deployed stack; default the local runtime."),
) -> None:
    """Every landed file by key, latest first: status, counts and reason."""
    if ctx.invoked_subcommand is not None:
        return
    if status is not None and status.upper() not in STATUSES:
        typer.echo(f"error: --status must be one of {', '.join(STATUSES)}", err=True)
        raise typer.Exit(code=EXIT_USAGE)
    drops = _report(_stack(stack)).files(kind=kind, status=status.upper() if status else None)
    console.print(files_table(drops))


@files_app.command("show")
def show_command(
    key: str = typer.Argument(..., help="The landing key, e.g. landing/medical_claims/march.csv."),
    first: int = typer.Option(20, "--first", min=0, help="How many reject lines to print."),
    stack: str | None = typer.Option(None, "--stack", help="A deployed stack; default the local runtime."),
) -> None:
    """One file's record, its manifest and its first reject lines (row, field, reason; never a value)."""
    try:
        view = _report(_stack(stack)).show(key, first)
    except UnknownFileError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=EXIT_USAGE) from None
    console.print(files_table([view.drop]))
    if view.drop.detail:
        console.print(f"detail: {view.drop.detail}", markup=False)
    console.print_json(json.dumps(view.manifest) if view.manifest else "null")
    if view.rejects:
        table = Table(title=f"first {len(view.rejects)} reject lines")
        for name in ("source_row", "field", "reason_code"):
            table.add_column(name)
        for line in view.rejects:
            table.add_row(line.get("source_row", ""), line.get("field", ""), line.get("reason_code", ""))
        console.print(table)


@files_app.command("retry")
def retry_command(
    key: str = typer.Argument(..., help="The landing key of a FAILED file."),
    stack: str | None = typer.Option(None, "--stack", help="A deployed stack; default the local runtime."),
) -> None:
    """Deliver a FAILED file to the ingest queue again; it is applied exactly once (every write the
    ingest makes is keyed by the file's hash or the record's own ids)."""
    ref = _stack(stack)
    try:
        _report(ref).retryable(key)
    except (UnknownFileError, NotRetryableError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=EXIT_USAGE) from None
    body = _notification(ref.output("LandingBucketName"), key)
    ref.client("sqs").send_message(QueueUrl=ref.output("IngestQueueUrl"), MessageBody=body)
    typer.echo(f"{key} sent to the ingest queue")


def register(app: typer.Typer) -> None:
    """Add the `files` command group to the `p4p` app."""
    app.add_typer(files_app, name="files")
