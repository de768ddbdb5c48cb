"""The in-memory `FileLog` for tests, benchmarks and dry runs, beside the other fakes
(`shared/dal/memory.py`): imported by no production module."""

from __future__ import annotations

from shared.dal.files import APPLIED_SK, FileDrop, FileLog, drop_item, file_pk, landed_drop
from shared.dal.memory import WriteMeter
from shared.models.files import FileKind


class MemoryFileLog(FileLog):
    """`FileLog` in dicts: drops by key and applied keys by content, metered as the Registry's items."""

    def __init__(self, meter: WriteMeter | None = None) -> None:
        self.records: dict[str, FileDrop] = {}
        self.applied: dict[str, str] = {}
        self._meter = meter or WriteMeter()

    def landed(
        self, key: str, *, kind: FileKind | None, attempt: int, last: bool
    ) -> tuple[FileDrop, FileDrop]:
        previous = self.records.get(key)
        current = landed_drop(previous, key, kind, attempt, last)
        self.settle(current)
        return previous or FileDrop(key=key), current

    def settle(self, drop: FileDrop) -> None:
        self.records[drop.key] = drop
        self._meter.charge("registry", drop_item(drop))

    def drop(self, key: str) -> FileDrop | None:
        return self.records.get(key)

    def drops(self) -> list[FileDrop]:
        return sorted(self.records.values(), key=lambda d: (d.landed_at or "", d.key), reverse=True)

    def mark_applied(self, file_id: str, key: str) -> None:
        self.applied[file_id] = key
        self._meter.charge("registry", {"pk": file_pk(file_id), "sk": APPLIED_SK, "source_key": key})

    def applied_key(self, file_id: str) -> str | None:
        return self.applied.get(file_id)
