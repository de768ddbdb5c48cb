"""`p4p baseline` and `p4p whatif`: designing a program from a stack's data (the local runtime by default),
`docs/program-design.md`. Both only read the stack: its gap state, ledger, run registry and program
versions. The logic is in `shared/services/baseline.py` and `shared/services/whatif.py`."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from cli.stack import StackNotFoundError, StackRef, resolve_stack
from shared.csv_cells import csv_bytes
from shared.dal.files import DynamoFileRegistry
from shared.dal.gap_state import DynamoGapStateRepository
from shared.dal.ledger import DynamoLedgerRepository
from shared.dal.objects import S3ObjectStore
from shared.dal.runs import DynamoRunRegistry
from shared.errors import DomainError
from shared.logic.baseline import parse_percentiles, percentile_key
from shared.logic.money import format_cents
from shared.logic.whatif import as_year, whatif_csv, whatif_rows
from shared.models.design import BaselineReport, WhatIfResult
from shared.observability import logger
from shared.programs.catalog import parse_version
from shared.programs.stored import StoredPrograms
from shared.programs.versions import VersionedProgram
from shared.services.baseline import BASELINE_HEADER, BaselineService, provider_rows
from shared.services.whatif import WhatIfService
from shared.services.wiring import stored_programs

EXIT_USAGE = 2
console = Console(soft_wrap=True)
STACK_OPTION = typer.Option(None, "--stack", help="A deployed stack; default the local runtime.")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=EXIT_USAGE)


@contextmanager
def _logs_to_stderr() -> Iterator[None]:
    # Services log a line; stdout stays the tables.
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    original = handler.setStream(sys.stderr)
    try:
        yield
    finally:
        if original is not None:
            handler.setStream(original)


def _stack(name: str | None) -> StackRef:
    try:
        return resolve_stack(name)
    except StackNotFoundError as error:
        _fail(str(error))
        raise


def _programs(stack: StackRef) -> StoredPrograms:
    return stored_programs(S3ObjectStore(stack.client("s3")), stack.output("CuratedBucketName"))


def baseline_service(stack: StackRef) -> BaselineService:
    """Baselines over a stack's gap state and program versions."""
    gaps = DynamoGapStateRepository(stack.client("dynamodb"), stack.output("GapsTableName"))
    return BaselineService(gaps=gaps, programs=_programs(stack))


def whatif_service(stack: StackRef) -> WhatIfService:
    """The what-if over a stack's tables and curated bucket, read only."""
    db = stack.client("dynamodb")
    gaps_table = stack.output("GapsTableName")
    store = S3ObjectStore(stack.client("s3"))
    curated = stack.output("CuratedBucketName")
    return WhatIfService(
        store=store,
        gaps=DynamoGapStateRepository(db, gaps_table),
        ledger=DynamoLedgerRepository(db, stack.output("LedgerTableName"), history_table=gaps_table),
        runs=DynamoRunRegistry(db, stack.output("RegistryTableName"), stack.output("ApprovalsTableName")),
        files=DynamoFileRegistry(db, stack.output("RegistryTableName")),
        programs=stored_programs(store, curated),
        curated_bucket=curated,
    )


def _value(value: Decimal | None) -> str:
    return "-" if value is None else str(value)


def baseline_tables(report: BaselineReport) -> list[Table]:
    """The distribution per measure with current and proposed levels; the small panels flagged."""
    keys = [percentile_key(p) for p in report.percentiles]
    title = (
        f"{report.program} {report.year}: baselines under {report.base_version}, proposed "
        f"{report.proposed_version} for {report.for_year} ({report.method})"
    )
    measures = Table(title=title)
    levels = "/".join(report.measures[0].current) if report.measures else ""
    columns = ("measure", "unit", "providers", "small panels", *(f"p{k}" for k in keys))
    columns += (f"current {levels}", f"proposed {levels}")
    for column in columns:
        measures.add_column(column, overflow="fold")
    for m in report.measures:
        name = f"{m.measure}{' ' + m.component if m.component else ''}"
        kept = " (kept)" if m.note else ""
        measures.add_row(
            name + (" (lower is better)" if m.inverse else ""),
            m.unit,
            str(m.providers),
            str(m.small_panels),
            *(_value(m.percentiles.get(k)) for k in keys),
            " / ".join(str(v) for v in m.current.values()),
            " / ".join(str(v) for v in m.proposed.values()) + kept,
        )
    small = Table(title=f"small panels, not in the distribution ({report.interval})")
    for column in ("clinic", "line", "measure", "rate", "95% interval", "n", "why"):
        small.add_column(column, overflow="fold")
    for p in report.providers:
        if p.small_panel:
            interval = f"{p.ci_low}-{p.ci_high}" if p.ci_low is not None else "-"
            small.add_row(
                p.clinic_id,
                p.line_of_business or "-",
                f"{p.measure}{' ' + p.component if p.component else ''}",
                _value(p.rate),
                interval,
                str(p.denominator),
                p.note,
            )
    return [measures, small] if small.row_count else [measures]


def whatif_table(result: WhatIfResult) -> Table:
    """Per clinic and in total: paid, what-if, difference."""
    title = (
        f"{result.year} through {result.through} under {result.program} {result.version} "
        f"(in place of {', '.join(result.replaces) or 'nothing'}): {', '.join(result.scope)}, "
        f"{result.members} members"
    )
    table = Table(title=title)
    for column in ("clinic", "paid (USD)", "what-if (USD)", "difference (USD)"):
        table.add_column(column, justify="left" if column == "clinic" else "right")
    rows = whatif_rows(result)
    for row in rows[:-1]:
        table.add_row(*row)
    table.add_section()
    table.add_row(*rows[-1])
    return table


def _read_program(path: Path, year: int) -> VersionedProgram:
    """The file moved to `year`, validated by its program's own loader."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        _fail(f"{path}: {error}")
    if not isinstance(raw, dict):
        _fail(f"{path}: a program version is a JSON object")
    try:
        return parse_version(as_year(raw, year))
    except (ValidationError, ValueError) as error:
        _fail(f"{path}: {error}")
        raise


def register(app: typer.Typer) -> None:
    """Add `baseline` and `whatif` to the `p4p` app."""

    @app.command("baseline")
    def baseline_command(
        program: str = typer.Option(..., "--program", help="benchmark or apc."),
        year: int = typer.Option(..., "--year", min=2000, max=2100, help="The past year whose data count."),
        percentiles: str = typer.Option("50,75,90", "--percentiles", help="Percentiles, increasing."),
        target: str | None = typer.Option(
            None, "--target", help="Benchmark: the percentile the benchmarks are set at (default the middle)."
        ),
        for_year: int | None = typer.Option(None, "--for-year", help="The proposal's year (default YEAR+1)."),
        out: Path | None = typer.Option(
            None, "--out", help="The proposed version file (default programs/<program>/<version>.json)."
        ),
        rates_csv: Path | None = typer.Option(
            None, "--csv", help="Every provider's rate and interval as CSV."
        ),
        stack: str | None = STACK_OPTION,
    ) -> None:
        """Each provider's baseline rate per measure in YEAR, and benchmarks proposed from them.

        The proposal is a program version file to edit and drop under programs/<program>/."""
        try:
            picked = parse_percentiles(percentiles)
            chosen = parse_percentiles(target)[0] if target else None
        except ValueError as error:
            _fail(str(error))
            return
        try:
            with _logs_to_stderr():
                found = baseline_service(_stack(stack)).baseline(
                    program, year, picked, target=chosen, for_year=for_year
                )
        except (DomainError, ValueError) as error:
            _fail(str(error))
            return
        path = out or Path("programs") / program / f"{found.report.proposed_version}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(found.proposal, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for table in baseline_tables(found.report):
            console.print(table)
        for note in found.report.notes:
            console.print(f"note: {note}", markup=False, highlight=False)
        if rates_csv is not None:
            rates_csv.write_bytes(csv_bytes(BASELINE_HEADER, provider_rows(found.report.providers)))
            console.print(f"rates: {rates_csv}", markup=False, highlight=False)
        console.print(f"proposed version: {path} (validates as {program})", markup=False, highlight=False)

    @app.command("whatif")
    def whatif_command(
        program_file: Path = typer.Option(..., "--program", help="The program version file to re-run under."),
        year: int = typer.Option(..., "--year", min=2000, max=2100, help="A past year, or this year so far."),
        csv_path: Path | None = typer.Option(None, "--csv", help="Also write the differences as CSV."),
        stack: str | None = STACK_OPTION,
    ) -> None:
        """Re-run YEAR under another program file, against what was paid; nothing is written.

        Prints the total and per-clinic difference against the year's final runs."""
        alternative = _read_program(program_file, year)
        try:
            with _logs_to_stderr():
                result = whatif_service(_stack(stack)).whatif(alternative, year)
        except DomainError as error:
            _fail(str(error))
            return
        console.print(whatif_table(result))
        if result.pool_cents is not None:
            console.print(
                f"funding pool {format_cents(result.pool_cents)}: the what-if pays "
                f"{format_cents(result.whatif_cents)}"
                + (" (over it)" if result.whatif_cents > result.pool_cents else ""),
                markup=False,
                highlight=False,
            )
        for note in result.notes:
            console.print(f"note: {note}", markup=False, highlight=False)
        if csv_path is not None:
            csv_path.write_bytes(whatif_csv(result))
            console.print(f"csv: {csv_path}", markup=False, highlight=False)
