"""A landed file as a stream of byte chunks: read once, hashed as it goes, gzip inflated incrementally.

Nothing here holds more than a few chunks: the object is read in `READ_SIZE` pieces (an S3 body, a local
file, or bytes in memory), its SHA-256 (the file id) is taken over the bytes as stored, and a gzip (by its
magic bytes) is inflated member by member in time linear in the number of members. A reader thread keeps
the next chunks coming while the caller parses (`prefetched`).
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
import zlib
from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar, cast

from shared.intake.errors import QuarantineError

GZIP_MAGIC = b"\x1f\x8b"
READ_SIZE = 8 * 1024 * 1024
_FEED = 64 * 1024
"""Compressed bytes given to the inflater at a time: what is left over when a gzip member ends is copied
once, so a file of many tiny members costs time linear in its members (not their square)."""
MAX_FILE_BYTES = 384 * 1024**2
"""The largest file (uncompressed) one ingest function takes: 384 MiB, about 2.4M generated claim lines
(a larger file fans out).
Memory would take any size (it never depends on the file); the function's 15 minutes would not: on Lambda
a claims file costs two DynamoDB queries per member it names, and the benchmark projects 259-280 s per
million lines on its last machine (docs/ingest.md, "Large files"), so a larger file would time out on every
delivery. Past it the ingest function hands the file to the fan-out (`shared.intake.shards`, docs/ingest.md
"Fan-out"); without one it is TOO_LARGE."""


class ByteStream(Protocol):
    """Anything with `read(size)`: an S3 streaming body, an open file, `io.BytesIO`."""

    def read(self, size: int = -1, /) -> bytes: ...


class HashedChunks:
    """The chunks of a stream, hashed and counted as they are read. `file_id` is known once drained."""

    def __init__(self, stream: ByteStream, size: int = READ_SIZE) -> None:
        self._stream = stream
        self._size = size
        self._sha = hashlib.sha256()
        self.stored_bytes = 0
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self._stream.read(self._size)
            if not chunk:
                self._done = True
                return
            self._sha.update(chunk)
            self.stored_bytes += len(chunk)
            yield chunk

    def drain(self) -> None:
        """Read (and hash) whatever the caller did not: a file quarantined early still needs its id."""
        for _ in self:
            pass

    @property
    def file_id(self) -> str:
        """SHA-256 of the bytes as stored; only meaningful once the stream is drained."""
        if not self._done:
            raise RuntimeError("the stream has not been read to its end")
        return self._sha.hexdigest()


def bytes_stream(data: bytes) -> ByteStream:
    """A stream over bytes already in memory (tests, `p4p validate` of a small file)."""
    return io.BytesIO(data)


def _too_large(limit: int) -> QuarantineError:
    return QuarantineError("TOO_LARGE", f"file is over {limit} bytes uncompressed")


def inflate(chunks: Iterable[bytes], limit: int = MAX_FILE_BYTES) -> Iterator[bytes]:
    """The file's content: gzip (one or many members, detected by magic bytes) inflated chunk by chunk,
    anything else passed through; TOO_LARGE past `limit` bytes, TRUNCATED_GZIP or UNREADABLE for a broken
    gzip."""
    source = iter(chunks)
    first = next(source, b"")
    if not first.startswith(GZIP_MAGIC):
        total = 0
        for chunk in _chain(first, source):
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            yield chunk
        return
    yield from _gunzip(_chain(first, source), limit)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


_FEED_MIN = 256
_OUT_MAX = 16 * 1024 * 1024


def _gunzip(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    """Inflate every gzip member in turn. After a member ends, the next input is fed in small pieces that
    grow while no member ends: what zlib copies at a member's end is at most one piece, so thousands of
    tiny members cost linear time, and a large member soon gets full-size pieces."""
    member = zlib.decompressobj(wbits=31)
    total = 0
    fed = False  # the current member has been given input
    padding = False  # past the last member: only NUL bytes may follow
    feed = _FEED
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            pos = 0
            while pos < len(view):
                if padding:
                    if bytes(view[pos:]).strip(b"\x00"):
                        raise QuarantineError("UNREADABLE", "bytes after the gzip stream")
                    break
                if not fed and view[pos] == 0:
                    padding = True  # NUL after a member: tape or block padding
                    continue
                piece = view[pos : pos + feed]
                pos += len(piece)
                data: bytes | memoryview = piece
                fed = True
                while True:
                    out = member.decompress(data, _OUT_MAX)
                    total += len(out)
                    if total > limit:
                        raise _too_large(limit)
                    if out:
                        yield out
                    if member.eof:
                        # The rest of the piece starts the next member (or padding).
                        pos -= len(member.unused_data)
                        member, fed, feed = zlib.decompressobj(wbits=31), False, _FEED_MIN
                        break
                    if not member.unconsumed_tail:
                        feed = min(feed * 2, _FEED)
                        break
                    data = member.unconsumed_tail
        if fed and not member.eof:
            raise QuarantineError("TRUNCATED_GZIP", "gzip stream ends early")
    except zlib.error:
        raise QuarantineError("UNREADABLE", "corrupt gzip stream") from None


T = TypeVar("T")


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def prefetched(chunks: Iterable[T], depth: int = 2) -> Iterator[T]:
    """`chunks` produced by a reader thread, at most `depth` ahead: reading, hashing and inflating run
    while the caller parses (zlib, hashlib and socket reads release the GIL), parsing while the caller
    validates, reading a member group while the caller applies the last (polars releases it too). Closing
    the iterator stops the thread once its current item is made."""
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        slots.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(_END)
        except BaseException as error:  # handed to the consumer, which raises it
            slots.put(_Failed(error))

    thread = threading.Thread(target=produce, name="intake-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield cast(T, item)
    finally:
        stop.set()
        thread.join()
