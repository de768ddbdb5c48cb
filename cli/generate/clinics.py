"""Synthetic clinics and the providers who bill for them."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date

import polars as pl

CLINIC_COLUMNS = (
    "clinic_id",
    "tin",
    "npi",
    "clinic_name",
    "lines_of_business",
    "program",
    "program_enrollment_date",
    "track",
    "practice_type",
    "apc_payment_track",
    "apc_track_start_date",
    "hpi_decile",
    "address_line",
    "city",
    "state",
    "zip_code",
)
_APC_TRACKS = ("ffs_plus", "basic_capitation", "intermediate_capitation", "none")
_CITIES = (
    ("San Mateo", "94401"),
    ("Daly City", "94015"),
    ("Redwood City", "94061"),
    ("Half Moon Bay", "94019"),
)
_NAMES = ("Bayside", "Harbor", "Hillcrest", "Coastal", "Meadow", "Oakridge", "Pinecrest", "Seaview")
PCPS_PER_CLINIC = 3


@dataclass(frozen=True)
class Clinic:
    """One primary-care clinic with its billing TIN and its PCPs' NPIs."""

    clinic_id: str
    tin: str
    npi: str
    name: str
    lines_of_business: str
    program: str
    program_enrollment_date: date
    track: str
    practice_type: str
    apc_payment_track: str
    hpi_decile: int
    city: str
    zip_code: str
    pcp_npis: tuple[str, ...]

    @property
    def takes_children(self) -> bool:
        return self.practice_type in ("pediatric", "mixed")

    @property
    def takes_adults(self) -> bool:
        return self.practice_type in ("adult", "mixed")


@dataclass(frozen=True)
class OutsideProviders:
    """Rendering providers outside the clinics: imaging centre, reference lab, emergency department."""

    imaging_tin: str
    imaging_npis: tuple[str, ...]
    lab_tin: str
    lab_npis: tuple[str, ...]
    hospital_tin: str
    hospital_npis: tuple[str, ...]


def npi_with_check_digit(first_nine: str) -> str:
    """A 10-digit NPI whose last digit is the Luhn check over the 80840 prefix, as real NPIs have."""
    digits = [int(c) for c in "80840" + first_nine]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return first_nine + str((10 - total % 10) % 10)


class _Ids:
    """Unique fake TINs and NPIs; TINs use the unassigned EIN prefix 97 so they can never be real."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"{seed}:provider-ids")
        self._seen: set[str] = set()

    def _unique(self, *, prefix: str, width: int) -> str:
        while True:
            value = prefix + "".join(str(self._rng.randrange(10)) for _ in range(width))
            if value not in self._seen:
                self._seen.add(value)
                return value

    def tin(self) -> str:
        return self._unique(prefix="97", width=7)

    def npi(self) -> str:
        return npi_with_check_digit(self._unique(prefix="1", width=8))


def _profile(i: int, count: int) -> tuple[str, str, str]:
    """(program, track, practice_type) of the i-th of `count` clinics: one in five pediatric, one in five
    benchmark; in a plan of two to four clinics the last is the benchmark one, so both programs are there."""
    if i % 5 == 4 or (i == count - 1 and 2 <= count < 5):
        return "benchmark", "family_adult", "adult"
    if i % 5 == 1:
        return "care_gap", "pediatric", "pediatric"
    return "care_gap", "family_adult", ("mixed" if i % 5 in (0, 3) else "adult")


def make_clinics(count: int, year: int, seed: int) -> tuple[list[Clinic], OutsideProviders]:
    """`count` clinics: mostly Care Gap with enrollment dates spread over the year, some Benchmark."""
    if count < 1:
        raise ValueError("at least one clinic is needed")
    ids = _Ids(seed)
    profiles = [_profile(i, count) for i in range(count)]
    care_gap_total = sum(1 for p in profiles if p[0] == "care_gap")
    clinics: list[Clinic] = []
    care_gap_seen = 0
    for i, (program, track, practice_type) in enumerate(profiles):
        if program == "care_gap":
            # Opt-in dates run across the year so proration and make-whole have something to do.
            enrolled = date(year, 1 + (care_gap_seen * 9) // care_gap_total, 1)
            care_gap_seen += 1
        else:
            enrolled = date(year, 1, 1)
        city, zip_code = _CITIES[i % len(_CITIES)]
        kind = "Pediatrics" if track == "pediatric" else "Family Health"
        clinics.append(
            Clinic(
                clinic_id=f"CLN{i + 1:04d}",
                tin=ids.tin(),
                npi=ids.npi(),
                name=f"Synthetic {_NAMES[i % len(_NAMES)]} {kind} {i + 1}",
                lines_of_business="MC" if track == "pediatric" else "CA|MC|HW",
                program=program,
                program_enrollment_date=enrolled,
                track=track,
                practice_type=practice_type,
                apc_payment_track=_APC_TRACKS[i % len(_APC_TRACKS)],
                hpi_decile=1 + (i * 7 + seed) % 10,
                city=city,
                zip_code=zip_code,
                pcp_npis=tuple(ids.npi() for _ in range(PCPS_PER_CLINIC)),
            )
        )
    outside = OutsideProviders(
        imaging_tin=ids.tin(),
        imaging_npis=tuple(ids.npi() for _ in range(3)),
        lab_tin=ids.tin(),
        lab_npis=tuple(ids.npi() for _ in range(2)),
        hospital_tin=ids.tin(),
        hospital_npis=tuple(ids.npi() for _ in range(3)),
    )
    return clinics, outside


def switcher(clinics: list[Clinic]) -> Clinic | None:
    """The clinic that switches from Benchmark P4P to Care Gap mid-year: the last to join Care Gap, if it
    joins after January."""
    joining = [c for c in clinics if c.program == "care_gap" and c.program_enrollment_date.month > 1]
    return max(joining, key=lambda c: (c.program_enrollment_date, c.clinic_id), default=None)


def clinic_files(clinics: list[Clinic]) -> list[tuple[int, list[Clinic]]]:
    """The clinics files a plan sends, as (month, clinics): January's, where the switcher is still in
    Benchmark P4P (since 1 January), and, in the month it joins Care Gap, the same clinics again with the
    switcher in Care Gap from that day. The engine keeps the clinic's history across the two files."""
    moving = switcher(clinics)
    if moving is None:
        return [(1, clinics)]
    before = replace(
        moving, program="benchmark", program_enrollment_date=moving.program_enrollment_date.replace(month=1)
    )
    january = [before if c is moving else c for c in clinics]
    return [(1, january), (moving.program_enrollment_date.month, clinics)]


def clinics_frame(clinics: list[Clinic]) -> pl.DataFrame:
    """The clinics file, columns as in docs/file-specs.md."""
    rows = [
        {
            "clinic_id": c.clinic_id,
            "tin": c.tin,
            "npi": c.npi,
            "clinic_name": c.name,
            "lines_of_business": c.lines_of_business,
            "program": c.program,
            "program_enrollment_date": c.program_enrollment_date.isoformat(),
            "track": c.track,
            "practice_type": c.practice_type,
            "apc_payment_track": c.apc_payment_track,
            "apc_track_start_date": None,  # one track per clinic, with every payer, since always
            "hpi_decile": str(c.hpi_decile),
            "address_line": f"{100 + 10 * int(c.clinic_id[3:])} Example Street",
            "city": c.city,
            "state": "CA",
            "zip_code": c.zip_code,
        }
        for c in clinics
    ]
    return pl.DataFrame(rows, schema=dict.fromkeys(CLINIC_COLUMNS, pl.String))
