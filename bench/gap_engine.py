"""Gap engine throughput: every action's gaps for every member of a generated plan, per CPU second.

The plan comes from `cli.generate.generate_plan` (100,000 members; 5,000 with --quick) with claims,
attestations, fills, registry doses and labs. Its files are read and turned into evidence with the same
pure functions ingest uses (`shared.logic.evidence`, `shared.logic.roster`); only the gap computation
(`shared.logic.gaps.member_gaps` for all 41 actions, as of the end of June) is timed. No AWS.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl

from bench.registry import BenchContext, Figure, benchmark, measure
from shared.logic.evidence import (
    attestation_evidence,
    claim_evidence,
    immunization_evidence,
    lab_evidence,
    pharmacy_evidence,
)
from shared.logic.gaps import member_gaps
from shared.logic.occurrences import MemberView
from shared.logic.roster import clinics_from_rows, roster_from_rows
from shared.models.evidence import Evidence
from shared.models.members import Clinic, EligibilitySpan
from shared.programs.care_gap import load_catalog

AS_OF = date(2026, 6, 30)
KINDS = {
    "clinics",
    "eligibility",
    "medical_claims",
    "attestations",
    "pharmacy_claims",
    "immunizations",
    "labs",
}


def _read(paths: list[Path]) -> pl.DataFrame:
    frames = [pl.read_csv(p, infer_schema=False) for p in paths]
    frame = pl.concat(frames, how="diagonal") if frames else pl.DataFrame()
    return frame.with_row_index("source_row", offset=1)


def plan_views(out_dir: Path, members: int, chunk: int = 10_000) -> Iterator[list[MemberView]]:
    """Generate a plan under `out_dir` and yield its members' indexed facts, `chunk` members at a time
    (untimed setup; chunks keep the evidence of 100,000 members out of memory at once)."""
    from cli.generate import generate_plan

    plan = generate_plan(out_dir, members=members, clinics=max(5, members // 2000), kinds=KINDS)
    catalog = load_catalog()
    actions = [a for p in catalog.versions for a in p.actions]
    profiles, spans = roster_from_rows(_read(plan.paths("eligibility")))
    frames = {kind: _read(plan.paths(kind)) for kind in KINDS - {"clinics", "eligibility"}}
    spans_by: dict[str, dict[object, EligibilitySpan]] = defaultdict(dict)
    for span in spans:
        spans_by[span.member_id][span.start] = span  # monthly rosters repeat each span
    for start in range(0, len(profiles), chunk):
        part = profiles[start : start + chunk]
        ids = [p.member_id for p in part]
        mine = {k: f.filter(pl.col("member_id").is_in(ids)) for k, f in frames.items()}
        evidence: list[Evidence] = []
        evidence += claim_evidence(mine["medical_claims"], actions, file_id="claims")
        evidence += attestation_evidence(mine["attestations"], actions, file_id="attest")
        evidence += pharmacy_evidence(mine["pharmacy_claims"], actions, file_id="rx")
        evidence += immunization_evidence(mine["immunizations"], actions, file_id="imm")
        evidence += lab_evidence(mine["labs"], actions, file_id="labs")
        by_member: dict[str, list[Evidence]] = defaultdict(list)
        for item in evidence:
            by_member[item.member_id].append(item)
        yield [MemberView.of(p, spans_by[p.member_id].values(), by_member[p.member_id]) for p in part]


def plan_clinics(out_dir: Path) -> dict[str, Clinic]:
    """The generated plan's clinics by id."""
    return {c.clinic_id: c for c in clinics_from_rows(_read(sorted((out_dir / "clinics").glob("*.csv"))))}


@benchmark("gap_engine", order=70)
def gap_engine(ctx: BenchContext) -> list[Figure]:
    members = ctx.size(100_000, 5_000)
    out_dir = ctx.data_dir / f"gap_engine_plan_{members}"
    shutil.rmtree(out_dir, ignore_errors=True)
    program = load_catalog().in_force(AS_OF)
    gap_count = member_count = 0
    cpu_seconds = 0.0
    clinics: dict[str, Clinic] = {}
    for views in plan_views(out_dir, members):
        clinics = clinics or plan_clinics(out_dir)
        with measure() as timing:
            for view in views:
                clinic = clinics.get(view.profile.clinic_id)
                gaps = member_gaps(view, program, as_of=AS_OF, track=clinic.track if clinic else None)
                gap_count += len(gaps)
        cpu_seconds += timing.cpu_seconds
        member_count += len(views)
    shutil.rmtree(out_dir, ignore_errors=True)
    return [
        Figure(
            "gap_engine_members_per_second_per_core",
            round(member_count / cpu_seconds) if cpu_seconds else 0,
            "members/s/core",
        ),
        Figure("gap_engine_gaps_per_member", round(gap_count / max(member_count, 1), 2), "gaps"),
        Figure("gap_engine_members", member_count, "members"),
    ]
