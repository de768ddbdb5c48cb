"""The hostile-file corpus through the ingest service (in-memory stores): no exception, every manifest
balances, every accepted row is applied exactly as the same file without its hostile rows would apply,
and no hostile value reaches a manifest, a report, the registry or a log line."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.clock import clock_override
from shared.models.evidence import Evidence
from shared.services.ingest import IngestStatus
from tests.unit.intake.hostile import AS_OF, CANARY_TEXT, Case, corpus
from tests.unit.intake.service_fakes import LANDING, REPORTS, Plan

CASES = corpus()
TODAY = datetime.fromisoformat(f"{AS_OF}T12:00:00+00:00").astimezone(UTC)


def _facts(evidence: Evidence) -> dict[str, Any]:
    return evidence.model_dump(mode="json", exclude={"file_id", "source_row"})


def _applied(plan: Plan) -> dict[str, Any]:
    """What the gap state holds, without what only says which file or row it came from."""
    return {
        "evidence": sorted(
            (m, json.dumps(_facts(e), sort_keys=True)) for (m, _), e in plan.gaps.evidence.items()
        ),
        "profiles": sorted(p.model_dump_json() for p in plan.gaps.profiles.values()),
        "clinics": sorted(c.clinic_id for c in plan.gaps.clinic_items.values()),
    }


def _ingest(case: Case, data: bytes) -> tuple[Plan, Any]:
    plan = Plan()
    with clock_override(lambda: TODAY):
        outcome = plan.drop(case.key, data)
    return plan, outcome


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_hostile_file_is_accounted_applied_and_never_quoted(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a hostile file landed
    caplog.set_level(logging.DEBUG)
    # WHEN the ingest service takes it
    plan, outcome = _ingest(case, case.data)
    # THEN it meets its fate: quarantined for its reason, or accepted with its rejects
    manifest = plan.store.get_json(REPORTS, f"manifests/{outcome.file_id}.json")
    if case.reason is not None:
        assert outcome.status is IngestStatus.QUARANTINED and manifest["quarantine_reason"] == case.reason
        assert plan.status(case.key) == "QUARANTINED"
    else:
        assert outcome.status is IngestStatus.ACCEPTED and manifest["status"] == "ACCEPTED"
        counts = [manifest[n] for n in ("rows_read", "accepted", "rejected", "duplicate", "superseded")]
        assert counts[0] == sum(counts[1:]) and manifest["accepted"] == case.accepted
        lines = set()
        if manifest["rejects_key"]:
            report = plan.store.get_bytes(REPORTS, manifest["rejects_key"]).decode()
            lines = {tuple(line.split(",")) for line in report.splitlines()[1:]}
        assert {(str(r), f, c) for r, f, c in case.rejects} <= lines
        # AND every accepted row is applied, just as the file without its hostile rows applies
        if case.clean is not None:
            twin, _ = _ingest(case, case.clean) if case.clean else (Plan(), None)
            assert _applied(plan) == _applied(twin)
    # AND no hostile value is in the manifests, reports, registry, file log or logs
    emitted = [
        *(plan.store.get_bytes(REPORTS, k).decode("utf-8", "replace") for k in plan.store.keys(REPORTS)),
        json.dumps(plan.files.items, default=str),
        json.dumps([d.model_dump(mode="json") for d in plan.log.drops()]),
        caplog.text,
        *(k for _, k in plan.store.objects),
    ]
    assert not [text[:80] for text in emitted if CANARY_TEXT in text]
    # AND only a quarantined file is copied to quarantine/
    assert len(plan.store.keys(LANDING, "quarantine/")) == (0 if case.reason is None else 1)
