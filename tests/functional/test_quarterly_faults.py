"""Exactly once for the quarterly PMPM run: a crash at AWS calls spread over the whole of it (BuildParts,
the shards, the aggregate, the statements, the close: `CRASHES` calls evenly spaced, the last included; the
run makes about 560 calls, and failing each would take about an hour), then the quarter started again where
the execution failed, gives the clean run's ledger and statement byte for byte (`test_run_faults.py` fails
every call of a month). The run is the one `test_quarterly_pmpm.py` checks for money: K2 paid PMPM for
January and March, February at $0.00."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from cli.local.moto_speedups import partition_queries
from shared.clock import clock_override, shifted_clock
from tests.functional.flow import land, run_request
from tests.functional.test_quarterly_pmpm import AFTER_QUARTER, QUARTER, QUARTER_FILES, RUN
from tests.functional.test_run_faults import fail_call, ledger_dump, report, run_stores
from tests.local.fixture_snapshot import Saved, Stores, restore, snapshot

pytestmark = pytest.mark.slow

STATEMENT = f"statements/{RUN}/K2.csv"
CRASHES = 12


def _stores(aws: Any) -> Stores:
    """Everything a quarterly run may write: the month's stores with the whole curated bucket (its parts and
    tables) and the whole reports bucket."""
    return replace(
        run_stores(aws), objects=((aws.names["CURATED_BUCKET"], ""), (aws.names["REPORTS_BUCKET"], ""))
    )


@pytest.fixture
def landed(aws, lambda_context) -> Iterator[Saved]:
    with clock_override(shifted_clock(AFTER_QUARTER)), partition_queries():
        land(aws, lambda_context, QUARTER_FILES)
        yield snapshot(_stores(aws))


def _quarter(context: Any) -> dict[str, Any]:
    with clock_override(shifted_clock(AFTER_QUARTER)):
        return run_request(context, QUARTER)


def test_a_crash_at_calls_across_a_quarter_then_a_restart_gives_the_clean_ledger(aws, lambda_context, landed):
    # GIVEN the calls, the ledger and K2's statement of a clean quarterly run
    with fail_call(None) as calls:
        clean_run = _quarter(lambda_context)
    assert clean_run["closed"]["status"] == "CALCULATED"
    clean, statement = ledger_dump(aws), report(aws, STATEMENT)
    assert any(RUN in line and "apc_element2" in line for line in clean)
    outcomes = set()
    step = max(1, len(calls) // CRASHES)
    for k in sorted({*range(1, len(calls) + 1, step), len(calls)}):
        restore(_stores(aws), landed)
        # WHEN the k-th AWS call fails, and the quarter is started again if the execution failed
        try:
            with fail_call(k):
                _quarter(lambda_context)
            outcomes.add("absorbed")
        except Exception:
            outcomes.add("restarted")
            _quarter(lambda_context)
        # THEN the ledger and the statement are the clean run's, byte for byte
        assert ledger_dump(aws) == clean, f"call {k} ({calls[k - 1]})"
        assert report(aws, STATEMENT) == statement, f"call {k} ({calls[k - 1]})"
    print(f"{len(calls)} AWS calls in the quarterly run; one call in {step} failed once")
    assert len(calls) > 30 and "restarted" in outcomes
