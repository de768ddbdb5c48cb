"""The ingest benchmarks' gap state and claim-version index, held in a local SQLite file.

DynamoDB holds a file's packed evidence and versions outside the function; the in-memory fakes hold them
in the measured process, where a 16M-line file's items (about 1.4 GB of packed text) would be counted as
the ingest's own peak RSS. These keep the fakes' behaviour and metering (`shared.dal.memory`) with the
items on disk, and count the requests the DynamoDB repositories would make for the same calls
(`Requests`): a Lambda function's time on DynamoDB is round trips, which a local file does not show.
"""

from __future__ import annotations

import functools
import math
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from shared.dal.claim_versions import ClaimVersion, ClaimVersionRepository
from shared.dal.dynamo import BATCH_WRITE_MAX
from shared.dal.evidence_codec import drop_claims
from shared.dal.gap_state import EvidenceBatch, digest, distinct_evidence, packed_evidence_items, unpack_item
from shared.dal.memory import MemoryGapStateRepository, WriteMeter
from shared.dal.metering import evidence_item
from shared.models.evidence import Evidence

_QUERY_MEMBERS = 500
"""Members per query (SQLite takes up to 32,766 parameters)."""
_VERSION_FIELDS = "original, received, claim, frequency, file_id"
"""In `ClaimVersion`'s field order, before its member."""
_TABLES = (
    "CREATE TABLE IF NOT EXISTS evidence (member TEXT, sk TEXT, packed TEXT, PRIMARY KEY (member, sk))",
    "CREATE TABLE IF NOT EXISTS versions (member TEXT, sk TEXT, original TEXT, received TEXT, claim TEXT,"
    " frequency TEXT, file_id TEXT, PRIMARY KEY (member, sk))",
)


_LOCK = threading.RLock()
"""Held by every call of the two repositories: one connection, one meter, calls from several threads."""

Method = TypeVar("Method", bound=Callable[..., Any])


def _locked(method: Method) -> Method:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return cast(Method, call)


Requests = Counter[str]
"""DynamoDB requests by kind: `batch_write` (25 items each), `query` (one per member read, strongly
consistent), `put` (a conditional rewrite of one item)."""


def _batches(items: int) -> int:
    return math.ceil(items / BATCH_WRITE_MAX)


def _version(member_id: str, fields: Sequence[str]) -> ClaimVersion:
    original, received, claim, frequency, file_id = fields
    return ClaimVersion(original, received, claim, frequency, file_id, member_id)


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the tables' file (created if absent); writes are not synced (a scratch file)."""
    # The ingest applies member groups in threads (`shared.intake.pipeline`): each call holds `_LOCK`.
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA journal_mode = OFF")
    for statement in _TABLES:
        db.execute(statement)
    return db


class DiskGapStateRepository(MemoryGapStateRepository):
    """`MemoryGapStateRepository` whose packed evidence items live in SQLite (the rest stays in memory:
    clinics and roster are not what a claims file writes)."""

    def __init__(
        self, db: sqlite3.Connection, meter: WriteMeter | None = None, requests: Requests | None = None
    ) -> None:
        super().__init__(meter)
        self._db = db
        self.requests = Counter[str]() if requests is None else requests

    def _packed(self, member_id: str) -> dict[str, str]:
        rows = self._db.execute("SELECT sk, packed FROM evidence WHERE member = ?", (member_id,))
        return dict(rows.fetchall())

    @_locked
    def put_evidence(self, evidence: EvidenceBatch) -> int:
        items, rows = packed_evidence_items(evidence)
        for item in items:
            member_id = item["pk"].removeprefix("MEMBER#")
            found = self._db.execute(
                "SELECT packed FROM evidence WHERE member = ? AND sk = ?", (member_id, item["sk"])
            ).fetchone()
            old = evidence_item(member_id, item["sk"], found[0], digest(found[0])) if found else None
            self.meter.charge("evidence", item, old=old)
        self.requests["batch_write"] += _batches(len({(i["pk"], i["sk"]) for i in items}))
        self._db.executemany(
            "INSERT OR REPLACE INTO evidence VALUES (?, ?, ?)",
            ((i["pk"].removeprefix("MEMBER#"), i["sk"], i["evidence"]) for i in items),
        )
        self._db.commit()
        return rows

    @_locked
    def retract_claims(self, claims: Mapping[str, Collection[str]]) -> int:
        removed = 0
        for member_id, keys in sorted(claims.items()):
            if not keys:
                continue
            self.requests["query"] += 1
            for sk, text in sorted(self._packed(member_id).items()):
                kept, gone = drop_claims(text, frozenset(keys))
                if not gone:
                    continue
                removed += gone
                self.requests["put"] += 1
                old = evidence_item(member_id, sk, text, digest(text))
                if kept:
                    self._db.execute(
                        "UPDATE evidence SET packed = ? WHERE member = ? AND sk = ?", (kept, member_id, sk)
                    )
                    self.meter.charge(
                        "evidence_retracted", evidence_item(member_id, sk, kept, digest(kept)), old=old
                    )
                else:
                    self._db.execute("DELETE FROM evidence WHERE member = ? AND sk = ?", (member_id, sk))
                    self.meter.charge("evidence_retracted", old)
        self._db.commit()
        return removed

    @_locked
    def evidence_of(self, member_id: str) -> tuple[Evidence, ...]:
        items = sorted(self._packed(member_id).items())
        return distinct_evidence(e for sk, text in items for e in unpack_item(member_id, sk, text))


class DiskClaimVersionRepository(ClaimVersionRepository):
    """`MemoryClaimVersionRepository` with its items in SQLite, metered on the gap state's meter."""

    def __init__(self, db: sqlite3.Connection, meter: WriteMeter, requests: Requests) -> None:
        self._db = db
        self._meter = meter
        self._requests = requests

    @_locked
    def put_versions(self, versions: Iterable[ClaimVersion]) -> int:
        batch = {(v.member_id, v.item()["sk"]): v for v in versions}
        for (member_id, sk), v in batch.items():
            found = self._db.execute(
                f"SELECT {_VERSION_FIELDS} FROM versions WHERE member = ? AND sk = ?",
                (member_id, sk),
            ).fetchone()
            old = _version(member_id, found).item() if found else None
            self._meter.charge("claim_versions", v.item(), old=old)
        self._requests["batch_write"] += _batches(len(batch))
        self._db.executemany(
            "INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (m, sk, v.original_claim_key, v.received_date, v.claim_key, v.frequency, v.file_id)
                for (m, sk), v in batch.items()
            ),
        )
        self._db.commit()
        return len(batch)

    @_locked
    def versions_of(self, member_ids: Iterable[str]) -> dict[str, list[ClaimVersion]]:
        wanted = sorted(set(member_ids))
        self._requests["query"] += len(wanted)
        found: dict[str, list[ClaimVersion]] = {}
        for start in range(0, len(wanted), _QUERY_MEMBERS):
            chunk = wanted[start : start + _QUERY_MEMBERS]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT member, {_VERSION_FIELDS} FROM versions WHERE member IN ({marks})"
            rows = self._db.execute(query, chunk)
            for member_id, *fields in rows:
                found.setdefault(member_id, []).append(_version(member_id, fields))
        return {member_id: sorted(versions) for member_id, versions in found.items()}
