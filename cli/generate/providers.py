"""Synthetic provider rosters: the clinics' PCPs, and a behavioural-health provider per clinic.

Each clinic's three PCPs (the NPIs its claims render under) are primary care there from two years before the
plan's year (claims-based attribution looks back 24 months), open-ended; a pediatric clinic's are
pediatricians, the others' a family physician, an internist and a family nurse practitioner. Each clinic also
has a psychologist, not primary care, affiliated from the middle of the year before; every other clinic's
left at the end of June.
"""

from __future__ import annotations

import random
from datetime import date

import polars as pl

from cli.generate.clinics import Clinic, npi_with_check_digit

PROVIDER_COLUMNS = (
    "npi",
    "practice_id",
    "taxonomy_code",
    "specialty",
    "primary_care",
    "effective_date",
    "termination_date",
    "payer_id",
)
_ADULT_PCPS = (
    ("207Q00000X", "Family Medicine"),
    ("207R00000X", "Internal Medicine"),
    ("363LF0000X", "Nurse Practitioner, Family"),
)
_PEDIATRICIAN = ("208000000X", "Pediatrics")
_PSYCHOLOGIST = ("103T00000X", "Psychologist")


def providers_frame(clinics: list[Clinic], year: int, seed: int) -> pl.DataFrame:
    """The providers file, columns as in docs/file-specs.md, one row per affiliation."""
    rng = random.Random(f"{seed}:behavioural-npis")
    rows: list[tuple[str, str, str, str, str, date, date | None]] = []
    for i, clinic in enumerate(clinics):
        pediatric = clinic.practice_type == "pediatric"
        for k, npi in enumerate(clinic.pcp_npis):
            taxonomy, specialty = _PEDIATRICIAN if pediatric else _ADULT_PCPS[k % len(_ADULT_PCPS)]
            rows.append((npi, clinic.clinic_id, taxonomy, specialty, "true", date(year - 2, 1, 1), None))
        # The 2 prefix keeps them apart from every NPI the clinics and outside providers bill under (1).
        psychologist = npi_with_check_digit("2" + "".join(str(rng.randrange(10)) for _ in range(8)))
        left = date(year, 6, 30) if i % 2 else None
        rows.append((psychologist, clinic.clinic_id, *_PSYCHOLOGIST, "false", date(year - 1, 7, 1), left))
    frame = pl.DataFrame(
        rows,
        schema={
            "npi": pl.String,
            "practice_id": pl.String,
            "taxonomy_code": pl.String,
            "specialty": pl.String,
            "primary_care": pl.String,
            "effective_date": pl.Date,
            "termination_date": pl.Date,
        },
        orient="row",
    )
    return frame.with_columns(payer_id=pl.lit(None, pl.String)).select(PROVIDER_COLUMNS)
