"""`p4p run …` and `p4p runs`: start, recalculate, approve and mark paid runs through the operator API.

Without `--stack` the commands reach the running `p4p local serve`, where `--as NAME` is who calls; with
`--stack NAME` they call the deployed stack's IAM-authorised API with your AWS credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cli.operator import (
    OperatorApi,
    OperatorRefusedError,
    RunInputError,
    annual_input,
    monthly_input,
    quarterly_input,
    transport_for,
    wait_for,
)
from cli.stack import StackNotFoundError, StackRef, resolve_stack
from shared.logic.money import format_cents

run_app = typer.Typer(help="Start and manage payment runs (through the operator API).", no_args_is_help=True)
console = Console()

STACK_OPTION = typer.Option(None, "--stack", help="A deployed stack's name; without it, `p4p local serve`.")
AS_OPTION = typer.Option(None, "--as", help="Local runtime only: the identity you stand for (local:NAME).")
WAIT_OPTION = typer.Option(True, help="Wait for the execution to end.")
TIMEOUT_OPTION = typer.Option(6 * 3600.0, "--timeout", help="Longest wait for the execution, in seconds.")


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


def _stack(name: str | None) -> StackRef:
    try:
        return resolve_stack(name)
    except StackNotFoundError as error:
        _fail(str(error))
        raise


def _api(stack: StackRef, as_name: str | None) -> OperatorApi:
    try:
        return OperatorApi(transport_for(stack, as_name))
    except OperatorRefusedError as error:
        _fail(str(error))
        raise


def _call(move: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return move()
    except OperatorRefusedError as error:
        _fail(str(error))
        raise


def _start(
    body: dict[str, Any], stack_name: str | None, as_name: str | None, wait: bool, timeout: float
) -> None:
    stack = _stack(stack_name)
    api = _api(stack, as_name)
    started = _call(lambda: api.start(body))
    _follow(stack, started, wait, timeout)


def _follow(stack: StackRef, started: dict[str, Any], wait: bool, timeout: float) -> None:
    console.print(f"run {started['run_id']}: started {started['execution_name']}", highlight=False)
    if not wait:
        return
    ended = wait_for(stack, started["execution_arn"], timeout_s=timeout)
    if ended.status == "SUCCEEDED":
        closed = (ended.output or {}).get("closed", {}).get("value", {})
        console.print(f"run {started['run_id']}: {closed.get('status', ended.status)}", highlight=False)
        return
    # One line: the domain error and its message, as the execution reports them.
    _fail(f"run {started['run_id']} {ended.status}: {ended.error}: {ended.cause or ''}".rstrip(), code=1)


@run_app.command("monthly")
def run_monthly(
    month: str = typer.Option(..., help="The month whose SVUs are paid, YYYY-MM."),
    mode: str = typer.Option("final", help="final writes the ledger; preview only projects."),
    stack: str | None = STACK_OPTION,
    as_name: str | None = AS_OPTION,
    wait: bool = WAIT_OPTION,
    timeout: float = TIMEOUT_OPTION,
) -> None:
    """Start the monthly SVU payment run for a month."""
    try:
        body = monthly_input(month, mode)
    except RunInputError as error:
        _fail(str(error))
        return
    _start(body, stack, as_name, wait, timeout)


@run_app.command("annual")
def run_annual(
    year: int = typer.Option(..., help="The program (measurement) year."),
    mode: str = typer.Option("final", help="final writes the ledger; preview only projects."),
    stack: str | None = STACK_OPTION,
    as_name: str | None = AS_OPTION,
    wait: bool = WAIT_OPTION,
    timeout: float = TIMEOUT_OPTION,
) -> None:
    """Start the annual incentive run for a program year."""
    try:
        body = annual_input(year, mode)
    except RunInputError as error:
        _fail(str(error))
        return
    _start(body, stack, as_name, wait, timeout)


@run_app.command("quarterly")
def run_quarterly(
    quarter: str = typer.Option(..., help="The quarter whose three months are paid, YYYY-Qn."),
    mode: str = typer.Option("final", help="final writes the ledger; preview only projects."),
    stack: str | None = STACK_OPTION,
    as_name: str | None = AS_OPTION,
    wait: bool = WAIT_OPTION,
    timeout: float = TIMEOUT_OPTION,
) -> None:
    """Start the quarterly PMPM run (APC population health, Element 2) for a quarter."""
    try:
        body = quarterly_input(quarter, mode)
    except RunInputError as error:
        _fail(str(error))
        return
    _start(body, stack, as_name, wait, timeout)


@run_app.command("recalculate")
def run_recalculate(
    run_id: str = typer.Argument(..., help="A CALCULATED final run that is not approved."),
    stack: str | None = STACK_OPTION,
    as_name: str | None = AS_OPTION,
    wait: bool = WAIT_OPTION,
    timeout: float = TIMEOUT_OPTION,
) -> None:
    """Settle a calculated run again with what is known now; only the difference is appended."""
    ref = _stack(stack)
    api = _api(ref, as_name)
    _follow(ref, _call(lambda: api.recalculate(run_id)), wait, timeout)


@run_app.command("approve")
def run_approve(
    run_id: str = typer.Argument(..., help="The run id, e.g. monthly-2026-03-final."),
    stack: str | None = STACK_OPTION,
    as_name: str | None = AS_OPTION,
) -> None:
    """Approve a CALCULATED final run (not by whoever ran it); writes its payment file once."""
    api = _api(_stack(stack), as_name)
    run = _call(lambda: api.approve(run_id))
    approval = run["approval"]
    console.print(
        f"{run['run_id']}: APPROVED by {approval['approved_by']}; "
        f"payment file {approval['payment_file_key']} sha256 {approval['payment_sha256']}",
        highlight=False,
    )
    for line in pool_lines(run.get("funding_pools", [])):
        console.print(line, highlight=False, soft_wrap=True)


def pool_lines(pools: list[dict[str, Any]]) -> list[str]:
    """Each funding pool the run's year is set against, a warning first where it goes over."""
    lines = []
    for p in pools:
        if p.get("warning"):
            lines.append(f"[yellow]warning:[/yellow] {p['warning']}")
        lines.append(
            f"pool:       {p['program']} {p['year']} ({p['version']}): "
            f"paid {format_cents(p['paid_cents'])} + "
            f"this run {format_cents(p['run_cents'])} + projected {format_cents(p['projected_rest_cents'])} "
            f"({p['periods_left']} periods left) = {format_cents(p['projected_cents'])} of "
            f"{format_cents(p['pool_cents'])}"
            + (f", over by {format_cents(p['over_by_cents'])}" if p["over_by_cents"] else "")
        )
    return lines


@run_app.command("mark-paid")
def run_mark_paid(
    run_id: str = typer.Argument(..., help="The run id."),
    reference: str = typer.Option(..., "--reference", help="Finance's reference for the payment."),
    stack: str | None = STACK_OPTION,
    as_name: str | None = AS_OPTION,
) -> None:
    """Record that finance paid an APPROVED run (its payment file must still have its digest)."""
    api = _api(_stack(stack), as_name)
    run = _call(lambda: api.mark_paid(run_id, reference))
    console.print(
        f"{run['run_id']}: PAID (reference {run['approval']['payment_reference']})", highlight=False
    )


@run_app.command("show")
def run_show(
    run_id: str = typer.Argument(..., help="The run id."),
    stack: str | None = STACK_OPTION,
    as_name: str | None = AS_OPTION,
) -> None:
    """One run: status, totals, who ran and approved it, and its last failure."""
    api = _api(_stack(stack), as_name)
    run = _call(lambda: api.show(run_id))
    lines = [
        f"run:        {run['run_id']}",
        f"status:     {run['effective_status']}",
        f"entries:    {run['entry_count']}",
        f"total:      {format_cents(run['total_cents'])} USD",
        f"operators:  {', '.join(run['operators']) or '-'}",
    ]
    approval = run.get("approval")
    if approval:
        lines.append(f"approved:   {approval['approved_by']} at {approval['approved_at']}")
        lines.append(f"payment:    {approval['payment_file_key']} sha256 {approval['payment_sha256']}")
        if approval.get("paid_at"):
            lines.append(
                f"paid:       {approval['paid_by']} at {approval['paid_at']} "
                f"({approval['payment_reference']})"
            )
    failure = run.get("last_failure")
    if failure:
        lines.append(
            f"failed:     {failure['step']} {failure['error']}: {failure['message']} ({failure['at']})"
        )
    lines += pool_lines(run.get("funding_pools", []))
    console.print("\n".join(lines), highlight=False)


def list_runs(stack: str | None = STACK_OPTION, as_name: str | None = AS_OPTION) -> None:
    """List runs with their status, totals and last failure."""
    api = _api(_stack(stack), as_name)
    table = Table(title="Payment runs")
    for column in (
        "run",
        "kind",
        "period",
        "mode",
        "status",
        "entries",
        "total (USD)",
        "updated",
        "last failure",
    ):
        table.add_column(column, justify="right" if column in {"entries", "total (USD)"} else "left")
    for run in _call(lambda: {"runs": api.runs()})["runs"]:
        failure = run.get("last_failure")
        table.add_row(
            run["run_id"],
            run["run_kind"],
            run["period"],
            run["mode"],
            run["effective_status"],
            str(run["entry_count"]),
            format_cents(run["total_cents"]),
            run["updated_at"][:16].replace("T", " "),
            f"{failure['step']} {failure['error']}: {failure['message']}" if failure else "",
        )
    # Run ids and reasons must stay whole even when stdout is not a wide terminal.
    Console(width=max(console.width, 160)).print(table)


def register(app: typer.Typer) -> None:
    """Add `p4p run …` and `p4p runs` to the app."""
    app.add_typer(run_app, name="run")
    app.command("runs")(list_runs)
