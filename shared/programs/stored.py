"""Program versions a plan drops under the curated bucket's `programs/` prefix, over the packaged ones.

A plan changes a rate by putting a new version file there: no deploy. Every file is validated when it is
read, and a bad one stops the load with an error that names its key and the problem: a typo never
half-applies and is never skipped. A Lambda container keeps what it read and re-lists the prefix at
most every `recheck_seconds`; files are read again only when the listing's ETags change.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from pydantic import ValidationError

from shared.errors import DomainError
from shared.models.tables import Prefix
from shared.programs.care_gap import CareGapProgram, ProgramCatalog

PROGRAM_NAME = "care_gap"
RECHECK_SECONDS = 60.0
"""How stale a warm container's catalog may be: one LIST call a minute per container, at most."""

_MAX_PROBLEMS = 5


class ProgramSource(Protocol):
    """What the loader needs of an object store (`shared.dal.objects.ObjectStore` has it)."""

    def etags(self, bucket: str, prefix: str = "") -> dict[str, str]: ...

    def get_bytes(self, bucket: str, key: str) -> bytes: ...


class ProgramFileError(DomainError, ValueError):
    """A program version file under `programs/` that cannot be used; names the key and the problem."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"program file {key}: {problem}")
        self.key = key
        self.problem = problem


def _problems(error: ValidationError) -> str:
    found = error.errors()
    shown = [
        f"{'.'.join(str(part) for part in e['loc']) or '(file)'}: {e['msg']}" for e in found[:_MAX_PROBLEMS]
    ]
    more = len(found) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def parse_program_file(key: str, data: bytes) -> CareGapProgram:
    """Validate one dropped file; `ProgramFileError` names the key and what is wrong with it."""
    if not key.endswith(".json"):
        raise ProgramFileError(key, "not a program version file (a .json file is expected)")
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProgramFileError(key, "not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ProgramFileError(key, f"not valid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(raw, dict):
        raise ProgramFileError(key, "a program version is a JSON object")
    if raw.get("program") != PROGRAM_NAME:
        raise ProgramFileError(key, f"program must be {PROGRAM_NAME!r}, got {raw.get('program')!r}")
    try:
        return CareGapProgram.model_validate(raw)
    except ValidationError as error:
        raise ProgramFileError(key, _problems(error)) from None


def catalog_with_files(files: Mapping[str, bytes], base: ProgramCatalog) -> ProgramCatalog:
    """`base` plus the dropped files (key → bytes). A file with a base version's name replaces that
    version; two files of one version, or two versions starting on one day, are errors naming the files.
    Keys ending in `/` are the folder markers the S3 console creates, not files."""
    dropped: dict[str, tuple[str, CareGapProgram]] = {}
    for key in sorted(files):
        if key.endswith("/"):
            continue
        program = parse_program_file(key, files[key])
        if program.version in dropped:
            other = dropped[program.version][0]
            raise ProgramFileError(key, f"version {program.version} is also in {other}")
        dropped[program.version] = (key, program)
    origin = {p.version: f"packaged version {p.version}" for p in base.versions}
    origin |= {version: key for version, (key, _) in dropped.items()}
    versions = [p for p in base.versions if p.version not in dropped]
    versions += [program for _, program in dropped.values()]
    starts: dict[object, str] = {}
    for program in sorted(versions, key=lambda p: (p.effective_from, p.version)):
        clash = starts.setdefault(program.effective_from, program.version)
        if clash != program.version:
            key = next(k for k in (origin[program.version], origin[clash]) if k in files)
            other = origin[clash] if key == origin[program.version] else origin[program.version]
            raise ProgramFileError(
                key, f"starts on {program.effective_from.isoformat()}, the same day as {other}"
            )
    return ProgramCatalog(tuple(versions))


class StoredCatalog(ProgramCatalog):
    """A `ProgramCatalog` of `base` plus the files under `prefix` in `bucket`, kept current.

    The first load happens in the constructor, so a container with a bad file fails at start. Later,
    reading `versions` (which `in_force` and `find` do) re-lists the prefix once `recheck_seconds` have
    passed, and re-reads the files only when a key or an ETag changed. A bad file dropped later fails
    that load; the next one tries again, so the error stays until the file is fixed or removed.
    """

    def __init__(
        self,
        source: ProgramSource,
        bucket: str,
        *,
        base: ProgramCatalog,
        prefix: str = Prefix.PROGRAMS.value,
        recheck_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source, self._bucket, self._prefix, self._base = source, bucket, prefix, base
        self._recheck = RECHECK_SECONDS if recheck_seconds is None else recheck_seconds
        self._clock = clock
        self._tags: dict[str, str] | None = None
        self._current = base
        self._checked_at = 0.0
        self.refresh()

    @property
    def versions(self) -> tuple[CareGapProgram, ...]:
        if self._clock() - self._checked_at >= self._recheck:
            self.refresh()
        return self._current.versions

    @property
    def fingerprint(self) -> str:
        """A short digest of the keys and ETags the catalog was built from ('' with no dropped file)."""
        if not self._tags:
            return ""
        body = json.dumps(sorted(self._tags.items()), separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def refresh(self) -> None:
        """List the prefix now; read and validate the files again if the listing changed."""
        tags = self._source.etags(self._bucket, self._prefix)
        if tags != self._tags:
            files = {key: self._source.get_bytes(self._bucket, key) for key in sorted(tags)}
            self._current = catalog_with_files(files, self._base)
            self._tags = tags
        self._checked_at = self._clock()
