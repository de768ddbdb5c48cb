"""Evidence: one fact from a file that completes a step of an action for a member."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from datetime import date
from enum import StrEnum

import polars as pl
from pydantic import BaseModel, ConfigDict, computed_field

from shared.models.actions import ActionCode, Step

CONDITION_PREFIX = "DX:"
"""Condition facts carry `action=DX:<code set name>` and `step=diagnosis`; they pay nothing."""


def condition_action(code_set: str) -> ActionCode:
    """The action code under which facts of a condition code set are stored."""
    return ActionCode(f"{CONDITION_PREFIX}{code_set}")


class EvidenceSource(StrEnum):
    ATTESTATION = "attestation"
    MEDICAL_CLAIM = "medical_claim"
    PHARMACY_CLAIM = "pharmacy_claim"
    IMMUNIZATION = "immunization"
    LAB = "lab"
    SUPPLEMENTAL = "supplemental"
    """EHR records (FHIR procedures, conditions) a plan accepts as supplemental data (Q14)."""

    @property
    def confirms(self) -> bool:
        """Claims and supplemental data (registry, labs) confirm a service; attestations do not (Q13)."""
        return self is not EvidenceSource.ATTESTATION


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class Evidence(BaseModel):
    """A claim line, a fill, a registry dose, a lab result or an attestation that speaks to one action.

    The id depends only on the source record (claim id + line, fill, file row, or attestation id) and the
    action, so delivering the same file twice, or the same record in two files, yields the same item.
    """

    model_config = ConfigDict(frozen=True)

    member_id: str
    action: ActionCode
    step: Step
    action_date: date
    received_date: date | None = None
    source: EvidenceSource
    file_id: str
    source_row: int
    concept: str | None = None
    claim_id: str | None = None
    claim_line_number: int | None = None
    attestation_id: str | None = None
    attesting_clinic_id: str | None = None
    result_value: str | None = None
    days_supply: int | None = None
    condition: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def evidence_id(self) -> str:
        if self.condition is not None:  # one claim line can recapture several conditions
            return _digest(self.source.value, self.action, self.reference, self.condition)
        return _digest(self.source.value, self.action, self.reference)

    @property
    def reference(self) -> str:
        """Human-readable pointer to the source record, as printed on statements."""
        if self.source is EvidenceSource.MEDICAL_CLAIM:
            return f"claim:{self.claim_id}#{self.claim_line_number}"
        if self.source is EvidenceSource.PHARMACY_CLAIM:
            return f"fill:{self.claim_id}#{self.claim_line_number}"
        if self.source is EvidenceSource.ATTESTATION:
            return f"attestation:{self.attestation_id}"
        # Registry and lab rows have no id of their own: the concept and date identify the fact.
        return f"{self.source.value}:{self.member_id}/{self.concept}/{self.action_date.isoformat()}"

    @property
    def known_date(self) -> date:
        """When the plan learned of it: claims count from receipt (Q15), attestations from their date."""
        return self.received_date or self.action_date

    @property
    def period(self) -> str:
        """The measurement year the evidence counts toward."""
        return str(self.action_date.year)

    @property
    def is_condition(self) -> bool:
        """True for a condition fact (diagnosis or drug class), which no step is paid for."""
        return self.step is Step.DIAGNOSIS

    @property
    def claim_key(self) -> str | None:
        """The claim-version key of the claim or fill behind this evidence (None for other sources)."""
        if self.claim_id is None:
            return None
        if self.source is EvidenceSource.MEDICAL_CLAIM:
            return medical_key(self.claim_id)
        if self.source is EvidenceSource.PHARMACY_CLAIM:
            return fill_key(self.claim_id, self.claim_line_number)
        return None


MEDICAL_KEY = "MED#"
PHARMACY_KEY = "RX#"


def medical_key(claim_id: str) -> str:
    """Claim-version key of a medical claim."""
    return f"{MEDICAL_KEY}{claim_id}"


def fill_key(claim_id: str, fill_number: object) -> str:
    """Claim-version key of a pharmacy fill (claim id + fill number)."""
    return f"{PHARMACY_KEY}{claim_id}#{fill_number}"


# ---- Evidence as columns -------------------------------------------------------------------------------
# Ingest handles evidence as a polars frame (one row per item, these columns): a 1M-line claims file
# yields close to a million items, far too many to build as models.

EVIDENCE_SCHEMA: dict[str, pl.DataType] = {
    "member_id": pl.String(),
    "action": pl.String(),
    "step": pl.String(),
    "action_date": pl.Date(),
    "received_date": pl.Date(),
    "source": pl.String(),
    "file_id": pl.String(),
    "source_row": pl.Int64(),
    "concept": pl.String(),
    "claim_id": pl.String(),
    "claim_line_number": pl.Int64(),
    "attestation_id": pl.String(),
    "attesting_clinic_id": pl.String(),
    "result_value": pl.String(),
    "days_supply": pl.Int64(),
    "condition": pl.String(),
}


def empty_evidence() -> pl.DataFrame:
    """An evidence frame with no rows."""
    return pl.DataFrame(schema=EVIDENCE_SCHEMA)


def evidence_frame(items: Iterable[Evidence]) -> pl.DataFrame:
    """Evidence models as an evidence frame."""
    rows = [item.model_dump(mode="python", exclude={"evidence_id"}) for item in items]
    if not rows:
        return empty_evidence()
    frame = pl.DataFrame(rows, schema=EVIDENCE_SCHEMA)
    return frame.with_columns(pl.col("action").cast(pl.String), pl.col("step").cast(pl.String))


def evidence_models(frame: pl.DataFrame) -> list[Evidence]:
    """The rows of an evidence frame as models (for small frames: tests, single members)."""
    return [Evidence.model_validate(row) for row in frame.select(*EVIDENCE_SCHEMA).iter_rows(named=True)]


def with_claim_key(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame plus `claim_key` (see `Evidence.claim_key`), computed as a column."""
    source = pl.col("source")
    key = (
        pl.when(source == EvidenceSource.MEDICAL_CLAIM.value)
        .then(pl.concat_str(pl.lit(MEDICAL_KEY), pl.col("claim_id")))
        .when(source == EvidenceSource.PHARMACY_CLAIM.value)
        .then(
            pl.concat_str(
                pl.lit(PHARMACY_KEY),
                pl.col("claim_id"),
                pl.lit("#"),
                pl.col("claim_line_number").cast(pl.String),
            )
        )
        .otherwise(pl.lit(None, pl.String))
    )
    return frame.with_columns(key.alias("claim_key"))


# ---- Packed evidence: one DynamoDB item per member per file --------------------------------------------
# A member's evidence from one file is stored as text: one line per item, fields separated by tabs, in
# the order of PACKED_FIELDS; member id and file id live in the item's keys. Empty means None.

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
    texts = [n for n in PACKED_FIELDS if EVIDENCE_SCHEMA[n] == pl.String() and n != "source"]
    specials = [raw for raw, _ in _ESCAPES]
    found = frame.select(pl.any_horizontal(pl.col(n).str.contains_any(specials).any() for n in texts))
    return bool(found.item())


def pack_evidence(frame: pl.DataFrame) -> pl.DataFrame:
    """`member_id`, `file_id`, `packed`: each member's items from each file as packed text, at most
    PACK_CHUNK_ROWS lines per text.

    Members keep their rows' order (the file's), so the same evidence always packs to the same text.
    """
    escape = _needs_escape(frame)
    line = pl.concat_str(
        [_packed_field(n, EVIDENCE_SCHEMA[n], escape) for n in PACKED_FIELDS], separator="\t"
    )
    grouped = (
        frame.select("member_id", "file_id", line.alias("packed"))
        .group_by("member_id", "file_id", maintain_order=True)
        .agg(pl.col("packed").str.join("\n"), pl.len().alias("rows"))
    )
    largest = grouped.get_column("rows").max()
    if not isinstance(largest, int) or largest <= PACK_CHUNK_ROWS:
        return grouped.drop("rows")
    # Rare: a member with more items in one file than an item should hold is split into chunks.
    small = grouped.filter(pl.col("rows") <= PACK_CHUNK_ROWS).drop("rows")
    chunks = [
        (member_id, file_id, "\n".join(lines[i : i + PACK_CHUNK_ROWS]))
        for member_id, file_id, packed, _ in grouped.filter(pl.col("rows") > PACK_CHUNK_ROWS).iter_rows()
        for lines in [packed.split("\n")]
        for i in range(0, len(lines), PACK_CHUNK_ROWS)
    ]
    return pl.concat([small, pl.DataFrame(chunks, schema=small.schema, orient="row")])


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
    for line in packed.split("\n"):
        values = dict(zip(PACKED_FIELDS, line.split("\t"), strict=True))
        fields: dict[str, object] = {k: _unescape(v) for k, v in values.items() if v != ""}
        fields["source"] = _SOURCES[values["source"]]
        items.append(Evidence.model_validate({"member_id": member_id, "file_id": file_id, **fields}))
    return items
