"""Designing a program on moto (issue 14 §2, §3): `p4p baseline` and `p4p whatif` through the CLI over the
stack's tables, on the tiny plan with the one-measure Benchmark version of `test_annual_run.py` (BCS-E,
$10 per MC member, $20 per CA member, minimums of 1) and K2's APC practice of `test_annual_apc.py`.

Worked figures: the annual run pays K3 $20.00 (2 MC members, BCS-E met) and guarantees K1 (Care Gap from
15 January) $1.92 prorated and $48.08 made whole on a full-year bonus of $50.00.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import cli.program_design
from cli.main import app
from cli.stack import StackRef
from shared.clock import clock_override, shifted_clock
from shared.dal.objects import S3ObjectStore
from shared.logic.baseline import wilson_interval
from shared.programs.care_gap import DATA_DIR
from shared.programs.catalog import load_programs
from shared.programs.stored import StoredPrograms, parse_program_file
from tests.functional.flow import land, run_month, run_request
from tests.functional.plan_data import FILES
from tests.functional.test_annual_apc import MAMMOGRAMS, ROSTER, apc_version
from tests.functional.test_annual_run import ANNUAL, EXTRA, benchmark_version

AFTER_FINALIZATION = datetime(2027, 7, 1, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def stack(aws, lambda_context, monkeypatch):
    """The tiny plan (with K3's second woman and K2's APC women) landed, the test Benchmark and APC
    versions dropped; the CLI reads this stack."""
    with clock_override(shifted_clock(AFTER_FINALIZATION)):
        files = (
            FILES
            | EXTRA
            | {"landing/eligibility/k2.csv": ROSTER, "landing/medical_claims/k2.csv": MAMMOGRAMS}
        )
        land(aws, lambda_context, files)
        for key, body in (
            ("programs/benchmark/test.json", benchmark_version()),
            ("programs/apc/test.json", apc_version()),
        ):
            aws.s3.put_object(Bucket=aws.names["CURATED_BUCKET"], Key=key, Body=body)
        outputs = {
            "GapsTableName": aws.names["GAPS_TABLE"],
            "LedgerTableName": aws.names["LEDGER_TABLE"],
            "RegistryTableName": aws.names["REGISTRY_TABLE"],
            "ApprovalsTableName": aws.names["APPROVALS_TABLE"],
            "CuratedBucketName": aws.names["CURATED_BUCKET"],
        }
        ref = StackRef(name="test", outputs=outputs, region="us-east-1")
        monkeypatch.setattr(cli.program_design, "resolve_stack", lambda name: ref)
        yield aws


def _p4p(*args: str) -> Any:
    with clock_override(shifted_clock(AFTER_FINALIZATION)):
        result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def _annual(lambda_context: Any) -> None:
    with clock_override(shifted_clock(AFTER_FINALIZATION)):
        run_request(lambda_context, ANNUAL)


def _report(aws: Any, key: str) -> list[dict[str, str]]:
    body = aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in path.read_text().splitlines() if not line.startswith("#")))


def _table_bytes(aws: Any, table: str) -> bytes:
    items = aws.dynamodb.scan(TableName=aws.names[table])["Items"]
    return json.dumps(sorted(items, key=lambda i: json.dumps(i, sort_keys=True)), sort_keys=True).encode()


def _file(tmp_path: Path, name: str, body: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_baselines_are_the_annual_runs_rates_and_the_proposal_loads(stack, lambda_context, tmp_path):
    # GIVEN the year's annual run, which reports every clinic line's BCS-E rate
    _annual(lambda_context)
    reported = {
        (r["clinic_id"], r["line_of_business"]): r["rate"]
        for r in _report(stack, "runs/annual-2026-final/rates.csv")
        if r["measure"] == "BCS-E"
    }
    # WHEN the plan computes 2026's baselines with the benchmark at the 75th percentile
    out = tmp_path / "proposal.json"
    rates = tmp_path / "rates.csv"
    shown = _p4p(
        "baseline", "--program", "benchmark", "--year", "2026", "--out", str(out), "--csv", str(rates)
    )
    # THEN every clinic line's baseline is the rate the annual run counted, by the same engine
    baselines = {(r["clinic_id"], r["line_of_business"]): r for r in _csv(rates) if r["measure"] == "BCS-E"}
    assert {k: v["rate"] for k, v in baselines.items() if k in reported} == reported
    assert set(reported) <= set(baselines)
    # AND the proposal is a 2027 Benchmark version the program's own loader takes, as a dropped file would be
    body = out.read_bytes()
    proposed = parse_program_file("programs/benchmark/benchmark-2027.proposed.json", body)
    assert (proposed.program, proposed.measurement_year, proposed.version) == (
        "benchmark",
        2027,
        "benchmark-2027.proposed",
    )
    counted = sorted(Decimal(v["rate"]) for v in baselines.values() if v["counted"] == "yes")
    rank = -(-75 * len(counted) // 100)  # nearest rank
    [measure] = proposed.measures
    assert measure.benchmark == counted[rank - 1]
    stack.s3.put_object(
        Bucket=stack.names["CURATED_BUCKET"], Key="programs/benchmark/benchmark-2027.proposed.json", Body=body
    )
    loaded = StoredPrograms(S3ObjectStore(stack.s3), stack.names["CURATED_BUCKET"], base=load_programs())
    assert loaded.benchmark.for_year(2027) == proposed
    assert "p75" in shown.output and "BCS-E" in shown.output


def test_small_panels_are_flagged_with_their_interval_not_zeroed(stack, tmp_path):
    # GIVEN the shipped APC validity minimums, which K2's four women do not reach
    shipped = (DATA_DIR / "apc" / "apc_2026.json").read_bytes()
    stack.s3.put_object(Bucket=stack.names["CURATED_BUCKET"], Key="programs/apc/test.json", Body=shipped)
    # WHEN the plan computes APC baselines
    rates = tmp_path / "apc-rates.csv"
    out = tmp_path / "apc.json"
    shown = _p4p("baseline", "--program", "apc", "--year", "2026", "--csv", str(rates), "--out", str(out))
    # THEN K2's BCS-E (3 of 4) keeps its rate, flagged as a small panel with its 95% Wilson interval, and is
    # left out of the distribution
    bcs = next(r for r in _csv(rates) if r["clinic_id"] == "K2" and r["measure"] == "BCS-E")
    low, high = wilson_interval(3, 4)
    assert (bcs["rate"], bcs["small_panel"], bcs["counted"]) == ("75.0000", "yes", "no")
    assert (Decimal(bcs["ci_low"]), Decimal(bcs["ci_high"])) == (low, high)
    assert "validity minimum" in bcs["note"]
    # AND with no practice counted BCS-E keeps its levels, said in a note; the file still loads as APC
    proposed = parse_program_file("programs/apc/x.json", out.read_bytes())
    shipped_bcs = json.loads(shipped)["incentive"]["measures"][1]["levels"]
    levels = next(m for m in proposed.incentive.measures if m.code == "BCS-E").levels
    assert {k: str(v) for k, v in levels.model_dump().items()} == shipped_bcs
    assert "BCS-E: no practice counted" in shown.output


def test_whatif_of_the_benchmark_file_reports_each_clinic_and_never_writes_the_ledger(
    stack, lambda_context, tmp_path
):
    # GIVEN the year's annual run paid, and the Ledger and GapState tables as they are
    _annual(lambda_context)
    before = (_table_bytes(stack, "LEDGER_TABLE"), _table_bytes(stack, "GAPS_TABLE"))
    doubled = json.loads(benchmark_version())
    doubled["lines"] = [
        line | {"amount_per_member": str(Decimal(line["amount_per_member"]) * 2)} for line in doubled["lines"]
    ]
    alternative = _file(tmp_path, "doubled.json", json.dumps(doubled).encode())
    same = _file(tmp_path, "same.json", benchmark_version())
    # WHEN the plan re-runs 2026 under the same file, and under one paying twice as much per member
    csv_path = tmp_path / "whatif.csv"
    _p4p("whatif", "--program", str(same), "--year", "2026", "--csv", str(tmp_path / "same.csv"))
    shown = _p4p("whatif", "--program", str(alternative), "--year", "2026", "--csv", str(csv_path))
    # THEN the same file differs by nothing
    rows = {r["clinic_id"]: r for r in _csv(tmp_path / "same.csv")}
    assert rows["TOTAL"]["difference"] == "0.00" and rows["K3"]["paid"] == "20.00"
    # AND the doubled file doubles K3's payout and K1's full-year bonus (prorated $3.84, made whole $96.16)
    rows = {r["clinic_id"]: r for r in _csv(csv_path)}
    assert (rows["K3"]["paid"], rows["K3"]["whatif"], rows["K3"]["difference"]) == ("20.00", "40.00", "20.00")
    assert (rows["K1"]["paid"], rows["K1"]["whatif"]) == ("50.00", "100.00")
    assert rows["TOTAL"]["difference"] == "70.00"
    assert "TOTAL" in shown.output and "70.00" in shown.output
    assert csv_path.read_text().startswith("# WHAT-IF of 2026")
    # AND neither re-run wrote a ledger entry, a member's history or a gap: both tables are byte-identical
    assert (_table_bytes(stack, "LEDGER_TABLE"), _table_bytes(stack, "GAPS_TABLE")) == before


def test_whatif_of_the_care_gap_file_reruns_the_svu_awards_over_the_year(stack, lambda_context, tmp_path):
    # GIVEN December's final run paid every step earned in the year
    with clock_override(shifted_clock(AFTER_FINALIZATION)):
        run_month(lambda_context, "2026-12")
    before = _table_bytes(stack, "LEDGER_TABLE")
    shipped = json.loads((DATA_DIR / "care_gap" / "care_gap_2026.json").read_text())
    doubled = shipped | {"svu_dollar_rate": str(Decimal(shipped["svu_dollar_rate"]) * 2)}
    alternative = _file(tmp_path, "care_gap.json", json.dumps(doubled).encode())
    # WHEN the plan re-runs 2026 under a Care Gap file paying twice the dollars per SVU
    csv_path = tmp_path / "svu.csv"
    shown = _p4p("whatif", "--program", str(alternative), "--year", "2026", "--csv", str(csv_path))
    # THEN each clinic's what-if is twice what it was paid (to the cent of each award's rounding)
    rows = {r["clinic_id"]: r for r in _csv(csv_path)}
    paid = {c: Decimal(r["paid"]) for c, r in rows.items() if c != "TOTAL"}
    assert paid and all(v > 0 for v in paid.values())
    for clinic, amount in paid.items():
        assert abs(Decimal(rows[clinic]["whatif"]) - 2 * amount) <= Decimal("0.10")
    # AND with no annual run the guarantee is not re-run, said in a note; the ledger is untouched
    assert "guarantee is not re-run" in shown.output
    assert _table_bytes(stack, "LEDGER_TABLE") == before


def test_whatif_of_the_apc_file_scores_element_3_with_the_files_levels(stack, lambda_context, tmp_path):
    # GIVEN the annual run, where K2's BCS-E of 75% is under the threshold of 76 (no baseline: nothing)
    _annual(lambda_context)
    before = _table_bytes(stack, "LEDGER_TABLE")
    lower = json.loads(apc_version())
    bcs = next(m for m in lower["incentive"]["measures"] if m["code"] == "BCS-E")
    bcs["levels"] = {"mpt": "60", "threshold": "74", "gold": "80"}
    alternative = _file(tmp_path, "apc.json", json.dumps(lower).encode())
    # WHEN the plan re-runs 2026 under an APC file whose BCS-E threshold is 74
    csv_path = tmp_path / "apc.csv"
    _p4p("whatif", "--program", str(alternative), "--year", "2026", "--csv", str(csv_path))
    # THEN K2 earns more than it was paid: BCS-E reaches the threshold; the ledger is untouched
    rows = {r["clinic_id"]: r for r in _csv(csv_path)}
    assert Decimal(rows["K2"]["difference"]) > 0
    assert set(rows) == {"K2", "TOTAL"}
    assert _table_bytes(stack, "LEDGER_TABLE") == before
