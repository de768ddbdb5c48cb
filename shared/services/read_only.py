"""Storage a computation may read but never change: the what-if re-run of a year (`shared/services/whatif.py`)
runs the annual run's own settlement on these, so whatever it reaches for, the ledger is not written.

- `ReadOnlyLedger` passes every read through and refuses every write with `ReadOnlyError`;
- `ScratchObjectStore` reads through to the real store and keeps what is written in memory, where later
  reads of the same key find it (a run's working files), so nothing reaches the real bucket.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from shared.dal.errors import AlreadyRecordedError, DataAccessError
from shared.dal.ledger import LedgerRepository, MemberRunState
from shared.dal.objects import ObjectStore
from shared.models.ledger import LedgerEntry


class ReadOnlyError(DataAccessError):
    """A write was attempted through a read-only view of the storage."""


class ReadOnlyLedger(LedgerRepository):
    """The ledger, for reading only."""

    def __init__(self, ledger: LedgerRepository) -> None:
        self._ledger = ledger

    def put_if_absent(self, entry: LedgerEntry) -> None:
        raise ReadOnlyError("this computation may not write the ledger")

    def index_member(self, entry: LedgerEntry) -> None:
        raise ReadOnlyError("this computation may not write the ledger's member history")

    def put_gap_digest(self, member_id: str, digest: Mapping[str, str]) -> None:
        raise ReadOnlyError("this computation may not write a member's gap digest")

    def get(self, entry_id: str) -> LedgerEntry | None:
        return self._ledger.get(entry_id)

    def member_state(self, member_id: str) -> MemberRunState:
        return self._ledger.member_state(member_id)

    def by_run(self, run_id: str) -> Iterator[LedgerEntry]:
        return self._ledger.by_run(run_id)

    def run_total(self, run_id: str) -> tuple[int, int]:
        return self._ledger.run_total(run_id)

    def balances(self, run_id: str) -> list[LedgerEntry]:
        return self._ledger.balances(run_id)

    def existing_ids(self, entry_ids: Iterable[str]) -> set[str]:
        return self._ledger.existing_ids(entry_ids)


class ScratchObjectStore(ObjectStore):
    """Reads through to `base`; writes stay here, in memory."""

    def __init__(self, base: ObjectStore) -> None:
        self._base = base
        self._written: dict[tuple[str, str], bytes] = {}

    def get_bytes(self, bucket: str, key: str) -> bytes:
        if (bucket, key) in self._written:
            return self._written[(bucket, key)]
        return self._base.get_bytes(bucket, key)

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        self._written[(bucket, key)] = bytes(data)

    def put_once(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        if (bucket, key) in self._written or key in self._base.keys(bucket, key):
            raise AlreadyRecordedError(f"object {key}")
        self._written[(bucket, key)] = bytes(data)

    def copy(self, bucket: str, key: str, dest_bucket: str, dest_key: str) -> None:
        self._written[(dest_bucket, dest_key)] = self.get_bytes(bucket, key)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        mine = {k for b, k in self._written if b == bucket and k.startswith(prefix)}
        return sorted(mine | set(self._base.keys(bucket, prefix)))
