"""The intake API: a landed file's bytes in, typed accepted rows, reject lines and a manifest out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import polars as pl

from shared import clock
from shared.intake.errors import QuarantineError
from shared.intake.fhir import flatten_fhir
from shared.intake.kinds import SCHEMAS
from shared.intake.parsing import SOURCE_ROW, read_raw
from shared.intake.schema import KindSchema
from shared.intake.validation import validate
from shared.intake.versions import reconcile
from shared.models.files import FileKind, FileManifest, FileStatus

LANDING_PREFIX = "landing"
CURRENT_PERIOD = "current"


@dataclass(frozen=True)
class IntakeResult:
    """One file after intake: accepted rows are typed per schema plus `source_row`."""

    file_id: str
    kind: FileKind
    accepted: pl.DataFrame
    rejects: pl.DataFrame
    manifest: FileManifest
    skipped_resources: int = 0
    """FHIR resources of types intake does not flatten (Patient, Encounter…); zero for other kinds."""


def kind_from_key(key: str) -> FileKind:
    """The file kind from an S3 key `landing/<kind>/<name>`; UNKNOWN_KIND otherwise."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0] != LANDING_PREFIX or not parts[-1]:
        raise QuarantineError("UNKNOWN_KIND", "key is not landing/<kind>/<name>")
    try:
        return FileKind(parts[1])
    except ValueError:
        raise QuarantineError("UNKNOWN_KIND", "key names no known kind") from None


def schema_for(kind: FileKind) -> KindSchema:
    """The schema of a kind's rows (for FHIR, of its flattened rows); UNSUPPORTED_KIND if it has none."""
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise QuarantineError("UNSUPPORTED_KIND", f"kind {kind.value} is not supported yet")
    return schema


def read_file(data: bytes, *, kind: FileKind, source_key: str, as_of: date | None = None) -> IntakeResult:
    """Parse and validate one file; whole-file problems raise `QuarantineError`.

    `as_of` is the day rules such as "birth date not in the future" compare with (default: today, UTC).
    """
    file_id = hashlib.sha256(data).hexdigest()
    schema = schema_for(kind)
    if kind is FileKind.FHIR:
        (raw, skipped), padded = flatten_fhir(data), True
    else:
        parsed, skipped = read_raw(data, schema), 0
        raw, padded = parsed.frame, parsed.padded
        del parsed
    rows_read = raw.height
    checked = validate(raw, schema, as_of=as_of or clock.now().date(), strip=padded)
    del raw  # large files: the raw strings are dead once validated
    sorted_out = reconcile(checked.valid, schema, kind)
    rejects = pl.concat([checked.rejects, sorted_out.conflicts]).sort(SOURCE_ROW, "field")
    rejected_rows = rejects.get_column(SOURCE_ROW).n_unique()
    accepted = sorted_out.accepted.cast(schema.polars_schema())  # type: ignore[arg-type]
    manifest = FileManifest(
        file_id=file_id,
        kind=kind,
        source_key=source_key,
        status=FileStatus.ACCEPTED,
        rows_read=rows_read,
        accepted=accepted.height,
        rejected=rejected_rows,
        duplicate=sorted_out.duplicate,
        superseded=sorted_out.superseded,
    )
    return IntakeResult(
        file_id=file_id,
        kind=kind,
        accepted=accepted,
        rejects=rejects,
        manifest=manifest,
        skipped_resources=skipped,
    )


def rejects_csv(result: IntakeResult) -> bytes:
    """The rejects report: `source_row,field,reason_code`, one line per bad field, never a value."""
    return result.rejects.select(SOURCE_ROW, "field", "reason_code").write_csv().encode("utf-8")


def curated_partitions(result: IntakeResult) -> dict[str, pl.DataFrame]:
    """Accepted rows split by period `YYYY-MM` of the kind's main date (`current` for clinics).

    The service writes each to `curated/<kind>/period=<p>/<file_id>.parquet`.
    """
    schema = schema_for(result.kind)
    if result.accepted.height == 0:
        return {}
    if schema.period_column is None:
        return {CURRENT_PERIOD: result.accepted}
    return month_partitions(result.accepted, schema.period_column)


def month_partitions(frame: pl.DataFrame, column: str) -> dict[str, pl.DataFrame]:
    """`frame` split by the `YYYY-MM` month of its date `column`, rows in their order within a month."""
    if frame.height == 0:
        return {}
    # An integer year*100+month partitions several times faster than a formatted string.
    day = pl.col(column)
    period = frame.select((day.dt.year() * 100 + day.dt.month()).alias("p")).to_series()
    if period.is_sorted():
        # Files usually come in period order (claims by received date): cut zero-copy slices.
        runs = period.rle()
        offsets = runs.struct.field("len").cum_sum() - runs.struct.field("len")
        return {
            _period_name(value): frame.slice(offset, length)
            for value, offset, length in zip(
                runs.struct.field("value"), offsets, runs.struct.field("len"), strict=True
            )
        }
    parts = frame.with_columns(period.alias("__period")).partition_by(
        "__period", as_dict=True, maintain_order=True
    )
    return {_period_name(key[0]): part.drop("__period") for key, part in parts.items()}


def _period_name(value: object) -> str:
    number = int(str(value))
    return f"{number // 100:04d}-{number % 100:02d}"
