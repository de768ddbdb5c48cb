"""Evidence's storage codec: a member's evidence from one file packed as one DynamoDB item's text.

One line per item, fields separated by tabs, in the order of PACKED_FIELDS; member id and file id live in
the item's keys. Empty means None. A record's details (RECORD_FIELDS) follow only on lines that have one, and
a claim line's facility and cost details (CLAIM_FIELDS) after them only on lines that have those (the record
fields then empty where the line has none), so the lines of items without them are what they were before
either existed, and a line written before they existed still reads. The model (`shared.models.evidence`)
knows nothing of this format; only the gap state repositories read and write it.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from shared.models.evidence import (
    EVIDENCE_SCHEMA,
    MEDICAL_KEY,
    PHARMACY_KEY,
    Evidence,
    EvidenceSource,
    fill_key,
    medical_key,
)

PACKED_FIELDS = (
    "action",
    "step",
    "action_date",
    "received_date",
    "source",
    "source_row",
    "concept",
    "claim_id",
    "claim_line_number",
    "attestation_id",
    "attesting_clinic_id",
    "result_value",
    "days_supply",
    "condition",
)
RECORD_FIELDS = (
    "kind",
    "code_system",
    "codes",
    "status",
    "verification",
    "intent",
    "negated",
    "reasons",
    "value_codes",
    "unit",
    "start_date",
    "end_date",
    "dated_by",
    "record_id",
    "encounter_id",
    "setting",
    "discharge",
    "body_site",
)
CLAIM_FIELDS = (
    "claim_type",
    "bill_type_code",
    "revenue_center_code",
    "admission_date",
    "discharge_date",
    "discharge_disposition_code",
    "ms_drg_code",
    "allowed_amount",
)
_SOURCE_CODES = {
    EvidenceSource.ATTESTATION.value: "A",
    EvidenceSource.MEDICAL_CLAIM.value: "M",
    EvidenceSource.PHARMACY_CLAIM.value: "P",
    EvidenceSource.IMMUNIZATION.value: "I",
    EvidenceSource.LAB.value: "L",
    EvidenceSource.SUPPLEMENTAL.value: "S",
}
_SOURCES = {code: EvidenceSource(name) for name, code in _SOURCE_CODES.items()}
_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"))
PACK_CHUNK_ROWS = 1500
"""Items per packed DynamoDB item: about 100 bytes each keeps an item far below the 400 KB limit."""
PACK_CHUNK_BYTES = 350_000
"""Bytes of packed text per item at most: a clinical record's lines (codings, reasons) can be long, and an
item may not pass DynamoDB's 400 KB with its keys."""


def _packed_field(name: str, dtype: pl.DataType, escape: bool) -> pl.Expr:
    value = pl.col(name)
    if name == "source":
        return value.replace_strict(_SOURCE_CODES, return_dtype=pl.String).fill_null("")
    if dtype == pl.String() and escape:
        for raw, escaped in _ESCAPES:
            value = value.str.replace_all(raw, escaped, literal=True)
        return value.fill_null("")
    return value.cast(pl.String).fill_null("")


def _needs_escape(frame: pl.DataFrame) -> bool:
    names = (*PACKED_FIELDS, *RECORD_FIELDS, *CLAIM_FIELDS)
    texts = [n for n in names if EVIDENCE_SCHEMA[n] == pl.String() and n != "source"]
    specials = [raw for raw, _ in _ESCAPES]
    found = frame.select(pl.any_horizontal(pl.col(n).str.contains_any(specials).any() for n in texts))
    return bool(found.item())


def pack_evidence(frame: pl.DataFrame) -> pl.DataFrame:
    """`member_id`, `file_id`, `packed`: each member's items from each file as packed text, at most
    PACK_CHUNK_ROWS lines and PACK_CHUNK_BYTES bytes per text.

    Members keep their rows' order (the file's), so the same evidence always packs to the same text.
    """
    missing = [
        pl.lit(None, EVIDENCE_SCHEMA[n]).alias(n)
        for n in (*RECORD_FIELDS, *CLAIM_FIELDS)
        if n not in frame.columns
    ]
    frame = frame.with_columns(missing) if missing else frame
    escape = _needs_escape(frame)
    base = pl.concat_str(
        [_packed_field(n, EVIDENCE_SCHEMA[n], escape) for n in PACKED_FIELDS], separator="\t"
    )
    details = pl.concat_str(
        [_packed_field(n, EVIDENCE_SCHEMA[n], escape) for n in RECORD_FIELDS], separator="\t"
    )
    claim = pl.concat_str(
        [_packed_field(n, EVIDENCE_SCHEMA[n], escape) for n in CLAIM_FIELDS], separator="\t"
    )
    has_details = pl.any_horizontal(pl.col(n).is_not_null() for n in RECORD_FIELDS)
    has_claim = pl.any_horizontal(pl.col(n).is_not_null() for n in CLAIM_FIELDS)
    line = (
        pl.when(has_claim)
        .then(pl.concat_str([base, details, claim], separator="\t"))
        .when(has_details)
        .then(pl.concat_str([base, details], separator="\t"))
        .otherwise(base)
    )
    grouped = (
        frame.select("member_id", "file_id", line.alias("packed"))
        .group_by("member_id", "file_id", maintain_order=True)
        .agg(pl.col("packed").str.join("\n"), pl.len().alias("rows"))
    )
    over = (pl.col("rows") > PACK_CHUNK_ROWS) | (pl.col("packed").str.len_bytes() > PACK_CHUNK_BYTES)
    if not grouped.select(over.any()).item():
        return grouped.drop("rows")
    # Rare: a member with more (or longer) items in one file than an item should hold is split into chunks.
    small = grouped.filter(~over).drop("rows")
    chunks = [
        (member_id, file_id, chunk)
        for member_id, file_id, packed, _ in grouped.filter(over).iter_rows()
        for chunk in _chunks(packed.split("\n"))
    ]
    return pl.concat([small, pl.DataFrame(chunks, schema=small.schema, orient="row")])


def _chunks(lines: list[str]) -> list[str]:
    """Lines joined into texts of at most PACK_CHUNK_ROWS lines and PACK_CHUNK_BYTES bytes each."""
    texts: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        length = len(line.encode()) + 1
        if current and (len(current) == PACK_CHUNK_ROWS or size + length > PACK_CHUNK_BYTES):
            texts.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += length
    if current:
        texts.append("\n".join(current))
    return texts


_KEY_FIELDS = (
    PACKED_FIELDS.index("source"),
    PACKED_FIELDS.index("claim_id"),
    PACKED_FIELDS.index("claim_line_number"),
)


def packed_claim_key(line: str) -> str | None:
    """`Evidence.claim_key` of one packed line, without building the model."""
    fields = line.split("\t")
    source, claim_id, line_number = (fields[i] for i in _KEY_FIELDS)
    if not claim_id:
        return None
    claim_id = _unescape(claim_id)
    if source == _SOURCE_CODES[EvidenceSource.MEDICAL_CLAIM.value]:
        return medical_key(claim_id)
    if source == _SOURCE_CODES[EvidenceSource.PHARMACY_CLAIM.value]:
        return fill_key(claim_id, line_number)
    return None


def drop_claims(packed: str, claim_keys: Collection[str]) -> tuple[str, int]:
    """Packed text without the lines of `claim_keys`, and how many lines went."""
    # A claim id appears between tabs on its lines: most texts hold none of the claims and are passed
    # over by a substring search instead of being split and parsed.
    needles = {f"\t{_claim_id_of(key)}\t" for key in claim_keys}
    if not any(needle in packed for needle in needles):
        return packed, 0
    lines = packed.split("\n")
    kept = [line for line in lines if packed_claim_key(line) not in claim_keys]
    return "\n".join(kept), len(lines) - len(kept)


def _claim_id_of(claim_key: str) -> str:
    if claim_key.startswith(PHARMACY_KEY):
        return claim_key.removeprefix(PHARMACY_KEY).rsplit("#", 1)[0]
    return claim_key.removeprefix(MEDICAL_KEY)


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append({"t": "\t", "n": "\n"}.get(following, following))
        else:
            out.append(char)
    return "".join(out)


def unpack_evidence(member_id: str, file_id: str, packed: str) -> list[Evidence]:
    """The evidence items of one packed text (see `pack_evidence`)."""
    items = []
    width = len(PACKED_FIELDS)
    claims_at = width + len(RECORD_FIELDS)
    for line in packed.split("\n"):
        parts = line.split("\t")
        values = dict(zip(PACKED_FIELDS, parts[:width], strict=True))
        values |= dict(zip(RECORD_FIELDS, parts[width:claims_at], strict=False))
        values |= dict(zip(CLAIM_FIELDS, parts[claims_at:], strict=False))
        fields: dict[str, object] = {k: _unescape(v) for k, v in values.items() if v != ""}
        fields["source"] = _SOURCES[values["source"]]
        items.append(Evidence.model_validate({"member_id": member_id, "file_id": file_id, **fields}))
    return items
