"""The registry on an in-memory gap state, and the `p4p registry` / `p4p chart-requests` commands."""

from datetime import date

import typer
from typer.testing import CliRunner

import cli.registry as registry_cli
from shared.dal.memory import MemoryGapStateRepository
from shared.logic.money import amount_cents
from shared.models.actions import Step, Track
from shared.services.registry import RegistryService
from tests.unit.care_gap.factories import CATALOG, PROGRAM, attestation, clinic, profile, span

AS_OF = date(2026, 4, 15)


def repository():
    gaps = MemoryGapStateRepository()
    gaps.put_clinics([clinic("C1"), clinic("C2")])
    members = [
        profile("M1", birth=date(1960, 5, 5)),  # BCS-E, CCS-E, COL-E, DSF-E, AAP...
        profile("M2", birth=date(2019, 2, 1)),  # a child: WCV, IMA windows later
    ]
    gaps.put_roster(members, [span(member_id="M1"), span(member_id="M2")])
    gaps.put_evidence(
        [attestation(Step.SCHEDULE, date(2026, 1, 10)), attestation(Step.PERFORM, date(2026, 2, 1))]
    )
    return gaps


def test_rows_are_ranked_by_money_at_stake_with_the_multiplier_in_force():
    # GIVEN two members of C1 and the spring mammography multiplier in force on April 15
    service = RegistryService(gaps=repository(), catalog=CATALOG)
    # WHEN the registry is built
    rows = service.registry("C1", AS_OF)
    # THEN money never increases down the list, and M1's mammogram claim is priced with the multiplier
    assert [r.cents_at_stake for r in rows] == sorted((r.cents_at_stake for r in rows), reverse=True)
    bcs = next(r for r in rows if (r.member_id, r.action) == ("M1", "BCS-E"))
    svu = PROGRAM.svu(Track.FAMILY_ADULT, "BCS-E", Step.CLAIM)
    assert bcs.cents_at_stake == amount_cents(
        svu=svu,
        multiplier=PROGRAM.multiplier("BCS-E", "C1", AS_OF),
        bonus_rate=PROGRAM.bonus_rate(date(2026, 1, 1), AS_OF),
        dollar_rate=PROGRAM.svu_dollar_rate,
    )
    assert PROGRAM.multiplier("BCS-E", "C1", AS_OF) > 1
    assert {r.member_id for r in rows} == {"M1", "M2"}


def test_commands_print_the_registry_and_chart_requests_as_csv(monkeypatch):
    # GIVEN the commands on an app, reading the in-memory gap state instead of a stack
    gaps = repository()
    monkeypatch.setattr(
        registry_cli,
        "_service",
        lambda stack, days=120: RegistryService(gaps=gaps, catalog=CATALOG, chart_request_days=days),
    )
    app = typer.Typer()
    registry_cli.register(app)
    runner = CliRunner()
    # WHEN both commands run, and one with a bad date
    listed = runner.invoke(app, ["registry", "--clinic", "C1", "--as-of", "2026-04-15"])
    charts = runner.invoke(
        app, ["chart-requests", "--clinic", "C1", "--as-of", "2026-07-01", "--after-days", "90"]
    )
    bad = runner.invoke(app, ["registry", "--clinic", "C1", "--as-of", "April"])
    # THEN they print CSV (the screening attested Feb 1 with no claim by July is a chart request)
    assert listed.exit_code == 0 and listed.stdout.startswith("rank,clinic_id,member_id,action")
    assert charts.exit_code == 0
    assert charts.stdout.splitlines()[1].startswith("C1,M1,BCS-E,2026,perform,2026-02-01,150,")
    assert bad.exit_code == 2
