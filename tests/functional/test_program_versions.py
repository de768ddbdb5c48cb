"""Program versions dropped under the curated bucket's `programs/` prefix, on moto: a new rate changes
what the next run pays without a deploy or a restart, and a bad file stops the handlers with its name."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from events import load_event
from functions.runs import open_run
from shared.logic.money import parse_dollars
from shared.programs import stored
from shared.programs.care_gap import DATA_DIR
from shared.programs.stored import ProgramFileError
from tests.functional.flow import land, open_payload, run_month

SHIPPED = json.loads((DATA_DIR / "care_gap" / "care_gap_2026.json").read_text(encoding="utf-8"))
RATE_FACTOR = Decimal("1.5")


@pytest.fixture
def warm_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Containers re-list `programs/` on every use, as if the recheck interval had passed between calls."""
    monkeypatch.setattr(stored, "RECHECK_SECONDS", 0.0)


def _drop(aws, key: str, body: bytes) -> None:
    aws.s3.put_object(Bucket=aws.names["CURATED_BUCKET"], Key=key, Body=body)


def _paid(aws, state) -> dict[str, int]:
    key = state["statements"]["draft_key"]
    body = aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read().decode()
    lines = [line for line in io.StringIO(body) if not line.startswith("#")]
    return {r["clinic_id"]: parse_dollars(r["amount"]) for r in csv.DictReader(lines)}


def _statement_versions(aws, run_id: str) -> set[str]:
    bucket = aws.names["REPORTS_BUCKET"]
    listed = [
        item
        for prefix in (f"statements/{run_id}/", f"previews/{run_id}/statements/")
        for item in aws.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    ]
    versions = set()
    for item in listed:
        if item["Key"].endswith(".csv"):
            body = aws.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            lines = [line for line in io.StringIO(body) if not line.startswith("#")]
            versions |= {r["rule_version"] for r in csv.DictReader(lines) if r["rule_version"]}
    return versions


def test_a_dropped_version_with_a_new_rate_changes_what_the_next_run_pays(
    aws, lambda_context, warm_containers
):
    # GIVEN the plan's files ingested and a preview of March priced by the shipped version
    from tests.functional.plan_data import FILES

    land(aws, lambda_context, FILES)
    before = run_month(lambda_context, "2026-03", mode="preview", execution_name="before-the-drop")
    paid_before = _paid(aws, before)
    assert paid_before and all(amount > 0 for amount in paid_before.values())
    # WHEN a plan drops a version raising the SVU dollar rate for the rest of the year (no code, no deploy)
    new_rate = Decimal(SHIPPED["svu_dollar_rate"]) * RATE_FACTOR
    version = SHIPPED | {
        "version": "care_gap-2026.2",
        "effective_from": "2026-01-02",
        "svu_dollar_rate": str(new_rate),
    }
    _drop(aws, "programs/care_gap-2026.2.json", json.dumps(version).encode())
    after = run_month(lambda_context, "2026-03")
    # THEN the same containers pay every clinic the new rate, and the statements name the new version
    paid_after = _paid(aws, after)
    assert paid_after == {clinic: int(amount * RATE_FACTOR) for clinic, amount in paid_before.items()}
    assert _statement_versions(aws, after["run"]["run_id"]) == {"care_gap-2026.2"}
    assert _statement_versions(aws, before["run"]["run_id"]) == {SHIPPED["version"]}


def _bad_rate_card() -> bytes:
    broken = json.loads(json.dumps(SHIPPED))
    broken["rate_cards"][0]["svu"]["BCS-E"].pop("claim")
    return json.dumps(broken | {"version": "care_gap-2026.4", "effective_from": "2026-04-01"}).encode()


@pytest.mark.parametrize(
    ("key", "body", "problem"),
    [
        ("programs/care_gap-2026.4.json", b'{"program": "care_gap", "version": ', "not valid JSON"),
        ("programs/care_gap-2026.4.json", _bad_rate_card(), "must price every step of BCS-E"),
        (
            "programs/care_gap-2026.4.json",
            json.dumps(SHIPPED | {"version": "x", "svu_dollar_rate": "0"}).encode(),
            "svu_dollar_rate",
        ),
        ("programs/rates-2026.csv", b"action,svu\nBCS-E,10\n", "a .json file is expected"),
    ],
    ids=["truncated-json", "rate-card-missing-a-step", "zero-dollar-rate", "not-json-file"],
)
def test_a_malformed_version_file_stops_the_run_with_an_error_naming_it(
    aws, lambda_context, warm_containers, key, body, problem
):
    # GIVEN a malformed file under programs/
    _drop(aws, key, body)
    # WHEN a run starts
    with pytest.raises(ProgramFileError) as raised:
        open_run.handler(open_payload(load_event("run_monthly_final")), lambda_context)
    # THEN it fails before doing anything, with an error naming the file and what is wrong with it
    assert raised.value.key == key and problem in raised.value.problem
    assert key in str(raised.value)
    runs = aws.dynamodb.scan(TableName=aws.names["REGISTRY_TABLE"])["Items"]
    assert runs == []
