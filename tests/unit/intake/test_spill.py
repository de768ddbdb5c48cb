"""Spills: what a file's rows cost in memory while they stream through, and that they come back whole."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from shared.intake.spill import VIEW_BYTES, KeyedFiles, PartitionedSpill, PeriodSpill, frame_bytes


def _claims_like(rows: int, start: int = 0) -> pl.DataFrame:
    """Short string values in many columns, as claim lines are (mostly codes, many of them null)."""
    return pl.DataFrame(
        {
            "row": pl.int_range(start, start + rows, eager=True),
            **{f"code_{i}": [f"C{(start + n) % 97}" for n in range(rows)] for i in range(12)},
            "period": [f"2026-{1 + (start + n) % 3:02d}" for n in range(rows)],
        }
    )


def test_a_frame_of_strings_is_counted_with_a_view_per_value() -> None:
    # GIVEN a frame of 1,000 rows and 13 string columns
    frame = _claims_like(1000)
    # WHEN its bytes in memory are counted
    counted = frame_bytes(frame)
    # THEN every string value costs its view, beyond polars' own estimate
    assert counted == int(frame.estimated_size()) + VIEW_BYTES * 1000 * 13
    assert counted > 3 * frame.estimated_size()


def test_a_partition_goes_to_disk_once_its_strings_fill_the_buffer(tmp_path: Path) -> None:
    # GIVEN a spill whose buffer is below the frame's real size but above polars' estimate of it
    frame = _claims_like(1000)
    spill = PartitionedSpill(tmp_path, 1, flush_bytes=int(frame.estimated_size()) * 2)
    # WHEN the frame is added
    spill.add(frame)
    # THEN it is on disk, not held, and comes back whole
    assert list(tmp_path.glob("*.parquet"))
    back = spill.read([0])
    assert back is not None and back.equals(frame)


def test_a_period_spill_gives_each_period_its_rows_in_order_and_holds_no_more_than_its_buffer(
    tmp_path: Path,
) -> None:
    # GIVEN a period spill with a buffer of about one batch
    batches = [_claims_like(500, start) for start in range(0, 5000, 500)]
    spill = PeriodSpill(tmp_path / "spill", flush_bytes=frame_bytes(batches[0]))
    # WHEN ten batches are added by their period column
    for batch in batches:
        spill.add(batch, pl.col("period"))
        # THEN after each add no more than the buffer stays in memory
        assert sum(spill._buffered.values()) < frame_bytes(batches[0])
    # AND each period's file holds its rows, in the order added, without the key column
    whole = pl.concat(batches)
    assert spill.names() == ["2026-01", "2026-02", "2026-03"]
    for name in spill.names():
        path = tmp_path / "out" / f"{name}.parquet"
        spill.sink(name, path)
        assert pl.read_parquet(path).equals(whole.filter(pl.col("period") == name))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_the_few_rows_a_period_spill_keeps_do_not_hold_on_to_the_frames_they_came_from(
    tmp_path: Path,
) -> None:
    # GIVEN a period spill of 1 MB, and large frames of long strings with one row each in a sparse period
    spill = PeriodSpill(tmp_path, flush_bytes=1024 * 1024)

    def add(frames: range) -> None:
        for n in frames:
            row = pl.int_range(400_000, eager=True).alias("row")
            frame = pl.select(
                claim_id=pl.format("CLM{}-{}-a-long-claim-id", pl.lit(n), row.cast(pl.String).str.zfill(10)),
                period=pl.when(row == 0).then(pl.lit("2026-01")).otherwise(pl.lit("2026-02")),
            )
            spill.add(frame, pl.col("period"))

    add(range(5))
    before = _rss_mb()
    # WHEN ten more are added (each one's large period goes to disk, its one sparse row stays in memory)
    add(range(5, 15))
    # THEN the rows kept do not keep the frames' strings alive (about 12 MB a frame, were they to)
    assert spill._buffered["2026-01"] < 1024 * 1024
    assert _rss_mb() - before < 40


def test_keyed_files_write_each_keys_rows_at_once_in_order_and_refuse_a_key_added_twice(
    tmp_path: Path,
) -> None:
    frame = pl.DataFrame({"key": ["b", "a", "b", "a", "c"], "n": [1, 2, 3, 4, 5]})
    files = KeyedFiles(tmp_path / "keyed")
    files.add(frame, pl.col("key"))
    assert files.names() == ["a", "b", "c"]
    out = tmp_path / "out" / "period=b" / "x.parquet"
    files.sink("b", out)
    assert pl.read_parquet(out).get_column("n").to_list() == [1, 3]
    assert files.names() == ["a", "c"]
    with pytest.raises(ValueError, match="rows of key a were added in two parts"):
        files.add(pl.DataFrame({"key": ["a"], "n": [6]}), pl.col("key"))
