"""The `p4p` command: the local runtime, the demo, operator commands and file checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cli.operator import RunInputError, annual_input, monthly_input, start_run, wait_for
from cli.stack import StackNotFoundError, resolve_stack
from shared.logic.money import format_cents
from shared.models.runs import Run
from shared.services.lifecycle import RunLifecycle, RunNotFoundError, RunTransitionError

app = typer.Typer(
    help="Pay-for-performance engine: local runtime, demo and operator commands.", no_args_is_help=True
)
run_app = typer.Typer(help="Start and manage payment runs.", no_args_is_help=True)
local_app = typer.Typer(
    help="The local runtime (moto) that runs the real stack on this machine.", no_args_is_help=True
)
app.add_typer(run_app, name="run")
app.add_typer(local_app, name="local")
console = Console()

STACK_OPTION = typer.Option(None, "--stack", help="A deployed stack's name; without it, `p4p local serve`.")


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


def _start(run_input: dict[str, object], stack_name: str | None, wait: bool) -> None:
    try:
        stack = resolve_stack(stack_name)
    except StackNotFoundError as error:
        _fail(str(error))
        return
    execution_arn = start_run(stack, run_input)
    console.print(f"started {execution_arn}")
    if not wait:
        return
    result = wait_for(stack, execution_arn)
    console.print(f"status: {result.status}")
    if result.output:
        console.print_json(data=result.output)
    if result.status != "SUCCEEDED":
        console.print(f"error: {result.error} {result.cause or ''}")
        raise typer.Exit(code=1)


@run_app.command("monthly")
def run_monthly(
    month: str = typer.Option(..., help="The month whose SVUs are paid, YYYY-MM."),
    mode: str = typer.Option("final", help="final writes the ledger; preview only projects."),
    stack: str | None = STACK_OPTION,
    wait: bool = typer.Option(True, help="Wait for the execution to end."),
) -> None:
    """Start the monthly SVU payment run for a month."""
    try:
        run_input = monthly_input(month, mode)
    except RunInputError as error:
        _fail(str(error))
        return
    _start(run_input, stack, wait)


@run_app.command("annual")
def run_annual(
    year: int = typer.Option(..., help="The program (measurement) year."),
    mode: str = typer.Option("final", help="final writes the ledger; preview only projects."),
    stack: str | None = STACK_OPTION,
    wait: bool = typer.Option(True, help="Wait for the execution to end."),
) -> None:
    """Start the annual incentive run for a program year."""
    try:
        run_input = annual_input(year, mode)
    except RunInputError as error:
        _fail(str(error))
        return
    _start(run_input, stack, wait)


def _lifecycle(stack_name: str | None) -> RunLifecycle:
    from shared.dal.runs import DynamoRunRegistry

    try:
        stack = resolve_stack(stack_name)
    except StackNotFoundError as error:
        _fail(str(error))
        raise
    return RunLifecycle(DynamoRunRegistry(stack.client("dynamodb"), stack.output("RegistryTableName")))


@app.command("runs")
def runs(
    stack: str | None = STACK_OPTION,
    limit: int = typer.Option(50, help="How many runs, newest first."),
) -> None:
    """List runs with their status and totals."""
    table = Table(title="Payment runs")
    for column in ("run", "kind", "period", "mode", "status", "entries", "total (USD)", "updated"):
        table.add_column(column, justify="right" if column in {"entries", "total (USD)"} else "left")
    for run in _lifecycle(stack).recent(limit):
        table.add_row(
            run.run_id,
            run.run_kind.value,
            run.period,
            run.mode.value,
            run.status.value,
            str(run.entry_count),
            format_cents(run.total_cents),
            run.updated_at.strftime("%Y-%m-%d %H:%M"),
        )
    # Run ids and timestamps must stay whole even when stdout is not a wide terminal.
    Console(width=max(console.width, 132)).print(table)


@run_app.command("approve")
def run_approve(
    run_id: str = typer.Argument(..., help="The run id, e.g. monthly-2026-03-final."),
    stack: str | None = STACK_OPTION,
) -> None:
    """Approve a CALCULATED final run for payment."""
    _transition(lambda lifecycle: lifecycle.approve(run_id), stack)


@run_app.command("mark-paid")
def run_mark_paid(
    run_id: str = typer.Argument(..., help="The run id."), stack: str | None = STACK_OPTION
) -> None:
    """Record that finance paid an APPROVED run."""
    _transition(lambda lifecycle: lifecycle.mark_paid(run_id), stack)


def _transition(move: Callable[[RunLifecycle], Run], stack: str | None) -> None:
    try:
        run = move(_lifecycle(stack))
    except (RunNotFoundError, RunTransitionError) as error:
        _fail(str(error))
        return
    console.print(f"{run.run_id}: {run.status.value}")


@local_app.command("serve")
def local_serve(
    port: int = typer.Option(4566, help="Port on 127.0.0.1."),
    stage: str = typer.Option("dev", help="The CDK stage to synthesize."),
) -> None:
    """Run the synthesized stack on a moto server at 127.0.0.1 for the AWS CLI and `p4p run`."""
    from cli.local.serve import serve

    console.print(f"serving the {stage} stack on http://127.0.0.1:{port} (Ctrl-C stops)")
    serve(host="127.0.0.1", port=port, stage=stage, state_dir=Path(".p4p"))


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("out"), help="Where statements and the summary are written."),
    members: int = typer.Option(2000, help="Members in the generated plan (2,000 take about 6 min on moto)."),
    clinics: int = typer.Option(5, help="Clinics in the generated plan."),
    seed: int = typer.Option(7, help="Generator seed."),
) -> None:
    """Generate a small plan, run a year of it on the local runtime, write statements to OUT."""
    from cli.demo import run_demo

    run_demo(out=out, members=members, clinics=clinics, seed=seed, console=console)


def _register_optional() -> None:
    # Commands owned by other modules add themselves; the app stays importable without them.
    from cli import measure_report, registry, validate

    validate.register(app)
    measure_report.register(app)
    registry.register(app)


_register_optional()

if __name__ == "__main__":
    app()
