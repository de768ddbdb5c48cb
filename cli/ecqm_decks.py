"""The CMS eCQM test decks, scored through the payment path.

A case's FHIR resources go through the intake's FHIR mapping (`shared.intake.fhir.flatten_fhir`) and the
evidence extraction (`shared.logic.evidence.fhir_evidence`) into the member's evidence, exactly as a FHIR
file dropped by a plan; the engine (`shared.logic.measures.engine.member_outcome`) computes the member's
populations from that evidence, and they are compared with the case's expected MeasureReport.

`python -m cli.ecqm_decks` prints the agreement table of docs/measure-agreement.md; `P4P_ECQM_DIR` points
it at another copy of the decks (default: `../shared/ecqm` beside the repository).
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from shared.intake.errors import QuarantineError
from shared.intake.fhir import flatten_fhir
from shared.logic.evidence import fhir_evidence
from shared.logic.measures.engine import member_outcome
from shared.logic.measures.exclusions import EXCLUDED_CASES
from shared.models.actions import Sex
from shared.models.evidence import Evidence
from shared.models.members import MemberFacts, MemberProfile
from shared.programs.care_gap import ActionDefinition, load_catalog
from shared.programs.measures import ValueSets, load_valuesets, measure_catalog

Resource = dict[str, Any]
ENV_VAR = "P4P_ECQM_DIR"
REPO_ROOT = Path(__file__).resolve().parents[1]
DECK_CLINIC = "ECQM-DECK"
_SEX = {"female": Sex.F, "male": Sex.M}


class FhirReadError(ValueError):
    """A file or folder that is not FHIR JSON, or a patient the engine cannot place."""


def ecqm_dir() -> Path:
    """The decks folder: $P4P_ECQM_DIR, else `../shared/ecqm` beside the repository."""
    configured = os.environ.get(ENV_VAR)
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "ecqm"


def valuesets_dir() -> Path:
    """The value set expansions of the decks."""
    return ecqm_dir() / "valuesets"


def _expand(items: Iterable[Resource]) -> Iterable[Resource]:
    for item in items:
        if item.get("resourceType") == "Bundle":
            yield from _expand(
                e["resource"] for e in item.get("entry", []) if isinstance(e.get("resource"), dict)
            )
        else:
            yield item


def read_resources(paths: Iterable[Path]) -> list[Resource]:
    """Every FHIR resource in the given JSON files or folders (Bundles unpacked)."""
    found: list[Resource] = []
    for path in paths:
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise FhirReadError(f"{file.name}: not JSON") from exc
            if not isinstance(data, dict) or "resourceType" not in data:
                raise FhirReadError(f"{file.name}: not a FHIR resource")
            found.extend(_expand([data]))
    return found


@cache
def _actions() -> tuple[ActionDefinition, ...]:
    return tuple(a for program in load_catalog().versions for a in program.actions)


def fhir_members(
    resources: Iterable[Resource], valuesets: ValueSets, *, file_id: str = "fhir"
) -> list[MemberFacts]:
    """Each Patient's facts from FHIR resources, as a plan's FHIR file would give them: the resources go
    through `flatten_fhir` and `fhir_evidence`; the Patient gives the profile (birth date, gender)."""
    items = [r for r in resources if r.get("resourceType") != "MeasureReport"]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in items]}
    try:
        rows, _ = flatten_fhir(json.dumps(bundle).encode())
        evidence = fhir_evidence(rows, _actions(), file_id=file_id, valuesets=valuesets)
    except QuarantineError:
        evidence = []
    by_member: dict[str, list[Evidence]] = defaultdict(list)
    for item in evidence:
        by_member[item.member_id].append(item)
    members = []
    for patient in (r for r in items if r.get("resourceType") == "Patient"):
        patient_id = str(patient.get("id") or "")
        try:
            birth = date.fromisoformat(str(patient.get("birthDate"))[:10])
        except ValueError:
            raise FhirReadError(f"Patient {patient_id or '?'} has no readable birthDate") from None
        profile = MemberProfile(
            member_id=patient_id,
            birth_date=birth,
            gender=_SEX.get(str(patient.get("gender")), Sex.U),
            clinic_id=DECK_CLINIC,
        )
        members.append(MemberFacts(profile=profile, evidence=tuple(by_member.get(patient_id, ()))))
    return members


@dataclass(frozen=True)
class DeckCase:
    """One test patient: its folder and the expected MeasureReport's counts per group."""

    measure: str
    case_id: str
    name: str
    folder: Path
    period: tuple[date, date]
    expected: tuple[dict[str, int], ...]

    @property
    def label(self) -> str:
        """`<measure>/<case id>`, as the exclusions name cases."""
        return f"{self.measure}/{self.case_id}"

    @property
    def year(self) -> int:
        """The measurement year (every deck's period is one calendar year)."""
        first, last = self.period
        if (first.month, first.day, last.month, last.day) != (1, 1, 12, 31) or first.year != last.year:
            raise ValueError(f"{self.label}: the period is not a calendar year")
        return first.year


def _expected(report: dict[str, Any]) -> tuple[dict[str, int], ...]:
    return tuple(
        {p["code"]["coding"][0]["code"]: int(p.get("count", 0)) for p in group.get("population", [])}
        for group in report.get("group", [])
    )


@cache
def load_cases(root: Path | None = None) -> tuple[DeckCase, ...]:
    """Every case of every measure in the decks (empty when the folder is absent)."""
    base = root or ecqm_dir()
    index_file = base / "index.json"
    if not index_file.is_file():
        return ()
    index = json.loads(index_file.read_text(encoding="utf-8"))
    cases = []
    for measure, entry in index["measures"].items():
        for case_id, name in entry["cases"].items():
            folder = base / "tests" / measure / case_id
            reports = sorted(folder.glob("MeasureReport-*.json"))
            if not reports:
                continue
            report = json.loads(reports[0].read_text(encoding="utf-8"))
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


@cache
def deck_valuesets() -> ValueSets:
    """The decks' value sets, loaded once per process."""
    return load_valuesets(valuesets_dir())


def one_patient(resources: list[Resource]) -> list[Resource]:
    """A folder's resources with every subject pointed at its one Patient. Some deck cases refer to their
    patient by another id (`Patient/Patient-5`); the folder is the patient, as the decks mean it."""
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise FhirReadError(f"expected one Patient, found {len(patients)}")
    reference = {"reference": f"Patient/{patients[0].get('id')}"}
    out = []
    for resource in resources:
        found = {k: reference for k in ("subject", "patient") if isinstance(resource.get(k), dict)}
        out.append({**resource, **found})
    return out


def case_facts(case: DeckCase) -> MemberFacts:
    """The case patient's facts, through the payment path's FHIR mapping."""
    members = fhir_members(one_patient(read_resources([case.folder])), deck_valuesets(), file_id=case.case_id)
    if len(members) != 1:
        raise FhirReadError(f"{case.label}: expected one Patient, found {len(members)}")
    return members[0]


def actual_counts(case: DeckCase) -> tuple[dict[str, int], ...]:
    """The engine's counts for a case, per group, limited to the populations the expected report lists."""
    definition = measure_catalog().get(case.measure)
    outcome = member_outcome(case_facts(case), definition, case.year, valuesets=deck_valuesets())
    out = []
    for expected, group in zip(case.expected, outcome.groups, strict=False):
        counts = group.counts()
        out.append({code: counts.get(code, 0) for code in expected})
    return tuple(out)


def agrees(case: DeckCase) -> bool:
    """Whether every population of every group matches the expected report."""
    actual = actual_counts(case)
    return len(actual) == len(case.expected) and actual == case.expected


@dataclass
class MeasureAgreement:
    """One measure's tally."""

    measure: str
    program_code: str
    cases: int = 0
    agreeing: int = 0
    excluded: list[tuple[str, str]] = field(default_factory=list)
    disagreeing: list[str] = field(default_factory=list)

    @property
    def evaluated(self) -> int:
        """Cases not excluded."""
        return self.cases - len(self.excluded)

    @property
    def percent(self) -> float:
        """Agreeing cases in percent of the evaluated ones."""
        return 100.0 * self.agreeing / self.evaluated if self.evaluated else 100.0


def tally(cases: Iterable[DeckCase] | None = None) -> list[MeasureAgreement]:
    """Run every deck case and tally the agreement per measure."""
    rows: dict[str, MeasureAgreement] = {}
    for case in load_cases() if cases is None else cases:
        code = measure_catalog().get(case.measure).program_code
        row = rows.setdefault(case.measure, MeasureAgreement(case.measure, code))
        row.cases += 1
        if case.label in EXCLUDED_CASES:
            row.excluded.append((case.label, EXCLUDED_CASES[case.label]))
        elif agrees(case):
            row.agreeing += 1
        else:
            row.disagreeing.append(f"{case.case_id} {case.name}")
    return list(rows.values())


def totals(rows: Iterable[MeasureAgreement]) -> tuple[int, int, int]:
    """(cases, agreeing, excluded) over every measure."""
    listed = list(rows)
    return (
        sum(r.cases for r in listed),
        sum(r.agreeing for r in listed),
        sum(len(r.excluded) for r in listed),
    )


def render(rows: list[MeasureAgreement]) -> str:
    """The agreement table (Markdown) and the lists of excluded and disagreeing cases."""
    lines = [
        "| Measure | Code | Cases | Agreeing | Excluded | Agreement (of evaluated) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row.measure} | {row.program_code} | {row.cases} | {row.agreeing} | {len(row.excluded)} "
            f"| {row.percent:.1f}% |"
        )
    total, agreeing, excluded = totals(rows)
    overall = 100.0 * agreeing / (total - excluded) if total > excluded else 100.0
    lines += [
        f"| **All** | | {total} | {agreeing} | {excluded} | {overall:.1f}% |",
        "",
        "Excluded cases:",
        "",
    ]
    listed = [item for row in rows for item in row.excluded]
    lines.extend(f"- `{label}`: {reason}" for label, reason in listed)
    if not listed:
        lines.append("- none")
    disagreeing = [f"{row.measure}: {item}" for row in rows for item in row.disagreeing]
    if disagreeing:
        lines += ["", "Disagreeing cases:", ""]
        lines.extend(f"- {item}" for item in disagreeing)
    return "\n".join(lines)


def main() -> int:
    """Print the agreement table; exit 1 when the decks are absent."""
    if not load_cases():
        print(f"no eCQM decks found at {ecqm_dir()}: set {ENV_VAR}", file=sys.stderr)
        return 1
    print(render(tally()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
