"""What operators see of landed files: every drop by key with its status, counts and reason; one drop's
manifest and first rejects; and which drops may be retried. Reads the Registry's `FileLog` and the
reports bucket; writes nothing."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from shared.dal.errors import NotFoundError
from shared.dal.files import PROCESSING, FileDrop, FileLog
from shared.dal.objects import ObjectStore
from shared.models.files import FileKind, FileManifest, FileStatus
from shared.models.tables import Prefix

FIRST_REJECTS = 20
RETRYABLE = frozenset({FileStatus.FAILED.value, PROCESSING})
"""A FAILED drop, or one some delivery left PROCESSING, may be delivered again."""


class UnknownFileError(LookupError):
    """No file was ever dropped at that key."""


class NotRetryableError(ValueError):
    """The drop's status leaves nothing to retry (it was applied, quarantined or is a duplicate)."""


@dataclass(frozen=True)
class FileView:
    """One drop with its manifest (as written for it) and its first reject lines."""

    drop: FileDrop
    manifest: dict[str, Any] | None
    rejects: list[dict[str, str]]


class FileReport:
    """Landed files as the operator API's companions read them (the `p4p files` command)."""

    def __init__(self, *, log: FileLog, store: ObjectStore, reports_bucket: str) -> None:
        self._log = log
        self._store = store
        self._reports = reports_bucket

    def files(self, *, kind: FileKind | None = None, status: str | None = None) -> list[FileDrop]:
        """Every drop, latest first, of one kind and one status when given."""
        return [
            d
            for d in self._log.drops()
            if (kind is None or d.kind == kind.value) and (status is None or d.status == status)
        ]

    def _drop(self, key: str) -> FileDrop:
        drop = self._log.drop(key)
        if drop is None:
            raise UnknownFileError(f"no file was dropped at {key}")
        return drop

    def show(self, key: str, first: int = FIRST_REJECTS) -> FileView:
        """The drop at `key`, its manifest and its first `first` reject lines."""
        drop = self._drop(key)
        manifest = self._manifest(drop)
        rejects: list[dict[str, str]] = []
        rejects_key = (manifest or {}).get("rejects_key")
        if rejects_key and drop.status != FileStatus.DUPLICATE.value:
            rejects = self._first_rejects(str(rejects_key), first)
        return FileView(drop=drop, manifest=manifest, rejects=rejects)

    def _manifest(self, drop: FileDrop) -> dict[str, Any] | None:
        if drop.file_id is None:
            return None
        if drop.status == FileStatus.DUPLICATE.value and drop.kind is not None:
            # A duplicate's own manifest: nothing read, and the key whose bytes it repeats.
            return FileManifest(
                file_id=drop.file_id,
                kind=FileKind(drop.kind),
                source_key=drop.key,
                status=FileStatus.DUPLICATE,
                rows_read=0,
                accepted=0,
                rejected=0,
                duplicate=0,
                superseded=0,
                duplicate_of=drop.duplicate_of,
            ).model_dump(mode="json")
        try:
            found: dict[str, Any] = self._store.get_json(
                self._reports, f"{Prefix.MANIFESTS}{drop.file_id}.json"
            )
        except NotFoundError:
            return None
        return found

    def _first_rejects(self, key: str, first: int) -> list[dict[str, str]]:
        try:
            stream, _ = self._store.open_stream(self._reports, key)
        except NotFoundError:
            return []
        lines: list[str] = []
        with io.TextIOWrapper(stream, encoding="utf-8", newline="") as text:
            for line in text:
                lines.append(line)
                if len(lines) > first:
                    break
        return list(csv.DictReader(lines))[:first]

    def retryable(self, key: str) -> FileDrop:
        """The drop at `key` if it may be delivered again; NotRetryableError naming its status if not."""
        drop = self._drop(key)
        if drop.status not in RETRYABLE:
            raise NotRetryableError(f"{key} is {drop.status}: there is nothing to retry")
        return drop
