"""`p4p validate FILE --kind KIND`: the ingest's own rules on a local file, with no AWS.

The file goes through exactly the intake the ingest function runs (`shared.intake.stage_file`): streamed
in bounded memory, so a file of any size can be checked, and a file it calls clean ingests cleanly (on
the same day: date windows are relative to the day a file is read, `--as-of`).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from shared.intake import stage_file, write_rejects_csv
from shared.intake.shards import FAN_OUT_MAX_BYTES, shardable
from shared.intake.source import MAX_FILE_BYTES
from shared.models.files import FileKind

EXIT_CLEAN = 0
EXIT_REJECTS = 1
EXIT_QUARANTINED = 2
COUNTS = ("rows_read", "accepted", "rejected", "duplicate", "superseded")


def default_rejects_path(path: Path) -> Path:
    """Where the rejects report goes when `--out` is not given: beside the input."""
    return path.with_name(f"{path.name}.rejects.csv")


def validate(
    path: Path,
    kind: str,
    *,
    out: Path | None = None,
    console: Console | None = None,
    as_of: date | None = None,
) -> int:
    """Validate one local file; returns 0 when clean, 1 when rows were rejected, 2 when quarantined."""
    console = console or Console()
    try:
        file_kind = FileKind(kind)
    except ValueError:
        console.print(
            f"[red]QUARANTINED[/red] UNKNOWN_KIND: choose one of {', '.join(k.value for k in FileKind)}"
        )
        return EXIT_QUARANTINED
    with tempfile.TemporaryDirectory(prefix="p4p-validate-") as scratch, path.open("rb") as stream:
        staging = stage_file(
            stream,
            kind=file_kind,
            as_of=as_of or datetime.now(UTC).date(),
            workdir=Path(scratch),
            size_hint=path.stat().st_size,
            # A file the deployment fans out is taken at any size the fan-out takes (the same rules apply
            # to its shards, docs/ingest.md "Fan-out"); others at what one function takes.
            limit=FAN_OUT_MAX_BYTES if shardable(file_kind) else MAX_FILE_BYTES,
        )
        if staging.problem is not None:
            problem = staging.problem
            detail = f": {problem.detail}" if problem.detail else ""
            console.print(f"[red]QUARANTINED[/red] {problem.reason_code}{detail}", highlight=False)
            return EXIT_QUARANTINED
        staged = staging.staged
        assert staged is not None
        manifest = staging.manifest(f"local/{file_kind.value}/{path.name}")
        counts = Table(title=f"{path.name} ({file_kind.value})")
        for name in COUNTS:
            counts.add_column(name, justify="right")
        counts.add_row(*(str(getattr(manifest, n)) for n in COUNTS))
        console.print(counts)
        if manifest.rejected == 0:
            console.print("[green]clean[/green]: every row accepted")
            return EXIT_CLEAN
        lines = staged.reject_lines()
        grouped = (
            lines.group_by("field", "reason_code")
            .agg(pl.len().alias("rows"), pl.col("source_row").min().alias("first_row"))
            .sort("rows", "field", descending=[True, False])
            .collect()
        )
        by_reason = Table(title="rejects by field and reason (an empty field is the whole row)")
        for name in ("field", "reason_code", "rows", "first_row"):
            by_reason.add_column(name)
        for row in grouped.iter_rows():
            by_reason.add_row(*(str(v) for v in row))
        console.print(by_reason)
        target = out or default_rejects_path(path)
        write_rejects_csv(lines, target)
        console.print(f"rejects report written to {target}")
        return EXIT_REJECTS


def register(app: typer.Typer) -> None:
    """Add the `validate` command to the `p4p` app."""

    @app.command("validate")
    def validate_command(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="file to check"),
        kind: FileKind = typer.Option(..., "--kind", help="what the file holds"),
        out: Path | None = typer.Option(None, "--out", help="where to write the rejects CSV"),
        as_of: str | None = typer.Option(
            None, "--as-of", help="the day the file is read, YYYY-MM-DD (date windows); default today"
        ),
    ) -> None:
        """Check a file against its kind's rules, as the ingest Lambda would, without AWS."""
        day = None
        if as_of is not None:
            try:
                day = date.fromisoformat(as_of)
            except ValueError:
                typer.echo("error: --as-of must be YYYY-MM-DD", err=True)
                raise typer.Exit(code=EXIT_QUARANTINED) from None
        raise typer.Exit(validate(file, kind.value, out=out, as_of=day))
