"""`make demo`: a generated plan, run for a year on the local runtime, statements and a summary in ./out/."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cli.demo_annual import annual_summary, print_annual
from cli.local.executions import ExecutionTimeoutError
from cli.local.progress import Stage, describe, stage
from cli.operator import (
    OperatorApi,
    OperatorRefusedError,
    annual_input,
    lambda_transport,
    local_identity,
    monthly_input,
    quarterly_input,
)
from shared.clock import shifted_clock
from shared.logic.member_buckets import buckets_for
from shared.logic.money import format_cents
from shared.models.tables import Prefix
from shared.observability import logger
from shared.services.pages import PLAN_PAGE

# Reference data first, so evidence finds its members and clinics when it is applied; every kind the
# generator writes. Attestations last: a clinic attests what the claims did not show.
INGEST_ORDER = (
    "clinics",
    "providers",
    "eligibility",
    "medical_claims",
    "pharmacy_claims",
    "immunizations",
    "labs",
    "attestations",
    "ta_engagement",
)
DEMO_YEAR = 2026
DEMO_NOW = datetime(DEMO_YEAR + 1, 7, 1, tzinfo=UTC)
"""Where the demo stands: after its year has ended and after the annual finalization date."""
DEMO_OPERATOR, DEMO_APPROVER = "demo-operator", "demo-approver"
"""Who starts each run and who approves it: two people, as the programs require."""
REGISTRY_AS_OF = date(DEMO_YEAR, 12, 31)
"""The registry is exported as the clinics would see it after the year's last run."""
REGISTRY_SHOWN = 5
"""Rows of each clinic's registry printed on the screen; the CSV in out/registry/ has them all."""


def run_demo(
    *,
    out: Path,
    members: int,
    clinics: int,
    seed: int,
    console: Console,
    template: dict[str, Any] | None = None,
    run_limit_s: float | None = None,
) -> dict[str, Any]:
    """Generate, ingest, run twelve monthly runs and the year's annual incentive run (each approved),
    download the outputs, print and return the summary.

    A run is waited for as long as it runs, up to `run_limit_s` (default: the state machine's own
    TimeoutSeconds). When one fails (or passes the limit) the demo prints one line saying how, as the
    execution reports it, and exits with code 1."""
    out.mkdir(parents=True, exist_ok=True)
    # moto's ASL parser warns that ToleratedFailurePercentage is not simulated; it is 0 (the default) here.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.ERROR)
    # Handlers log JSON lines as they would to CloudWatch; the demo keeps them in a file, off the screen.
    # Metrics go to stdout as CloudWatch embedded-metric lines, so the file takes stdout too; the console is
    # pinned to the terminal first (a rich Console otherwise follows sys.stdout wherever it points).
    console.file = sys.stdout
    with (out / "handler-logs.jsonl").open("w") as handler_log, contextlib.redirect_stdout(handler_log):
        original_stream = logger.registered_handler.setStream(handler_log)
        try:
            summary = _generate_and_run(
                out=out,
                members=members,
                clinics=clinics,
                seed=seed,
                console=console,
                template=template,
                run_limit_s=run_limit_s,
            )
        except DemoRunError as failure:
            console.print(f"[red]error:[/red] {failure}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None
        finally:
            logger.registered_handler.setStream(original_stream)
    _print_summary(summary, console)
    _print_quarterly(summary["quarterly"], console)
    print_annual(summary["annual"], console)
    _print_registries(summary["registry"], out, console)
    # The registry's top rows name members: they are shown, and the CSVs hold them, but summary.json does not.
    registry = {c: {k: v for k, v in r.items() if k != "top"} for c, r in summary["registry"].items()}
    (out / "summary.json").write_text(json.dumps(summary | {"registry": registry}, indent=2, default=str))
    console.print(f"statements, payment files, registries, pages and summary.json written to {out}")
    _print_pages(summary["pages"], console)
    return summary


class DemoRunError(Exception):
    """A run failed or outlived its limit; the message is one line, as the execution reports it."""


def _generate_and_run(
    *,
    out: Path,
    members: int,
    clinics: int,
    seed: int,
    console: Console,
    template: dict[str, Any] | None,
    run_limit_s: float | None,
) -> dict[str, Any]:
    from cli.generate import APC_KINDS, FIXED_KINDS, OPTIONAL_KINDS, generate_plan
    from cli.local.runtime import LocalRuntime

    started = time.monotonic()
    with console.status("generating the plan"):
        plan = generate_plan(
            out / "data",
            members=members,
            clinics=clinics,
            year=DEMO_YEAR,
            seed=seed,
            kinds=set(FIXED_KINDS | OPTIONAL_KINDS | APC_KINDS),
        )
    console.print(
        f"generated {members} members, {clinics} clinics, {len(plan.files)} files in {out / 'data'} "
        f"({time.monotonic() - started:.0f} s)",
        highlight=False,
    )

    started = time.monotonic()
    with contextlib.ExitStack() as running:
        with console.status("synthesizing the stack and creating it in moto"):
            clock = shifted_clock(DEMO_NOW)
            runtime = running.enter_context(
                LocalRuntime(template, clock=clock)
                if template is not None
                # The plan's deployment would size its member buckets to the plan: one for the demo's.
                else LocalRuntime.from_app(clock=clock, context={"member_buckets": buckets_for(members)})
            )
        console.print(f"local stack created in moto ({time.monotonic() - started:.0f} s)", highlight=False)
        s3 = runtime.client("s3")
        outputs = runtime.outputs
        manifests = _ingest(runtime, s3, outputs, plan, console)
        runs = _run_months(runtime, console, run_limit_s)
        quarters = _run_quarters(runtime, console, run_limit_s)
        annual = _run_annual(runtime, console, run_limit_s)
        summary = _collect(s3, outputs, runs, manifests, out)
        summary["quarterly"] = _quarterly_summary(quarters, out)
        summary["annual"] = annual_summary(runtime, annual, out)
        summary["pages"] = _export_pages(s3, outputs, annual["run_id"], out)
        with console.status("exporting each clinic's registry"):
            summary["registry"] = _export_registries(runtime, out)
        return summary


def _ingest(
    runtime: Any, s3: Any, outputs: dict[str, str], plan: Any, console: Console
) -> list[dict[str, Any]]:
    landing = outputs["LandingBucketName"]
    files = [f for kind in INGEST_ORDER for f in plan.files if f.kind == kind]
    with stage(console, "ingesting", total=len(files)) as ingesting:
        for kind in INGEST_ORDER:
            mine = [f for f in files if f.kind == kind]
            started = time.monotonic()
            for generated in mine:
                ingesting.detail(generated.path.name)
                s3.upload_file(str(generated.path), landing, generated.landing_key)
                runtime.pump_ingest_queue()
                ingesting.done()
            rows = sum(f.rows for f in mine)
            ingesting.line(
                f"ingested {len(mine)} {kind} files, {rows} rows ({time.monotonic() - started:.0f} s)"
            )
    return _read_json_objects(s3, outputs["ReportsBucketName"], "manifests/")


def _run_months(runtime: Any, console: Console, limit_s: float | None) -> list[dict[str, Any]]:
    months = [f"{DEMO_YEAR}-{m:02d}" for m in range(1, 13)]
    return _run_periods(runtime, console, limit_s, "monthly", months, monthly_input)


def _run_quarters(runtime: Any, console: Console, limit_s: float | None) -> list[dict[str, Any]]:
    """The year's four quarterly PMPM runs (APC Elements 1 and 2), each after its quarter's months."""
    quarters = [f"{DEMO_YEAR}-Q{q}" for q in range(1, 5)]
    return _run_periods(runtime, console, limit_s, "quarterly", quarters, quarterly_input)


def _run_periods(
    runtime: Any,
    console: Console,
    limit_s: float | None,
    kind: str,
    periods: list[str],
    body_of: Callable[[str, str], dict[str, Any]],
) -> list[dict[str, Any]]:
    """One final run of `kind` per period, in order: each started, waited for and approved."""
    label = {"monthly": "monthly SVU runs", "quarterly": "quarterly PMPM runs"}[kind]
    key = {"monthly": "month", "quarterly": "quarter"}[kind]
    results = []
    with stage(console, label, total=len(periods)) as shown:
        for period in periods:
            started = time.monotonic()
            result = _run(runtime, f"{kind} run {period}", body_of(period, "final"), shown, limit_s)
            shown.done(f"{period}: run succeeded ({time.monotonic() - started:.0f} s)")
            results.append({key: period, **result})
    return results


def _quarterly_summary(quarters: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    """What each quarterly run's payment file pays, per quarter and per clinic (downloaded to out/)."""
    by_quarter: dict[str, str] = {}
    by_clinic: dict[str, Decimal] = defaultdict(Decimal)
    for run in quarters:
        rows = list(csv.DictReader(io.StringIO((out / run["payment_file_key"]).read_text())))
        for row in rows:
            by_clinic[row["clinic_id"]] += Decimal(row["amount"])
        by_quarter[run["quarter"]] = str(sum((Decimal(r["amount"]) for r in rows), Decimal(0)))
    total = sum((Decimal(v) for v in by_quarter.values()), Decimal(0))
    return {
        "by_quarter": by_quarter,
        "by_clinic": {k: str(v) for k, v in sorted(by_clinic.items())},
        "total": str(total),
    }


def _print_quarterly(quarterly: dict[str, Any], console: Console) -> None:
    title = "APC PMPM payments (Elements 1 and 2) by quarter (USD)"
    console.print(_paid_table(title, "quarter", quarterly["by_quarter"], quarterly["total"]))


def _run_annual(runtime: Any, console: Console, limit_s: float | None) -> dict[str, Any]:
    """The year's annual incentive run, after its twelve months and past the finalization date."""
    with stage(console, "annual incentive run", total=1) as annual:
        started = time.monotonic()
        result = _run(runtime, f"annual run {DEMO_YEAR}", annual_input(DEMO_YEAR, "final"), annual, limit_s)
        annual.done(f"{DEMO_YEAR} annual run: run succeeded ({time.monotonic() - started:.0f} s)")
    return result


def _run(
    runtime: Any, label: str, body: dict[str, Any], shown: Stage, limit_s: float | None
) -> dict[str, Any]:
    """Start one final run as the demo's operator, wait for it, approve it as a second person (which
    writes the payment file); return the execution's output with `run_id` and `payment_file_key`."""
    function = runtime.outputs["OperatorFunctionName"]

    def operator_as(name: str) -> OperatorApi:
        return OperatorApi(
            lambda_transport(lambda event: runtime.invoke(function, event), local_identity(name))
        )

    shown_as = label.removeprefix("monthly run ").removeprefix("quarterly run ")
    try:
        started = operator_as(DEMO_OPERATOR).start(body)
        execution = runtime.wait_for(
            started["execution_arn"],
            timeout_s=limit_s,
            on_progress=lambda progress: shown.detail(f"{shown_as} {describe(progress)}"),
        )
        if execution.status != "SUCCEEDED":
            raise DemoRunError(f"{label} {execution.failure_line()}")
        approved = operator_as(DEMO_APPROVER).approve(started["run_id"])
    except ExecutionTimeoutError as timeout:
        raise DemoRunError(f"{label} {timeout}") from None
    except OperatorRefusedError as refused:
        raise DemoRunError(f"{label} refused: {refused}") from None
    payment_file_key = approved["approval"]["payment_file_key"]
    return {**execution.output, "run_id": started["run_id"], "payment_file_key": payment_file_key}


def _collect(
    s3: Any, outputs: dict[str, str], runs: list[dict[str, Any]], manifests: list[dict[str, Any]], out: Path
) -> dict[str, Any]:
    for bucket, prefix in (
        (outputs["ReportsBucketName"], "statements/"),
        (outputs["PaymentsBucketName"], "payments/"),
    ):
        for key in _keys(s3, bucket, prefix):
            target = out / key
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(target))
    by_clinic: dict[str, Decimal] = defaultdict(Decimal)
    by_month: dict[str, Decimal] = {}
    for run in runs:
        month_total = Decimal(0)
        body = (out / run["payment_file_key"]).read_text()
        for row in csv.DictReader(io.StringIO(body)):
            by_clinic[row["clinic_id"]] += Decimal(row["amount"])
            month_total += Decimal(row["amount"])
        by_month[run["month"]] = month_total
    files = {
        "files": len(manifests),
        "rows_read": sum(m["rows_read"] for m in manifests),
        "accepted": sum(m["accepted"] for m in manifests),
        "rejected": sum(m["rejected"] for m in manifests),
        "duplicate": sum(m["duplicate"] for m in manifests),
        "superseded": sum(m["superseded"] for m in manifests),
    }
    return {
        "intake": files,
        "by_month": {k: str(v) for k, v in by_month.items()},
        "by_clinic": {k: str(v) for k, v in sorted(by_clinic.items())},
        "total": str(sum(by_month.values(), Decimal(0))),
    }


def _export_pages(s3: Any, outputs: dict[str, str], run_id: str, out: Path) -> dict[str, Any]:
    """Copy the pages the annual run wrote (the year's last run: `pages/<run_id>/` in the reports bucket) to
    out/pages/; return the plan page's path and each clinic page's."""
    bucket, prefix = outputs["ReportsBucketName"], f"{Prefix.PAGES}{run_id}/"
    folder = out / "pages"
    clinics: dict[str, str] = {}
    plan = None
    for key in _keys(s3, bucket, prefix):
        name = key[len(prefix) :]
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(target))
        if name == PLAN_PAGE:
            plan = str(target)
        elif name.startswith("clinic/") and name.endswith(".html"):
            clinics[name.removeprefix("clinic/").removesuffix(".html")] = str(target)
    if plan is None:
        raise DemoRunError(f"annual run {run_id} wrote no plan page under {prefix}")
    return {"run_id": run_id, "plan": plan, "clinics": dict(sorted(clinics.items()))}


def _print_pages(pages: dict[str, Any], console: Console) -> None:
    """Name the pages to open: the plan's, then each clinic's."""
    console.print(f"open the plan's page: {pages['plan']}", highlight=False, soft_wrap=True)
    for clinic_id, path in pages["clinics"].items():
        console.print(f"  {clinic_id}'s page: {path}", highlight=False, soft_wrap=True)


def _export_registries(runtime: Any, out: Path) -> dict[str, dict[str, Any]]:
    """Write each Care Gap clinic's registry (the `p4p registry` CSV) to out/registry/<clinic>.csv; return,
    per clinic, its file, row count, dollars at stake and its top rows."""
    from shared.dal.gap_state import DynamoGapStateRepository
    from shared.dal.objects import S3ObjectStore
    from shared.services.registry import RegistryService, registry_csv
    from shared.services.wiring import program_catalog

    outputs = runtime.outputs
    gaps = DynamoGapStateRepository(runtime.client("dynamodb"), outputs["GapsTableName"])
    catalog = program_catalog(S3ObjectStore(runtime.client("s3")), outputs["CuratedBucketName"])
    service = RegistryService(gaps=gaps, catalog=catalog)
    folder = out / "registry"
    folder.mkdir(parents=True, exist_ok=True)
    exported: dict[str, dict[str, Any]] = {}
    for clinic_id, clinic in sorted(gaps.clinics().items()):
        if not clinic.in_care_gap_on(REGISTRY_AS_OF):
            continue
        rows = service.registry(clinic_id, REGISTRY_AS_OF)
        path = folder / f"{clinic_id}.csv"
        path.write_bytes(registry_csv(rows))
        exported[clinic_id] = {
            "file": str(path),
            "rows": len(rows),
            "at_stake": format_cents(sum(r.cents_at_stake for r in rows)),
            "top": [
                {
                    "member_id": r.member_id,
                    "action": r.action,
                    "next_action": r.next_action.value if r.next_action else "",
                    "due_date": r.due_date.isoformat() if r.due_date else "",
                    "at_stake": format_cents(r.cents_at_stake),
                }
                for r in rows[:REGISTRY_SHOWN]
            ],
        }
    return exported


def _print_registries(registries: dict[str, dict[str, Any]], out: Path, console: Console) -> None:
    for clinic_id, registry in registries.items():
        table = Table(
            title=f"{clinic_id} registry on {REGISTRY_AS_OF.isoformat()}: top {len(registry['top'])} of "
            f"{registry['rows']} open gaps, ${registry['at_stake']} at stake",
            min_width=72,
        )
        for column in ("rank", "member", "action", "next step", "due", "at stake (USD)"):
            table.add_column(column, justify="right" if column in {"rank", "at stake (USD)"} else "left")
        for rank, row in enumerate(registry["top"], start=1):
            table.add_row(
                str(rank),
                row["member_id"],
                row["action"],
                row["next_action"],
                row["due_date"],
                row["at_stake"],
            )
        console.print(table)
    console.print(f"registries (every open gap, ranked by money at stake) in {out / 'registry'}")


def _print_summary(summary: dict[str, Any], console: Console) -> None:
    intake = summary["intake"]
    console.print(
        f"intake: {intake['files']} files, {intake['rows_read']} rows read, {intake['accepted']} accepted, "
        f"{intake['rejected']} rejected, {intake['duplicate']} duplicate, {intake['superseded']} superseded"
    )
    console.print(_paid_table("SVU payments by month (USD)", "month", summary["by_month"]))
    title = "SVU payments by clinic, year to date (USD)"
    console.print(_paid_table(title, "clinic", summary["by_clinic"], summary["total"]))


def _paid_table(title: str, column: str, paid: dict[str, str], total: str | None = None) -> Table:
    """A two-column table of what was paid per `column`, with a bold total row when `total` is given."""
    table = Table(title=title, min_width=44)
    table.add_column(column)
    table.add_column("paid", justify="right")
    for name, amount in paid.items():
        table.add_row(name, amount)
    if total is not None:
        table.add_row("[bold]total[/bold]", f"[bold]{total}[/bold]")
    return table


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _read_json_objects(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    return [
        json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in _keys(s3, bucket, prefix)
    ]
