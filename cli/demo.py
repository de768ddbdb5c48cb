"""`make demo`: a generated plan, run for a year on the local runtime, statements and a summary in ./out/."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import sys
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from cli.operator import monthly_input
from shared.logic.money import format_cents
from shared.observability import logger

# Reference data first, so evidence finds its members and clinics when it is applied.
INGEST_ORDER = ("clinics", "eligibility", "medical_claims", "attestations")
DEMO_YEAR = 2026
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
) -> dict[str, Any]:
    """Generate, ingest, run twelve monthly runs, download the outputs, print and return the summary."""
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
                out=out, members=members, clinics=clinics, seed=seed, console=console, template=template
            )
        finally:
            logger.registered_handler.setStream(original_stream)
    _print_summary(summary, console)
    _print_registries(summary["registry"], out, console)
    # The registry's top rows name members: they are shown, and the CSVs hold them, but summary.json does not.
    registry = {c: {k: v for k, v in r.items() if k != "top"} for c, r in summary["registry"].items()}
    (out / "summary.json").write_text(json.dumps(summary | {"registry": registry}, indent=2, default=str))
    console.print(f"statements, payment files, registries and summary.json written to {out}")
    return summary


def _generate_and_run(
    *, out: Path, members: int, clinics: int, seed: int, console: Console, template: dict[str, Any] | None
) -> dict[str, Any]:
    from cli.generate import generate_plan
    from cli.local.runtime import LocalRuntime

    with console.status("generating the plan"):
        plan = generate_plan(out / "data", members=members, clinics=clinics, year=DEMO_YEAR, seed=seed)
    console.print(f"generated {members} members, {clinics} clinics in {out / 'data'}")

    with console.status("synthesizing the stack and creating it in moto"):
        runtime = LocalRuntime(template) if template is not None else LocalRuntime.from_app()
    with runtime:
        s3 = runtime.client("s3")
        outputs = runtime.outputs
        manifests = _ingest(runtime, s3, outputs, plan, console)
        runs = _run_months(runtime, console)
        summary = _collect(s3, outputs, runs, manifests, out)
        with console.status("exporting each clinic's registry"):
            summary["registry"] = _export_registries(runtime, out)
        return summary


def _ingest(
    runtime: Any, s3: Any, outputs: dict[str, str], plan: Any, console: Console
) -> list[dict[str, Any]]:
    landing = outputs["LandingBucketName"]
    files = [f for kind in INGEST_ORDER for f in plan.files if f.kind == kind]
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("ingesting files", total=len(files))
        for generated in files:
            s3.upload_file(str(generated.path), landing, generated.landing_key)
            runtime.pump_ingest_queue()
            progress.advance(task)
    return _read_json_objects(s3, outputs["ReportsBucketName"], "manifests/")


def _run_months(runtime: Any, console: Console) -> list[dict[str, Any]]:
    machine = runtime.outputs["MonthlyStateMachineArn"]
    results = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("monthly SVU runs", total=12)
        for month in range(1, 13):
            period = f"{DEMO_YEAR}-{month:02d}"
            execution = runtime.start_and_wait(machine, monthly_input(period, "final"))
            if execution.status != "SUCCEEDED":
                raise RuntimeError(f"monthly run {period} ended {execution.status}: {execution.error}")
            results.append({"month": period, **execution.output})
            progress.advance(task)
    return results


def _collect(
    s3: Any, outputs: dict[str, str], runs: list[dict[str, Any]], manifests: list[dict[str, Any]], out: Path
) -> dict[str, Any]:
    reports = outputs["ReportsBucketName"]
    for prefix in ("statements/", "payments/"):
        for key in _keys(s3, reports, prefix):
            target = out / key
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(reports, key, str(target))
    by_clinic: dict[str, Decimal] = defaultdict(Decimal)
    by_month: dict[str, Decimal] = {}
    for run in runs:
        month_total = Decimal(0)
        payment_key = run["statements"]["value"]["payment_file_key"]
        body = (out / payment_key).read_text()
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
    months = Table(title="SVU payments by month (USD)", min_width=44)
    months.add_column("month")
    months.add_column("paid", justify="right")
    for month, amount in summary["by_month"].items():
        months.add_row(month, amount)
    console.print(months)
    clinics = Table(title="SVU payments by clinic, year to date (USD)", min_width=44)
    clinics.add_column("clinic")
    clinics.add_column("paid", justify="right")
    for clinic, amount in summary["by_clinic"].items():
        clinics.add_row(clinic, amount)
    clinics.add_row("[bold]total[/bold]", f"[bold]{summary['total']}[/bold]")
    console.print(clinics)


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _read_json_objects(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    return [
        json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in _keys(s3, bucket, prefix)
    ]
