"""The `p4p` command: the local runtime, the demo, operator commands and file checks."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from cli.operator import RunInputError, annual_input, monthly_input, start_run, wait_for
from cli.stack import StackNotFoundError, resolve_stack

app = typer.Typer(help="Pay-for-performance engine: local runtime, demo and operator commands.", no_args_is_help=True)
run_app = typer.Typer(help="Start and manage payment runs.", no_args_is_help=True)
local_app = typer.Typer(help="The local runtime (moto) that runs the real stack on this machine.", no_args_is_help=True)
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
    members: int = typer.Option(2000, help="Members in the generated plan."),
    clinics: int = typer.Option(5, help="Clinics in the generated plan."),
    seed: int = typer.Option(7, help="Generator seed."),
) -> None:
    """Generate a small plan, run a year of it on the local runtime, write statements to OUT."""
    from cli.demo import run_demo

    run_demo(out=out, members=members, clinics=clinics, seed=seed, console=console)


def _register_optional() -> None:
    # Commands owned by other modules add themselves; the app stays importable without them.
    from cli import validate

    validate.register(app)


_register_optional()

if __name__ == "__main__":
    app()
