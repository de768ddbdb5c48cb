"""Object storage: bytes, JSON and Parquet in S3."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import polars as pl
from botocore.exceptions import ClientError

from shared.dal.dynamo import error_code
from shared.dal.errors import AlreadyRecordedError, NotFoundError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectTypeDef

_MISSING = {"NoSuchKey", "404", "NotFound"}
DOWNLOAD_CHUNK = 8 * 1024 * 1024


class ObjectStore(ABC):
    """Where files, run working files and reports live."""

    @abstractmethod
    def get_bytes(self, bucket: str, key: str) -> bytes:
        """The object's bytes; NotFoundError when absent."""

    @abstractmethod
    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        """Write an object (overwrites)."""

    @abstractmethod
    def put_once(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        """Write an object only if the key is free (`If-None-Match: *`); AlreadyRecordedError if taken."""

    @abstractmethod
    def copy(self, bucket: str, key: str, dest_bucket: str, dest_key: str) -> None:
        """Server-side copy; NotFoundError when the source is absent."""

    @abstractmethod
    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Sorted keys of `bucket` under `prefix`."""

    def etags(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """Each key under `prefix` with a tag that changes whenever its object does (S3: the ETag).

        This default reads every object; stores that list tags with their keys override it."""
        return {
            key: hashlib.md5(self.get_bytes(bucket, key), usedforsecurity=False).hexdigest()
            for key in self.keys(bucket, prefix)
        }

    def sizes(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """Each key under `prefix` with its object's size in bytes.

        This default reads every object; stores that list sizes with their keys override it."""
        return {key: len(self.get_bytes(bucket, key)) for key in self.keys(bucket, prefix)}

    def open_stream(self, bucket: str, key: str) -> tuple[BinaryIO, int]:
        """The object as a readable stream and its size in bytes; NotFoundError when absent.

        This default reads the object whole; S3 streams it."""
        data = self.get_bytes(bucket, key)
        return io.BytesIO(data), len(data)

    def download(self, bucket: str, key: str, path: Path) -> None:
        """Write the object to a local file, streamed; NotFoundError when absent."""
        stream, _ = self.open_stream(bucket, key)
        try:
            with path.open("wb") as out:
                shutil.copyfileobj(stream, out, DOWNLOAD_CHUNK)
        finally:
            stream.close()

    def put_file(
        self, bucket: str, key: str, path: Path, content_type: str = "application/octet-stream"
    ) -> None:
        """Write an object from a local file (overwrites). This default reads the file whole; S3 sends it
        from disk."""
        self.put_bytes(bucket, key, path.read_bytes(), content_type)

    def get_json(self, bucket: str, key: str) -> Any:
        """Parse a JSON object."""
        return json.loads(self.get_bytes(bucket, key))

    def put_json(self, bucket: str, key: str, value: Any) -> None:
        """Write a JSON object (compact, UTF-8)."""
        data = json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
        self.put_bytes(bucket, key, data, "application/json")

    def put_parquet(self, bucket: str, key: str, frame: pl.DataFrame) -> None:
        """Write a frame as Parquet (zstd)."""
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd")
        self.put_bytes(bucket, key, buffer.getvalue(), "application/vnd.apache.parquet")

    def get_parquet(self, bucket: str, key: str) -> pl.DataFrame:
        """Read a Parquet object into a frame."""
        return pl.read_parquet(io.BytesIO(self.get_bytes(bucket, key)))


class S3ObjectStore(ObjectStore):
    """`ObjectStore` on an S3 client."""

    def __init__(self, client: S3Client) -> None:
        self._s3 = client

    def get_bytes(self, bucket: str, key: str) -> bytes:
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error_code(error) in _MISSING:
                raise NotFoundError("object not found") from None
            raise

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)

    def open_stream(self, bucket: str, key: str) -> tuple[BinaryIO, int]:
        try:
            found = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error_code(error) in _MISSING:
                raise NotFoundError("object not found") from None
            raise
        return found["Body"], int(found["ContentLength"])  # type: ignore[return-value]

    def put_file(
        self, bucket: str, key: str, path: Path, content_type: str = "application/octet-stream"
    ) -> None:
        # One PUT read from disk (up to S3's 5 GB), so a large file never sits in memory.
        with path.open("rb") as body:
            self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def put_once(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        try:
            self._s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, IfNoneMatch="*")
        except ClientError as error:
            # 409 ConditionalRequestConflict: another writer's upload of the key is in flight.
            if error_code(error) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                raise AlreadyRecordedError(f"object {key}") from None
            raise

    def copy(self, bucket: str, key: str, dest_bucket: str, dest_key: str) -> None:
        try:
            self._s3.copy_object(Bucket=dest_bucket, Key=dest_key, CopySource={"Bucket": bucket, "Key": key})
        except ClientError as error:
            if error_code(error) in _MISSING:
                raise NotFoundError("object not found") from None
            raise

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        return sorted(self.etags(bucket, prefix))

    def etags(self, bucket: str, prefix: str = "") -> dict[str, str]:
        # One paginated listing (1,000 keys a page) gives keys and ETags together.
        return {item["Key"]: item.get("ETag", "") for item in self._listing(bucket, prefix)}

    def sizes(self, bucket: str, prefix: str = "") -> dict[str, int]:
        return {item["Key"]: int(item.get("Size", 0)) for item in self._listing(bucket, prefix)}

    def _listing(self, bucket: str, prefix: str) -> Iterator[ObjectTypeDef]:
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            yield from page.get("Contents", [])
