"""The real Lambda asset: built without Docker, importable on a bare interpreter, within Lambda's limit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.constructs.lambda_code import REPO_ROOT, build_full_asset

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("packaging")]

LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
CONTRACT_HANDLERS = (
    "functions.ingest.ingest_file",
    "functions.runs.open_run",
    "functions.runs.plan_shards",
    "functions.runs.build_part",
    "functions.runs.earn_shard",
    "functions.runs.aggregate_run",
    "functions.runs.render_statements",
    "functions.runs.close_run",
    "functions.runs.fail_run",
    "functions.operator.operate_runs",
)
# What a handler module sees at import time in Lambda; the values only need to be well-formed.
LAMBDA_LIKE_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "STAGE": "dev",
    "LANDING_BUCKET": "landing",
    "CURATED_BUCKET": "curated",
    "REPORTS_BUCKET": "reports",
    "GAPS_TABLE": "gaps",
    "LEDGER_TABLE": "ledger",
    "REGISTRY_TABLE": "registry",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@pytest.fixture(scope="module")
def asset() -> Path:
    return build_full_asset()


def _import_in_clean_interpreter(asset: Path, module: str, attribute: str | None = None) -> None:
    # -I ignores PYTHON* variables and the user site; -S skips site-packages: only stdlib + the asset remain.
    check = f"getattr(m, {attribute!r}).__call__" if attribute else "m"
    code = (
        f"import sys, importlib; sys.path.insert(0, {str(asset)!r}); "
        f"m = importlib.import_module({module!r}); {check}"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        env={"PATH": os.environ.get("PATH", ""), **LAMBDA_LIKE_ENV},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_asset_holds_the_sources_and_the_runtime_dependencies(asset: Path) -> None:
    # GIVEN the built asset
    # WHEN we import the shared settings and the heavy dependencies from it alone
    # THEN they load with Linux x86_64 CPython 3.11 wheels on this (matching) interpreter
    _import_in_clean_interpreter(asset, "shared.models.settings")
    for module in ("polars", "pydantic", "boto3", "jinja2", "aws_lambda_powertools.utilities.parser"):
        _import_in_clean_interpreter(asset, module)


def test_the_contract_table_names_every_handler_module():
    # A handler module not in the table would ship without this test importing it from the asset.
    texts = {path: path.read_text(encoding="utf-8") for path in (REPO_ROOT / "functions").rglob("*.py")}
    found = {
        ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        for path, text in texts.items()
        if "\ndef handler(" in text or "\nhandler = " in text
    }
    assert found == set(CONTRACT_HANDLERS)


@pytest.mark.parametrize("module", CONTRACT_HANDLERS)
def test_every_contract_handler_imports_from_the_asset_alone(asset: Path, module: str) -> None:
    # GIVEN a handler module of the contract table (a missing one fails the import below)
    # WHEN / THEN it imports from the asset alone and exposes a callable `handler`
    _import_in_clean_interpreter(asset, module, "handler")


def test_unzipped_asset_fits_lambdas_limit(asset: Path) -> None:
    # GIVEN the built asset
    # WHEN we add up its files
    size = sum(p.stat().st_size for p in asset.rglob("*") if p.is_file())

    # THEN Lambda will accept it
    assert size < LAMBDA_UNZIPPED_LIMIT_BYTES, f"{size / 2**20:.0f} MiB"
