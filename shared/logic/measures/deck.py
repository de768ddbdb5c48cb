"""The CMS eCQM test decks: where they are, and each case's resources and expected counts."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from shared.logic.measures.fhir import PatientRecord, Resource, read_resources

ENV_VAR = "P4P_ECQM_DIR"
# shared/logic/measures/deck.py → the repo root is three folders up; the decks sit beside the repo.
REPO_ROOT = Path(__file__).resolve().parents[3]


def ecqm_dir() -> Path:
    """The decks folder: $P4P_ECQM_DIR, else `../shared/ecqm` beside the repo root."""
    configured = os.environ.get(ENV_VAR)
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "ecqm"


def valuesets_dir() -> Path:
    """The value set expansions of the decks."""
    return ecqm_dir() / "valuesets"


@dataclass(frozen=True)
class DeckCase:
    """One test patient: its resources and the expected MeasureReport's counts per group."""

    measure: str
    case_id: str
    name: str
    folder: Path
    period: tuple[date, date]
    expected: tuple[dict[str, int], ...]

    @property
    def label(self) -> str:
        return f"{self.measure}/{self.case_id}"

    def record(self) -> PatientRecord:
        """The patient's resources (the MeasureReport left out)."""
        resources: list[Resource] = [
            r for r in read_resources([self.folder]) if r.get("resourceType") != "MeasureReport"
        ]
        return PatientRecord.from_resources(resources)


def _expected(report: dict[str, object]) -> tuple[dict[str, int], ...]:
    groups = report.get("group", [])
    assert isinstance(groups, list)
    return tuple(
        {p["code"]["coding"][0]["code"]: int(p.get("count", 0)) for p in group.get("population", [])}
        for group in groups
    )


@cache
def load_cases(root: Path | None = None) -> tuple[DeckCase, ...]:
    """Every case of every measure in the decks (empty when the folder is absent)."""
    base = root or ecqm_dir()
    index_file = base / "index.json"
    if not index_file.is_file():
        return ()
    index = json.loads(index_file.read_text())
    cases = []
    for measure, entry in index["measures"].items():
        for case_id, name in entry["cases"].items():
            folder = base / "tests" / measure / case_id
            reports = sorted(folder.glob("MeasureReport-*.json"))
            if not reports:
                continue
            report = json.loads(reports[0].read_text())
            period = report.get("period", {})
            cases.append(
                DeckCase(
                    measure=measure,
                    case_id=case_id,
                    name=str(name).strip(),
                    folder=folder,
                    period=(date.fromisoformat(period["start"][:10]), date.fromisoformat(period["end"][:10])),
                    expected=_expected(report),
                )
            )
    return tuple(cases)
