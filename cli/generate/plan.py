"""Generate a whole synthetic plan as landing files, or one big medical claims file for benchmarks."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict

from cli.generate.attestations import make_attestations
from cli.generate.claim_lines import make_claims
from cli.generate.clinics import clinic_files, clinics_frame, make_clinics
from cli.generate.engagement import engagement_frame
from cli.generate.members import eligibility_roster, make_members, make_spans, member_months
from cli.generate.providers import providers_frame
from cli.generate.rng import Draws
from cli.generate.supplemental import make_immunizations, make_labs, make_pharmacy_claims

FIXED_KINDS = frozenset({"clinics", "eligibility", "medical_claims", "attestations"})
# Written only when asked for by `kinds`.
OPTIONAL_KINDS = frozenset({"pharmacy_claims", "immunizations", "labs"})
APC_KINDS = frozenset({"providers", "ta_engagement"})
"""Written only when asked for too: the APC model's provider rosters and TA engagement (the demo asks for
them, with every optional kind; the quarterly run reads them)."""
_LINES_PER_MEMBER_YEAR = 40  # a little under the ~46 we generate, so one pass nearly always suffices


class UnsupportedKindError(ValueError):
    """A kind the generator cannot write (fhir is not generated)."""


class GeneratedFile(BaseModel):
    """One written file: its kind, where it is, how many data rows it holds."""

    model_config = ConfigDict(frozen=True)

    kind: str
    path: Path
    rows: int

    @property
    def landing_key(self) -> str:
        """Where the file goes in the landing bucket: `landing/<kind>/<name>`."""
        return f"landing/{self.kind}/{self.path.name}"


class GeneratedPlan(BaseModel):
    """What `generate_plan` wrote: files and row counts per kind, never member data."""

    model_config = ConfigDict(frozen=True)

    out_dir: Path
    year: int
    seed: int
    members: int
    clinics: int
    files: tuple[GeneratedFile, ...]

    def paths(self, kind: str) -> list[Path]:
        """The files of one kind, in period order."""
        return [f.path for f in self.files if f.kind == kind]

    @property
    def counts(self) -> dict[str, int]:
        """Data rows written per kind."""
        totals: dict[str, int] = {}
        for f in self.files:
            totals[f.kind] = totals.get(f.kind, 0) + f.rows
        return totals


def _check_kinds(kinds: Iterable[str] | None) -> frozenset[str]:
    if kinds is None:
        return FIXED_KINDS
    wanted = frozenset(kinds)
    unknown = wanted - FIXED_KINDS - OPTIONAL_KINDS - APC_KINDS
    if unknown:
        raise UnsupportedKindError(f"unknown kinds: {', '.join(sorted(unknown))}")
    return wanted


def _write(frame: pl.DataFrame, out_dir: Path, kind: str, year: int, month: int) -> GeneratedFile:
    path = out_dir / kind / f"{kind}-{year:04d}-{month:02d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path, date_format="%Y-%m-%d")
    return GeneratedFile(kind=kind, path=path, rows=frame.height)


def _write_by_month(frame: pl.DataFrame, date_column: str, out_dir: Path, kind: str) -> list[GeneratedFile]:
    """One file per calendar month of `date_column` (claims by received month, attestations by action)."""
    keyed = frame.with_columns(
        _year=pl.col(date_column).dt.year().cast(pl.Int32),
        _month=pl.col(date_column).dt.month().cast(pl.Int32),
    )
    written = []
    for part in keyed.partition_by("_year", "_month", maintain_order=True, include_key=True):
        year, month = int(part["_year"][0]), int(part["_month"][0])
        written.append(_write(part.drop("_year", "_month"), out_dir, kind, year, month))
    return sorted(written, key=lambda f: f.path.name)


def generate_plan(
    out_dir: Path,
    *,
    members: int = 2000,
    clinics: int = 5,
    year: int = 2026,
    seed: int = 7,
    kinds: set[str] | None = None,
) -> GeneratedPlan:
    """Write a synthetic plan's landing files under `out_dir/<kind>/<kind>-<year>-<nn>.csv`.

    `kinds` defaults to the four fixed kinds; add `pharmacy_claims`, `immunizations` or `labs` to get
    those too. The same arguments always give the same bytes. Claims are filed by received month (so
    the run-out lands in the next year's files), attestations by action month, eligibility as twelve
    monthly rosters, the optional kinds by their event date's month. `providers` and `ta_engagement` are
    optional too: providers as one roster, engagement by activity month (asthma fills and TA onboarding
    start in the year before).
    """
    wanted = _check_kinds(kinds)
    draws = Draws(seed)
    clinic_list, outside = make_clinics(clinics, year, seed)
    written: list[GeneratedFile] = []
    if "clinics" in wanted:
        for month, listed in clinic_files(clinic_list):
            # Every kind ends with payer_id; empty: the deploying plan's.
            clinic_rows = clinics_frame(listed).with_columns(payer_id=pl.lit(None, pl.String))
            written.append(_write(clinic_rows, out_dir, "clinics", year, month))
    people = make_members(members, clinic_list, year, draws)
    spans = make_spans(people, clinic_list)
    if "eligibility" in wanted:
        for month in range(1, 13):
            written.append(
                _write(eligibility_roster(spans, year, month), out_dir, "eligibility", year, month)
            )
    months = member_months(spans, year)
    if wanted & {"medical_claims", "attestations"}:
        claims = make_claims(months, clinic_list, outside, draws)
        if "medical_claims" in wanted:
            written.extend(_write_by_month(claims, "received_date", out_dir, "medical_claims"))
        if "attestations" in wanted:
            attestations = make_attestations(months, spans, claims, clinic_list, year, draws)
            written.extend(_write_by_month(attestations, "action_date", out_dir, "attestations"))
    if "pharmacy_claims" in wanted:
        fills = make_pharmacy_claims(months, clinic_list, year, seed, draws)
        written.extend(_write_by_month(fills, "dispensing_date", out_dir, "pharmacy_claims"))
    if "immunizations" in wanted:
        doses = make_immunizations(months, clinic_list, draws)
        written.extend(_write_by_month(doses, "immunization_date", out_dir, "immunizations"))
    if "labs" in wanted:
        written.extend(_write_by_month(make_labs(months, clinic_list, draws), "result_date", out_dir, "labs"))
    if "providers" in wanted:
        written.append(_write(providers_frame(clinic_list, year, seed), out_dir, "providers", year, 1))
    if "ta_engagement" in wanted:
        engagement = engagement_frame(clinic_list, year, draws)
        written.extend(_write_by_month(engagement, "activity_date", out_dir, "ta_engagement"))
    return GeneratedPlan(
        out_dir=out_dir, year=year, seed=seed, members=members, clinics=clinics, files=tuple(written)
    )


def claims_frame(lines: int, *, seed: int = 7, year: int = 2026) -> pl.DataFrame:
    """Exactly `lines` medical claim lines in received order (the last claim may be cut short)."""
    if lines < 1:
        raise ValueError("lines must be at least 1")
    members = lines // _LINES_PER_MEMBER_YEAR + 10
    while True:
        draws = Draws(seed)
        clinic_list, outside = make_clinics(max(5, members // 2000), year, seed)
        spans = make_spans(make_members(members, clinic_list, year, draws), clinic_list)
        claims = make_claims(member_months(spans, year), clinic_list, outside, draws)
        if claims.height >= lines:
            # Received order puts every original before its adjustments, so the prefix stays consistent.
            return claims.head(lines)
        members *= 2


def generate_claims_file(path: Path, lines: int = 1_000_000, seed: int = 7) -> Path:
    """Write one medical_claims CSV of exactly `lines` lines (plus header), for ingest benchmarks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    claims_frame(lines, seed=seed).write_csv(path, date_format="%Y-%m-%d")
    return path
