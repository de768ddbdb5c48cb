"""The hostile-file corpus: one file per way a file can try to poison the ingest, with what must become of
it. Each carries the canary (`CANARY_TEXT`) in its hostile values, so a test can check that nothing the
engine emits (messages, reports, manifests, logs, registry items) repeats a value.

Used through `p4p validate` (tests/unit/intake/test_hostile.py), through the ingest service
(tests/functional/test_ingest_hostile.py) and through the real ingest on the local runtime
(tests/local/test_ingest_hostile.py).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field

from shared.models.files import FileKind
from tests.unit.intake.factories import csv_bytes, jsonl_bytes, rows

CANARY_TEXT = "HOSTILECNRY"
"""In every hostile value: never to be seen outside the data stores."""
BIG = 10 * 1024 * 1024
AS_OF = "2026-06-30"
"""The day the corpus is read (its date windows are relative to it)."""


@dataclass(frozen=True)
class Case:
    """A hostile file and its fate: quarantined with `reason` (and `detail` in its detail), or read with
    `accepted` rows and at least the reject lines `rejects` ((row, field, reason); field "" = the row)."""

    name: str
    kind: FileKind
    data: bytes
    reason: str | None = None
    detail: str | None = None
    accepted: int | None = None
    rejects: frozenset[tuple[int, str, str]] = field(default_factory=frozenset)

    clean: bytes | None = None
    """The same file without its hostile rows: what its accepted rows must amount to in the gap state."""

    @property
    def key(self) -> str:
        suffix = "json" if self.kind is FileKind.FHIR else "csv"
        return f"landing/{self.kind.value}/hostile-{self.name}.{suffix}"


def _rows(kind: FileKind, bad: dict[str, str | None], good: int = 2) -> list[dict[str, str | None]]:
    """`good` valid, distinct rows, then one more with `bad` applied (row good + 1)."""
    found = rows(kind, good + 1)
    found[-1].update(bad)
    return found


def _csv(kind: FileKind, bad: dict[str, str | None], good: int = 2) -> bytes:
    return csv_bytes(kind, _rows(kind, bad, good))


def _clean(kind: FileKind, good: int = 2) -> bytes:
    """The file `_csv` makes, without its hostile last row."""
    return csv_bytes(kind, rows(kind, good))


def _row_case(name: str, kind: FileKind, bad: dict[str, str | None], *rejects: tuple[str, str]) -> Case:
    """Two valid rows and a hostile third, rejected on each (field, reason) of `rejects` (or accepted)."""
    return Case(
        name,
        kind,
        _csv(kind, bad),
        accepted=2 if rejects else 3,
        rejects=frozenset((3, f, r) for f, r in rejects),
        clean=_clean(kind) if rejects else None,
    )


def _long_id(kind: FileKind, column: str) -> Case:
    value = CANARY_TEXT + "A" * BIG
    return _row_case(f"10mb-{column}-{kind.value}", kind, {column: value}, (column, "TOO_LONG"))


def _fhir_bundle(*resources: dict[str, object], resource_type: str = "Bundle") -> bytes:
    entries = [{"resource": r} for r in resources]
    return json.dumps({"resourceType": resource_type, "type": "collection", "entry": entries}).encode()


def _immunization(rid: str) -> dict[str, object]:
    return {
        "resourceType": "Immunization",
        "id": rid,
        "status": "completed",
        "patient": {"reference": "Patient/M0001"},
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "141"}]},
        "occurrenceDateTime": "2026-01-15",
    }


def _empty_members_gzip(members: int) -> bytes:
    """A gzip of `members` empty members before the data's own member (`cat` of many empty gzips)."""
    empty = gzip.compress(b"", mtime=0)
    data = csv_bytes(FileKind.IMMUNIZATIONS, rows(FileKind.IMMUNIZATIONS, 3))
    return empty * members + gzip.compress(data, mtime=0)


def corpus() -> list[Case]:
    """Every hostile case the issue names, and the neighbours of each."""
    mc, rx, el, cl = FileKind.MEDICAL_CLAIMS, FileKind.PHARMACY_CLAIMS, FileKind.ELIGIBILITY, FileKind.CLINICS
    imm, labs, att = FileKind.IMMUNIZATIONS, FileKind.LABS, FileKind.ATTESTATIONS
    labs_header = b"member_id,loinc_code,result_value,result_date"
    cases = [
        _long_id(cl, "clinic_id"),
        _long_id(el, "member_id"),
        _long_id(mc, "claim_id"),
        _long_id(rx, "claim_id"),
        _row_case(
            "10mb-free-text",
            cl,
            {"clinic_name": CANARY_TEXT * (BIG // len(CANARY_TEXT))},
            ("clinic_name", "TOO_LONG"),
        ),
        _row_case(
            "arabic-indic-days-supply",
            rx,
            {"days_supply": "\u0663\u0660", "claim_id": CANARY_TEXT},
            ("days_supply", "INVALID_INTEGER"),
        ),
        _row_case(
            "full-width-amount",
            mc,
            {"paid_amount": "\uff11\uff12.\uff15\uff10", "claim_id": CANARY_TEXT},
            ("paid_amount", "INVALID_DECIMAL"),
        ),
        _row_case(
            "full-width-npi",
            mc,
            {"rendering_npi": "\uff11" * 10, "claim_id": CANARY_TEXT},
            ("rendering_npi", "INVALID_NPI"),
        ),
        _row_case(
            "arabic-indic-date",
            imm,
            {"immunization_date": "\u0662\u0660\u0662\u0666-01-15", "member_id": CANARY_TEXT},
            ("immunization_date", "INVALID_DATE"),
        ),
        Case(
            "gzip-240k-empty-members",
            imm,
            _empty_members_gzip(240_000),
            accepted=3,
            clean=csv_bytes(imm, rows(imm, 3)),
        ),
        Case(
            "duplicate-column",
            labs,
            labs_header + b",member_id\nM1,4548-4,7.1,2026-01-01," + CANARY_TEXT.encode() + b"\n",
            reason="DUPLICATE_COLUMN",
            detail="member_id",
        ),
        Case(
            "duplicate-column-after-case-folding",
            labs,
            labs_header + b",Member_ID\nM1,4548-4,7.1,2026-01-01," + CANARY_TEXT.encode() + b"\n",
            reason="DUPLICATE_COLUMN",
            detail="member_id",
        ),
        Case(
            "cr-only-line-ends",
            labs,
            labs_header + b"\rM1," + CANARY_TEXT.encode() + b",7.1,2026-01-01\r",
            reason="UNREADABLE",
            detail="carriage return",
        ),
        Case(
            "misspelt-bundle",
            FileKind.FHIR,
            _fhir_bundle(_immunization(CANARY_TEXT), resource_type="Bundel"),
            reason="UNREADABLE",
            detail="not Bundle",
        ),
        _row_case("nul-in-id", imm, {"member_id": f"M\x00{CANARY_TEXT}"}, ("member_id", "INVALID_ID")),
        _row_case(
            "nul-in-text", labs, {"result_unit": f"%\x00{CANARY_TEXT}"}, ("result_unit", "INVALID_TEXT")
        ),
        Case(
            "nested-json-id",
            imm,
            jsonl_bytes(_rows(imm, {"member_id": {"id": CANARY_TEXT}}, good=3)),  # type: ignore[dict-item]
            accepted=3,
            rejects=frozenset({(4, "member_id", "NESTED_VALUE")}),
            clean=jsonl_bytes(rows(imm, 3)),
        ),
        _row_case(
            "path-in-clinic-id",
            cl,
            {"clinic_id": "../../../x/pwned" + CANARY_TEXT},
            ("clinic_id", "INVALID_ID"),
        ),
        _row_case("dot-dot-clinic-id", cl, {"clinic_id": ".."}, ("clinic_id", "INVALID_ID")),
        _row_case(
            "formula-in-id",
            cl,
            {"clinic_id": "=cmd|' /C calc'!A0" + CANARY_TEXT},
            ("clinic_id", "INVALID_ID"),
        ),
        _row_case("formula-in-attester", att, {"attested_by": "=HYPERLINK(" + CANARY_TEXT + ")"}),
        _row_case(
            "service-date-1900",
            mc,
            {"claim_start_date": "1900-01-01", "claim_id": CANARY_TEXT},
            ("claim_start_date", "OUT_OF_RANGE"),
        ),
        _row_case(
            "received-date-2099",
            mc,
            {"received_date": "2099-01-01", "claim_id": CANARY_TEXT},
            ("received_date", "OUT_OF_RANGE"),
        ),
        _row_case(
            "enrollment-dates-1900-and-2099",
            el,
            {"enrollment_start_date": "1900-01-01", "enrollment_end_date": "2099-12-31"},
            ("enrollment_start_date", "OUT_OF_RANGE"),
            ("enrollment_end_date", "OUT_OF_RANGE"),
        ),
        _row_case(
            "birth-date-1890",
            el,
            {"birth_date": "1890-01-01", "member_id": CANARY_TEXT},
            ("birth_date", "OUT_OF_RANGE"),
        ),
        Case(
            "ragged-rows",
            labs,
            labs_header
            + b"\nM1,4548-4,7.1,2026-01-01\nM2,4548-4,"
            + CANARY_TEXT.encode()
            + b"\nM3,4548-4,7.3,2026-01-01,"
            + CANARY_TEXT.encode()
            + b"\nM4,4548-4,7.4,2026-01-01\n",
            accepted=2,
            rejects=frozenset({(2, "", "RAGGED_ROW"), (3, "", "RAGGED_ROW")}),
            clean=labs_header + b"\nM1,4548-4,7.1,2026-01-01\nM4,4548-4,7.4,2026-01-01\n",
        ),
        Case(
            "unterminated-quote",
            labs,
            labs_header + b'\nM1,4548-4,7.1,2026-01-01\nM2,"' + CANARY_TEXT.encode() + b",7.2,2026-01-01\n",
            reason="UNREADABLE",
            detail="line 3",
        ),
        Case(
            "bad-utf8-named-by-line",
            labs,
            labs_header + b"\nM1,4548-4,7.1,2026-01-01\nM2,4548-4,7.2\xff,2026-01-01\n",
            reason="BAD_ENCODING",
            detail="line 3",
        ),
        Case(
            "key-conflict",
            mc,
            csv_bytes(mc, [*rows(mc, 1), *rows(mc, 1, paid_amount="1.00")]),
            accepted=0,
            rejects=frozenset({(1, "claim_id", "KEY_CONFLICT"), (2, "claim_id", "KEY_CONFLICT")}),
            clean=b"",
        ),
    ]
    return cases
