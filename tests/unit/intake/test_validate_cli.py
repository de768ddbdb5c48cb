from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from cli.validate import default_rejects_path, register, validate
from shared.models.files import FileKind
from tests.unit.intake.factories import CANARY, csv_bytes, rows

ATT = FileKind.ATTESTATIONS


def _console() -> Console:
    return Console(record=True, width=120)


def test_a_clean_file_exits_0_and_writes_no_report(tmp_path: Path) -> None:
    # GIVEN a valid attestations file
    path = tmp_path / "att.csv"
    path.write_bytes(csv_bytes(ATT, rows(ATT, 4)))
    console = _console()
    # WHEN it is validated
    code = validate(path, "attestations", console=console)
    # THEN it exits 0, shows the counts and leaves no rejects file
    assert code == 0
    assert "clean" in console.export_text()
    assert not default_rejects_path(path).exists()


def test_rejects_exit_1_with_a_grouped_summary_and_a_report_beside_the_input(tmp_path: Path) -> None:
    # GIVEN a file with two rows carrying a bad step and a fake identifier
    path = tmp_path / "att.csv"
    path.write_bytes(csv_bytes(ATT, [*rows(ATT, 3), *rows(ATT, 2, step=CANARY)[:2]]))
    console = _console()
    # WHEN it is validated
    code = validate(path, "attestations", console=console)
    # THEN it exits 1, groups rejects by field and reason, and writes the report without the value
    shown = console.export_text()
    report = default_rejects_path(path).read_bytes()
    assert code == 1
    assert "NOT_ALLOWED" in shown
    assert report.splitlines()[1:] == [b"4,step,NOT_ALLOWED", b"5,step,NOT_ALLOWED"]
    assert CANARY not in shown
    assert CANARY.encode() not in report


def test_the_report_goes_to_out_when_given(tmp_path: Path) -> None:
    # GIVEN a file with a reject and an output path
    path = tmp_path / "att.csv"
    path.write_bytes(csv_bytes(ATT, rows(ATT, 1, action_date="2026-13-01")))
    out = tmp_path / "reports" / "r.csv"
    out.parent.mkdir()
    # WHEN it is validated with --out
    code = validate(path, "attestations", out=out, console=_console())
    # THEN the report is written there
    assert code == 1
    assert out.read_bytes().splitlines()[1] == b"1,action_date,INVALID_DATE"


@pytest.mark.parametrize("kind", ["attestations", "dental"])
def test_quarantined_files_exit_2_with_the_reason(tmp_path: Path, kind: str) -> None:
    # GIVEN an empty file, or a kind that does not exist
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    console = _console()
    # WHEN it is validated
    code = validate(path, kind, console=console)
    # THEN it exits 2 and names the reason
    assert code == 2
    assert "QUARANTINED" in console.export_text()


def test_register_adds_the_validate_command(tmp_path: Path) -> None:
    # GIVEN a typer app with the command registered and a file with a reject
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps typer in multi-command mode, like the real app
        """Do nothing."""

    path = tmp_path / "att.csv"
    path.write_bytes(csv_bytes(ATT, rows(ATT, 1, clinic_id=None)))
    # WHEN `validate FILE --kind attestations` is run
    outcome = CliRunner().invoke(app, ["validate", str(path), "--kind", "attestations"])
    # THEN the exit code says rows were rejected and the report exists
    assert outcome.exit_code == 1, outcome.output
    assert default_rejects_path(path).exists()
