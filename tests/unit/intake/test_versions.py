from datetime import date

import polars as pl
import pytest

from shared.intake import IntakeResult, curated_partitions, net_claim_versions, net_pharmacy_fills, read_file
from shared.models.files import FileKind
from tests.unit.intake.factories import VALID_ROWS, csv_bytes, rows

MC = FileKind.MEDICAL_CLAIMS
RX = FileKind.PHARMACY_CLAIMS


def _claim(
    claim_id: str, frequency: str = "1", original: str | None = None, **more: str
) -> dict[str, str | None]:
    row: dict[str, str | None] = dict(VALID_ROWS[MC])
    row.update(claim_id=claim_id, claim_frequency_code=frequency, original_claim_id=original, **more)
    return row


def _read(kind: FileKind, data: list[dict[str, str | None]]) -> IntakeResult:
    return read_file(csv_bytes(kind, data), kind=kind, source_key=f"landing/{kind}/f.csv")


def test_identical_rows_count_once_and_the_rest_as_duplicates() -> None:
    # GIVEN two distinct lab rows, the first repeated twice more
    first, second = rows(FileKind.LABS, 2)
    # WHEN the file is read
    result = _read(FileKind.LABS, [first, second, first, first])
    # THEN the first copy is accepted and the two repeats are duplicates
    assert result.accepted.get_column("source_row").to_list() == [1, 2]
    assert (result.manifest.duplicate, result.manifest.rejected) == (2, 0)


def test_rows_sharing_a_natural_key_with_different_content_are_all_rejected() -> None:
    # GIVEN two versions of the same claim line that disagree on the amount, and one exact repeat
    a = _claim("C1", allowed_amount="10.00")
    b = _claim("C1", allowed_amount="20.00")
    # WHEN the file is read
    result = _read(MC, [a, b, a, _claim("C2")])
    # THEN the repeat is a duplicate, both versions are rejected, the other claim is accepted
    assert result.rejects.rows() == [(1, "claim_id", "KEY_CONFLICT"), (2, "claim_id", "KEY_CONFLICT")]
    assert result.accepted.get_column("source_row").to_list() == [4]
    assert (result.manifest.duplicate, result.manifest.rejected) == (1, 2)


def test_an_original_replaced_or_voided_in_the_same_file_is_superseded() -> None:
    # GIVEN an original, its replacement, a replacement of that, and a claim voided in the file
    data = [
        _claim("C1"),
        _claim("C2", "7", "C1"),
        _claim("C3", "7", "C2"),
        _claim("C9"),
        _claim("C10", "8", "C9"),
        _claim("C20", "7", "C-OLD"),
    ]
    # WHEN the file is read
    result = _read(MC, data)
    # THEN the replaced and voided claims are superseded and the latest versions stay
    assert result.accepted.get_column("claim_id").to_list() == ["C3", "C10", "C20"]
    assert result.manifest.superseded == 3
    assert result.manifest.rows_read == 6


def test_a_paid_fill_reversed_in_the_same_file_is_superseded() -> None:
    # GIVEN a paid fill, its reversal and another paid fill
    paid, other = rows(RX, 2)
    reversal = {**paid, "claim_status": "reversed"}
    # WHEN the file is read
    result = _read(RX, [paid, reversal, other])
    # THEN the reversed paid fill is superseded; the reversal and the other fill are accepted
    assert result.accepted.get_column("source_row").to_list() == [2, 3]
    assert result.manifest.superseded == 1


def _lines(*claims: tuple[str, str, str | None, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "claim_id": c,
                "claim_line_number": 1,
                "claim_frequency_code": f,
                "original_claim_id": o,
                "received_date": date.fromisoformat(r),
            }
            for c, f, o, r in claims
        ]
    )


def test_net_claim_versions_keeps_only_the_latest_version_of_each_claim() -> None:
    # GIVEN claims from several files: a chain of replacements, a void, two rival replacements
    lines = _lines(
        ("A", "1", None, "2026-01-01"),
        ("A2", "7", "A", "2026-02-01"),
        ("A3", "7", "A2", "2026-03-01"),
        ("B", "1", None, "2026-01-01"),
        ("Bv", "8", "B", "2026-02-01"),
        ("C", "1", None, "2026-01-01"),
        ("C-early", "7", "C", "2026-02-01"),
        ("C-late", "7", "C", "2026-03-01"),
        ("D", "1", None, "2026-01-01"),
    )
    # WHEN the net lines are taken
    net = net_claim_versions(lines)
    # THEN each claim is its latest replacement, the voided claim is gone and voids are not services
    assert sorted(net.get_column("claim_id").to_list()) == ["A3", "C-late", "D"]


def test_net_pharmacy_fills_drops_reversed_fills() -> None:
    # GIVEN two paid fills of a claim, the second reversed, and a reversal of an unknown fill
    fills = pl.DataFrame(
        {
            "claim_id": ["R1", "R1", "R1", "R9"],
            "fill_number": [0, 1, 1, 0],
            "claim_status": ["paid", "paid", "reversed", "reversed"],
        }
    )
    # WHEN the net fills are taken
    net = net_pharmacy_fills(fills)
    # THEN only the unreversed paid fill is left
    assert net.select("claim_id", "fill_number").rows() == [("R1", 0)]


@pytest.mark.parametrize("in_period_order", [True, False])
def test_curated_partitions_split_claims_by_the_month_they_were_received(in_period_order: bool) -> None:
    # GIVEN claims received in January and March, in received order or not (sliced vs grouped)
    data = [
        _claim("C1", received_date="2026-01-31", claim_start_date="2026-01-20", claim_end_date="2026-01-20"),
        _claim("C3", received_date="2026-01-31", claim_start_date="2025-12-30", claim_end_date="2025-12-30"),
        _claim("C2", received_date="2026-03-01", claim_start_date="2026-01-02", claim_end_date="2026-01-03"),
    ]
    if not in_period_order:
        data = [data[0], data[2], data[1]]
    # WHEN the accepted rows are partitioned
    parts = curated_partitions(_read(MC, data))
    # THEN there is one frame per received month holding that month's claims, whatever their service date
    assert {p: sorted(f.get_column("claim_id").to_list()) for p, f in parts.items()} == {
        "2026-01": ["C1", "C3"],
        "2026-03": ["C2"],
    }


def test_clinics_are_one_current_partition() -> None:
    # GIVEN a clinics file
    result = _read(FileKind.CLINICS, rows(FileKind.CLINICS, 3))
    # WHEN it is partitioned
    parts = curated_partitions(result)
    # THEN the whole load is the `current` partition
    assert list(parts) == ["current"]
    assert parts["current"].height == 3
