"""Program versions a plan drops under the curated bucket's `programs/<program>/` prefix, over the packaged
ones.

A plan changes a rate by putting a new version file there: no deploy. Every file is validated when it is
read (by the program it names, which must be its folder's), and a bad one stops the load with an error that
names its key and the problem: a typo never half-applies and is never skipped. A Lambda container keeps
what it read and re-lists the prefix at most every `recheck_seconds`; files are read again only when the
listing's ETags change. A file directly under `programs/` (the layout before programs had folders) is
taken by the program it names.
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
from shared.programs.apc import ApcCatalog, ApcProgram
from shared.programs.benchmark import BenchmarkCatalog, BenchmarkProgram
from shared.programs.care_gap import CareGapProgram, ProgramCatalog
from shared.programs.catalog import MODELS, Programs, parse_version
from shared.programs.versions import VersionedProgram

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


def _folder(key: str, prefix: str) -> str | None:
    """The program folder a key is in (`programs/<program>/<file>`), or None directly under `programs/`."""
    rest = key.removeprefix(prefix)
    return rest.split("/", 1)[0] if "/" in rest else None


def parse_program_file(key: str, data: bytes, prefix: str = Prefix.PROGRAMS.value) -> VersionedProgram:
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
    folder = _folder(key, prefix)
    if folder is not None and folder not in MODELS:
        raise ProgramFileError(
            key, f"programs/{folder}/ is not a program; the programs are {', '.join(MODELS)}"
        )
    if raw.get("program") not in MODELS:
        raise ProgramFileError(key, f"program must be one of {', '.join(MODELS)}, got {raw.get('program')!r}")
    if folder is not None and raw["program"] != folder:
        raise ProgramFileError(
            key, f"program must be {folder!r} in programs/{folder}/, got {raw['program']!r}"
        )
    try:
        return parse_version(raw)
    except ValidationError as error:
        raise ProgramFileError(key, _problems(error)) from None


def programs_with_files(
    files: Mapping[str, bytes], base: Programs, prefix: str = Prefix.PROGRAMS.value
) -> Programs:
    """`base` plus the dropped files (key → bytes). A file with a base version's name replaces that
    version; two files of one version, or two versions of one program starting on one day, are errors
    naming the files. Keys ending in `/` are the folder markers the S3 console creates, not files."""
    dropped: dict[tuple[str, str], tuple[str, VersionedProgram]] = {}
    for key in sorted(files):
        if key.endswith("/"):
            continue
        program = parse_program_file(key, files[key], prefix)
        name = (program.program, program.version)
        if name in dropped:
            raise ProgramFileError(key, f"version {program.version} is also in {dropped[name][0]}")
        dropped[name] = (key, program)
    origin = {(p.program, p.version): f"packaged version {p.version}" for p in base.versions}
    origin |= {name: key for name, (key, _) in dropped.items()}
    versions = [p for p in base.versions if (p.program, p.version) not in dropped]
    versions += [program for _, program in dropped.values()]
    starts: dict[tuple[str, object], str] = {}
    for program in sorted(versions, key=lambda p: (p.program, p.effective_from, p.version)):
        clash = starts.setdefault((program.program, program.effective_from), program.version)
        if clash != program.version:
            mine, theirs = origin[(program.program, program.version)], origin[(program.program, clash)]
            key = mine if mine in files else theirs
            other = theirs if key == mine else mine
            raise ProgramFileError(
                key, f"starts on {program.effective_from.isoformat()}, the same day as {other}"
            )
    return Programs.of_versions(versions)


class StoredPrograms:
    """The packaged programs plus the files under `prefix` in `bucket`, kept current.

    The first load happens in the constructor, so a container with a bad file fails at start. Later, reading
    a catalog's `versions` (which `in_force` and `find` do) re-lists the prefix once `recheck_seconds` have
    passed, and re-reads the files only when a key or an ETag changed. A bad file dropped later fails that
    load; the next one tries again, so the error stays until the file is fixed or removed.
    """

    def __init__(
        self,
        source: ProgramSource,
        bucket: str,
        *,
        base: Programs,
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
        self.care_gap: ProgramCatalog = _LiveCareGap(self)
        self.benchmark: BenchmarkCatalog = _LiveBenchmark(self)
        self.apc: ApcCatalog = _LiveApc(self)
        self.refresh()

    def current(self) -> Programs:
        """The programs as of the last listing, listing again first when it is older than the recheck."""
        if self._clock() - self._checked_at >= self._recheck:
            self.refresh()
        return self._current

    @property
    def fingerprint(self) -> str:
        """A short digest of the keys and ETags the programs were built from ('' with no dropped file)."""
        if not self._tags:
            return ""
        body = json.dumps(sorted(self._tags.items()), separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def refresh(self) -> None:
        """List the prefix now; read and validate the files again if the listing changed."""
        tags = self._source.etags(self._bucket, self._prefix)
        if tags != self._tags:
            files = {key: self._source.get_bytes(self._bucket, key) for key in sorted(tags)}
            self._current = programs_with_files(files, self._base, self._prefix)
            self._tags = tags
        self._checked_at = self._clock()


class _LiveCareGap(ProgramCatalog):
    """The Care Gap catalog of `StoredPrograms`, current whenever it is read."""

    def __init__(self, stored: StoredPrograms) -> None:
        self._stored = stored

    @property
    def versions(self) -> tuple[CareGapProgram, ...]:
        return self._stored.current().care_gap.versions


class _LiveBenchmark(BenchmarkCatalog):
    """The Benchmark catalog of `StoredPrograms`, current whenever it is read."""

    def __init__(self, stored: StoredPrograms) -> None:
        self._stored = stored

    @property
    def versions(self) -> tuple[BenchmarkProgram, ...]:
        return self._stored.current().benchmark.versions


class _LiveApc(ApcCatalog):
    """The APC catalog of `StoredPrograms`, current whenever it is read."""

    def __init__(self, stored: StoredPrograms) -> None:
        self._stored = stored

    @property
    def versions(self) -> tuple[ApcProgram, ...]:
        return self._stored.current().apc.versions
