"""`make demo` on a small plan: a year of monthly runs and the annual run on the local runtime, statements
and a summary."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
import typer
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from rich.console import Console

from cli.demo import INGEST_ORDER, run_demo
from cli.demo_annual import PARTS
from cli.generate import APC_KINDS, FIXED_KINDS, OPTIONAL_KINDS
from shared.services.runs import RunService
from shared.services.statements import payment_amounts

pytestmark = [pytest.mark.xdist_group("local-demo"), pytest.mark.slow]


def test_the_demo_pays_a_year_and_every_dollar_is_in_a_statement(
    app_template: dict[str, Any], tmp_path
) -> None:
    # GIVEN a small generated plan: a Care Gap clinic, one that joins Care Gap from Benchmark in May, and a
    # Benchmark clinic
    console = Console(record=True, width=120)

    # WHEN the demo runs it on the local runtime
    summary = run_demo(out=tmp_path, members=400, clinics=3, seed=7, console=console, template=app_template)

    # THEN every kind the generator writes was ingested, and the screen said so as it went, kind by kind
    # and month by month (no terminal here, so as plain lines)
    shown = console.export_text(clear=False)
    assert set(INGEST_ORDER) == FIXED_KINDS | OPTIONAL_KINDS | APC_KINDS
    for kind in INGEST_ORDER:
        assert f" {kind} files, " in shown, kind
    assert all(f"2026-{m:02d}: run succeeded" in shown for m in range(1, 13))
    # and twelve months were paid, every file was accounted for, and the outputs agree to the cent
    assert list(summary["by_month"]) == [f"2026-{m:02d}" for m in range(1, 13)]
    intake = summary["intake"]
    assert intake["files"] > 12 and intake["rows_read"] == sum(
        intake[k] for k in ("accepted", "rejected", "duplicate", "superseded")
    )
    statement_total = Decimal(0)
    for path in (tmp_path / "statements").glob("monthly-*/*.csv"):
        rows = list(csv.DictReader(path.open()))
        assert all(
            r["member_id"] and r["evidence"] and r["rule_version"] for r in rows if r["record_type"] == "LINE"
        )
        # Entries (LINE) and carried balances (BALANCE) make up what a clinic is paid.
        paid = (Decimal(r["amount"]) for r in rows if r["record_type"] in {"LINE", "BALANCE"})
        statement_total += sum(paid, Decimal(0))
    payment_total = sum(
        (
            Decimal(r["amount"])
            for p in (tmp_path / "payments").glob("monthly-*.csv")
            for r in csv.DictReader(p.open())
        ),
        Decimal(0),
    )
    assert Decimal(summary["total"]) == statement_total == payment_total > 0
    assert json.loads((tmp_path / "summary.json").read_text())["total"] == summary["total"]
    shown = console.export_text()
    assert "SVU payments by month" in shown and summary["total"] in shown
    # Each Care Gap clinic's registry is in out/registry/, every open gap ranked by the money at stake,
    # and its top rows are on the screen
    registries = sorted((tmp_path / "registry").glob("*.csv"))
    assert [p.stem for p in registries] == sorted(summary["registry"]) and registries
    for path in registries:
        rows = list(csv.DictReader(path.open()))
        assert rows, f"{path.stem} has no open gap"
        at_stake = [Decimal(r["dollars_at_stake"]) for r in rows]
        assert at_stake == sorted(at_stake, reverse=True) and at_stake[0] > 0
        assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
        assert {r["clinic_id"] for r in rows} == {path.stem}
        assert f"{path.stem} registry" in shown and rows[0]["member_id"] in shown
    written = json.loads((tmp_path / "summary.json").read_text())["registry"]
    assert written.keys() == summary["registry"].keys() and all("top" not in r for r in written.values())
    # After the twelve months the year's annual run ran final and was approved: it paid, each clinic's parts
    # add up to its statement's total and to its line of the payment file, and the screen shows them
    annual = summary["annual"]
    assert "2026 annual run: run succeeded" in shown and f"annual incentive run {annual['run_id']}" in shown
    assert annual["run_id"] == "annual-2026-final" and annual["paid"] in shown
    programs = sorted(row["program"] for row in annual["by_clinic"].values())
    assert programs == ["Benchmark", "Benchmark, then Care Gap from 2026-05-01", "Care Gap"]
    paid = payment_amounts((tmp_path / annual["payment_file"]).read_bytes())
    for clinic_id, row in annual["by_clinic"].items():
        parts = sum(Decimal(row[p]) for p in PARTS)
        statement = tmp_path / "statements" / annual["run_id"] / f"{clinic_id}.csv"
        rows = list(csv.DictReader(statement.open())) if statement.exists() else []
        totals = [Decimal(r["amount"]) for r in rows if r["record_type"] == "CLINIC_TOTAL"]
        assert (
            sum(totals, Decimal(0)) == parts == Decimal(row["paid"]) == Decimal(paid.get(clinic_id, 0)) / 100
        )
    assert Decimal(annual["paid"]) == sum(Decimal(c) for c in paid.values()) / 100 > 0
    assert json.loads((tmp_path / "summary.json").read_text())["annual"] == annual
    # The year's four quarterly PMPM runs ran final and were approved, and their payment files pay the APC
    # practices what the summary says
    quarterly = summary["quarterly"]
    assert all(f"2026-Q{q}: run succeeded" in shown for q in range(1, 5))
    assert list(quarterly["by_quarter"]) == [f"2026-Q{q}" for q in range(1, 5)]
    quarter_files = sorted((tmp_path / "payments").glob("quarterly-*.csv"))
    assert len(quarter_files) == 4
    paid_quarters = sum(
        (Decimal(r["amount"]) for p in quarter_files for r in csv.DictReader(p.open())), Decimal(0)
    )
    assert Decimal(quarterly["total"]) == paid_quarters > 0 and quarterly["total"] in shown
    # The demo ends naming the pages to open: the plan's and every clinic's, the annual run's pages copied
    # to out/pages/, and the summary points at them
    pages = summary["pages"]
    assert pages["run_id"] == annual["run_id"]
    assert (
        pages["plan"] == str(tmp_path / "pages" / "plan.html")
        and f"open the plan's page: {pages['plan']}" in shown
    )
    assert (
        sorted(pages["clinics"])
        == sorted(annual["by_clinic"])
        == sorted(p.stem for p in (tmp_path / "pages" / "clinic").glob("*.html"))
    )
    for clinic_id, path in pages["clinics"].items():
        assert f"{clinic_id}'s page: {path}" in shown
        assert clinic_id in (tmp_path / "pages" / "clinic" / f"{clinic_id}.html").read_text()
    assert shown.rstrip().splitlines()[-1].endswith(".html")
    assert json.loads((tmp_path / "summary.json").read_text())["pages"] == pages


def test_a_failed_month_ends_the_demo_with_one_line_and_exit_code_1(
    app_template: dict[str, Any], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a tiny plan whose shard earning fails, with the state machine's retries not waited out
    def broken(service: RunService, item: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "Query")

    monkeypatch.setattr(RunService, "earn", broken)
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: None))
    console = Console(record=True, width=100)

    # WHEN the demo runs it
    with pytest.raises(typer.Exit) as exited:
        run_demo(out=tmp_path, members=20, clinics=2, seed=3, console=console, template=app_template)

    # THEN it exits 1 after one line naming the month, the execution's error and cause and the step that
    # failed, with no traceback on the screen
    shown = console.export_text()
    errors = [line for line in shown.splitlines() if line.startswith("error:")]
    assert exited.value.exit_code == 1
    assert len(errors) == 1 and errors[0].startswith("error: monthly run 2026-01 FAILED: ")
    assert "(at " in errors[0] and "Traceback" not in shown and "run succeeded" not in shown
