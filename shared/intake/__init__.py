"""Data intake: file-kind schemas, streaming parsing, vectorised validation, rejects and manifests. No AWS."""

from shared.intake.errors import QuarantineError
from shared.intake.kinds import SCHEMAS
from shared.intake.reader import (
    IntakeResult,
    Staging,
    curated_partitions,
    kind_from_key,
    read_file,
    rejects_csv,
    schema_for,
    stage_file,
    write_rejects_csv,
)
from shared.intake.versions import net_claim_versions, net_pharmacy_fills

__all__ = [
    "SCHEMAS",
    "IntakeResult",
    "QuarantineError",
    "Staging",
    "curated_partitions",
    "kind_from_key",
    "net_claim_versions",
    "net_pharmacy_fills",
    "read_file",
    "rejects_csv",
    "schema_for",
    "stage_file",
    "write_rejects_csv",
]
