"""The `p4p` command: the local runtime, the demo, operator commands and file checks."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(
    help="Pay-for-performance engine: local runtime, demo and operator commands.", no_args_is_help=True
)
local_app = typer.Typer(
    help="The local runtime (moto) that runs the real stack on this machine.", no_args_is_help=True
)
app.add_typer(local_app, name="local")
console = Console()


@local_app.command("serve")
def local_serve(
    port: int = typer.Option(4566, help="Port on 127.0.0.1."),
    stage: str = typer.Option("dev", help="The CDK stage to synthesize."),
) -> None:
    """Run the synthesized stack on a moto server at 127.0.0.1 for the AWS CLI and `p4p run`.

    Says what it is doing, then `ready: ...` once the endpoint answers and lists the whole stack."""
    from cli.local.serve import serve

    def report(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    serve(host="127.0.0.1", port=port, stage=stage, state_dir=Path(".p4p"), report=report)


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("out"), help="Where statements and the summary are written."),
    members: int = typer.Option(2000, help="Members in the generated plan (2,000 take 5-11 min on moto)."),
    clinics: int = typer.Option(5, help="Clinics in the generated plan."),
    seed: int = typer.Option(7, help="Generator seed."),
) -> None:
    """Generate a small plan, run a year of it on the local runtime, write statements to OUT."""
    from cli.demo import run_demo

    run_demo(out=out, members=members, clinics=clinics, seed=seed, console=console)


def _register_optional() -> None:
    # Commands owned by other modules add themselves; the app stays importable without them.
    from cli import (
        attribution,
        calc,
        explain,
        files,
        measure_report,
        program_design,
        registry,
        runs,
        validate,
    )

    runs.register(app)
    validate.register(app)
    measure_report.register(app)
    registry.register(app)
    calc.register(app)
    files.register(app)
    explain.register(app)
    attribution.register(app)
    program_design.register(app)


_register_optional()

if __name__ == "__main__":
    app()
