"""`p4p explain` on moto: files → ingest → a closed March → the CLI reads the gap state, the ledger and the
runs through the stack's tables and says, for each step of a member's gap, what was paid, when and on what
evidence, and the first rule that stopped the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from cli import explain as cli_explain
from cli.main import app
from cli.stack import StackRef
from shared.observability import logger
from tests.functional.flow import land, run_month
from tests.functional.plan_data import FILES

# Fields of the plan's files a clinic is not shown here: birth dates, clinic names, TINs.
NOT_SHOWN = ("1965-04-10", "1960-12-12", "1990-02-02", "Harbor Family Clinic", "Bayside", "111111111")


@pytest.fixture
def cli(aws, monkeypatch) -> CliRunner:
    """The CLI pointed at the moto stack's tables and curated bucket, as `resolve_stack` finds a stack."""
    outputs = {
        "GapsTableName": aws.names["GAPS_TABLE"],
        "LedgerTableName": aws.names["LEDGER_TABLE"],
        "RegistryTableName": aws.names["REGISTRY_TABLE"],
        "ApprovalsTableName": aws.names["APPROVALS_TABLE"],
        "CuratedBucketName": aws.names["CURATED_BUCKET"],
    }
    monkeypatch.setattr(cli_explain, "resolve_stack", lambda name: StackRef(name="test", outputs=outputs))
    return CliRunner()


@pytest.fixture
def march(aws, lambda_context) -> None:
    """The tiny plan ingested and March's final run closed (CALCULATED)."""
    land(aws, lambda_context, FILES)
    run_month(lambda_context, "2026-03")


def explain(cli: CliRunner, clinic: str, member: str, *extra: str) -> Any:
    args = ["explain", "--clinic", clinic, "--member", member, "--action", "BCS-E", "--year", "2026", *extra]
    return cli.invoke(app, args)


def test_a_paid_schedule_and_screening_and_a_claim_waiting_for_aprils_run(march, cli):
    # GIVEN March closed: M1's schedule (attested 10 February) and screening (5 March) at K1; her claim
    # was received on 2 April, so it earns in April, whose run has not started
    # WHEN K1 asks about M1's BCS-E, as JSON and as text
    found = explain(cli, "K1", "M1", "--json")
    text = explain(cli, "K1", "M1")
    # THEN the two attested steps are paid by March's run on their attestations, and the claim step waits
    # for April's run; the text says the same in the plan's words
    assert found.exit_code == 0 and text.exit_code == 0
    data = json.loads(found.stdout)
    steps = {s["step"]: s for s in data["steps"]}
    assert {k: s["status"] for k, s in steps.items()} == {
        "schedule": "paid",
        "perform": "paid",
        "claim": "due",
    }
    schedule = steps["schedule"]["entries"][0]
    assert (schedule["run_id"], schedule["earned_month"], schedule["evidence_refs"]) == (
        "monthly-2026-03-final",
        "2026-02",
        ["attestation:AT-1"],
    )
    assert schedule["run_status"] == "CALCULATED" and schedule["rule_version"] == "care_gap-2026.1"
    assert steps["claim"]["stopped_by"]["code"] == "run_not_closed"
    assert steps["claim"]["stopped_by"]["facts"]["run_id"] == "monthly-2026-04-final"
    assert data["net_paid_cents"] == sum(
        s["entries"][0]["amount_cents"] for s in steps.values() if s["entries"]
    )
    assert data["last_closed_run"] == "monthly-2026-03-final"
    assert "2026 claim: DUE" in text.stdout
    assert "that month's final run, monthly-2026-04-final, is not started" in text.stdout
    # AND the annual part: K1 is a Care Gap clinic of a guaranteed year, M1 counts in its MC BCS-E rate
    (annual,) = data["annual"]
    assert annual["program"] == "benchmark" and annual["run_status"] == "not started"
    assert [r["code"] for r in annual["reasons"]] == ["annual_guarantee", "annual_run_not_closed"]
    assert [
        (line["line_of_business"], line["denominator"], line["numerator"]) for line in annual["lines"]
    ] == [("MC", True, True)]


def test_a_screening_claimed_while_assigned_to_another_clinic_is_not_paid_to_the_new_one(march, cli):
    # GIVEN M4 assigned to K2 until 28 February, then K1; screened on 20 February (claim received in March,
    # paid to K2 by March's run)
    # WHEN K1 asks about M4's BCS-E
    found = explain(cli, "K1", "M4", "--json")
    text = explain(cli, "K1", "M4")
    # THEN every step is not paid to K1, stopped by the assignment on the action date, and nothing of
    # K2's (its id, its amounts) is shown to K1
    data = json.loads(found.stdout)
    assert {s["status"] for s in data["steps"]} == {"not_paid"}
    assert {(s["stopped_by"]["code"], s["stopped_by"]["facts"]["date"]) for s in data["steps"]} == {
        ("not_assigned", "2026-02-20")
    }
    assert data["entries"] == [] and data["net_paid_cents"] == 0
    assert "the member was not assigned to the clinic on 2026-02-20" in text.stdout
    assert "K2" not in text.stdout and "K2" not in found.stdout


def test_a_member_outside_the_age_window_and_the_clinics_entitlement(march, cli):
    # GIVEN M3 (36 at the end of 2026) at K1, with a mammogram claim; M5 a K3 member
    # WHEN K1 asks about M3, about M5 (never its member), an unknown member, clinic and action
    young = json.loads(explain(cli, "K1", "M3", "--json").stdout)
    stranger = explain(cli, "K1", "M5")
    unknown = explain(cli, "K1", "NOPE")
    no_clinic = explain(cli, "K9", "M1")
    no_action = cli.invoke(
        app, ["explain", "--clinic", "K1", "--member", "M1", "--action", "XYZ", "--year", "2026"]
    )
    # THEN M3's steps are stopped by BCS-E's population on 31 December; K1 may not see M5; the rest are
    # unknown, each refused in one line
    assert {s["stopped_by"]["code"] for s in young["steps"]} == {"age_window"}
    assert young["steps"][0]["stopped_by"]["text"] == (
        "outside BCS-E's population on 2026-12-31: women 50-74 years"
    )
    assert stranger.exit_code == 2 and "was not assigned to clinic K1 in 2026" in stranger.stderr
    assert unknown.exit_code == 2 and "member NOPE is not known" in unknown.stderr
    assert no_clinic.exit_code == 2 and "clinic K9 is not known" in no_clinic.stderr
    assert no_action.exit_code == 2 and "no Care Gap program version has action XYZ" in no_action.stderr
    assert all(
        r.stderr.count("\n") == 1 and r.stdout == "" for r in (stranger, unknown, no_clinic, no_action)
    )


def test_the_output_and_the_logs_hold_no_name_or_birth_date_and_the_logs_no_member(march, cli):
    # GIVEN the service logging at DEBUG
    logger.setLevel("DEBUG")
    try:
        # WHEN K1 asks about each of its members, as text and JSON
        results = [
            explain(cli, "K1", m, *extra) for m in ("M1", "M2", "M3", "M4") for extra in ((), ("--json",))
        ]
    finally:
        logger.setLevel("INFO")
    # THEN no birth date, clinic name or TIN is printed, and what was logged (stderr) names no member
    for result in results:
        assert result.exit_code == 0
        assert not [v for v in NOT_SHOWN if v in result.stdout]
        assert "gap explained" in result.stderr
        assert not [m for m in ("M1", "M2", "M3", "M4") if m in result.stderr]
