"""`p4p validate FILE --kind KIND`: the ingest rules on a local file, with no AWS."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from shared.intake import QuarantineError, read_file, rejects_csv
from shared.models.files import FileKind

EXIT_CLEAN = 0
EXIT_REJECTS = 1
EXIT_QUARANTINED = 2


def default_rejects_path(path: Path) -> Path:
    """Where the rejects report goes when `--out` is not given: beside the input."""
    return path.with_name(f"{path.name}.rejects.csv")


def validate(path: Path, kind: str, *, out: Path | None = None, console: Console | None = None) -> int:
    """Validate one local file; returns 0 when clean, 1 when rows were rejected, 2 when quarantined."""
    console = console or Console()
    try:
        file_kind = FileKind(kind)
    except ValueError:
        console.print(
            f"[red]QUARANTINED[/red] UNKNOWN_KIND: choose one of {', '.join(k.value for k in FileKind)}"
        )
        return EXIT_QUARANTINED
    try:
        result = read_file(
            path.read_bytes(), kind=file_kind, source_key=f"local/{file_kind.value}/{path.name}"
        )
    except QuarantineError as exc:
        console.print(f"[red]QUARANTINED[/red] {exc.reason_code}: {exc.detail}")
        return EXIT_QUARANTINED
    manifest = result.manifest
    counts = Table(title=f"{path.name} ({file_kind.value})")
    for name in ("rows_read", "accepted", "rejected", "duplicate", "superseded"):
        counts.add_column(name, justify="right")
    counts.add_row(
        *(str(getattr(manifest, n)) for n in ("rows_read", "accepted", "rejected", "duplicate", "superseded"))
    )
    console.print(counts)
    if result.rejects.height == 0:
        console.print("[green]clean[/green]: every row accepted")
        return EXIT_CLEAN
    grouped = (
        result.rejects.group_by("field", "reason_code")
        .agg(pl.len().alias("rows"), pl.col("source_row").min().alias("first_row"))
        .sort("rows", "field", descending=[True, False])
    )
    by_reason = Table(title="rejects by field and reason")
    for name in ("field", "reason_code", "rows", "first_row"):
        by_reason.add_column(name)
    for row in grouped.iter_rows():
        by_reason.add_row(*(str(v) for v in row))
    console.print(by_reason)
    target = out or default_rejects_path(path)
    target.write_bytes(rejects_csv(result))
    console.print(f"rejects report written to {target}")
    return EXIT_REJECTS


def register(app: typer.Typer) -> None:
    """Add the `validate` command to the `p4p` app."""

    @app.command("validate")
    def validate_command(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="file to check"),
        kind: FileKind = typer.Option(..., "--kind", help="what the file holds"),
        out: Path | None = typer.Option(None, "--out", help="where to write the rejects CSV"),
    ) -> None:
        """Check a file against its kind's rules, as the ingest Lambda would, without AWS."""
        raise typer.Exit(validate(file, kind.value, out=out))
