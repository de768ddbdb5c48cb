"""Small helpers over the low-level DynamoDB client: (de)serialization, batches, paginated queries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from shared import clock
from shared.dal.errors import DataAccessError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
BATCH_WRITE_MAX = 25
BATCH_GET_MAX = 100
_RETRIES = 8

CONDITION_FAILED = "ConditionalCheckFailedException"


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict (JSON-mode model dump plus keys) as a DynamoDB item; None values are dropped."""
    return {k: _attribute(v) for k, v in values.items() if v is not None}


def _attribute(value: Any) -> dict[str, Any]:
    """`TypeSerializer.serialize`, with the JSON-mode values of a model dump (strings, booleans, None, and
    maps and lists of them) taken by their type; anything else is the serializer's."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is dict:
        return {"M": {k: _attribute(v) for k, v in value.items()}}
    if kind is list:
        return {"L": [_attribute(v) for v in value]}
    if value is None:
        return {"NULL": True}
    return dict(_SERIALIZER.serialize(value))


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as a plain dict; integral numbers come back as int (at the top level; a number
    inside a map or list stays a Decimal)."""
    return {k: _plain_number(_value(v)) for k, v in item.items()}


def _value(value: Any) -> Any:
    """`TypeDeserializer.deserialize`, with strings, booleans, nulls, maps and lists read by their one tag;
    anything else (numbers, sets, binary, an odd value) is the deserializer's."""
    if type(value) is dict and len(value) == 1:
        for tag, raw in value.items():
            if tag == "S" or tag == "BOOL":
                return raw
            if tag == "M" and type(raw) is dict:
                return {k: _value(v) for k, v in raw.items()}
            if tag == "L" and type(raw) is list:
                return [_value(v) for v in raw]
            if tag == "NULL":
                return None
    return _DESERIALIZER.deserialize(value)


def _plain_number(value: Any) -> Any:
    if type(value) is Decimal and value == value.to_integral_value():
        return int(value)
    return value


def error_code(error: ClientError) -> str:
    """The `Error.Code` of a botocore ClientError."""
    return str(error.response.get("Error", {}).get("Code", ""))


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write_batches(client: DynamoDBClient, table: str, requests: Sequence[Any], what: str) -> None:
    for chunk in _chunks(requests, BATCH_WRITE_MAX):
        pending: list[Any] = list(chunk)
        for attempt in range(_RETRIES):
            response = client.batch_write_item(RequestItems={table: pending})
            pending = list(response.get("UnprocessedItems", {}).get(table, []))
            if not pending:
                break
            clock.sleep(min(0.05 * 2**attempt, 2.0))
        else:
            raise DataAccessError(f"batch {what} left unprocessed items")


def batch_put(client: DynamoDBClient, table: str, items: Iterable[Mapping[str, Any]]) -> int:
    """Unconditional puts in batches of 25, retrying unprocessed items with backoff. Returns the count."""
    # The same key twice in one batch is a ValidationException; the last version wins, as a put would.
    unique = {(i["pk"]["S"], i["sk"]["S"]): i for i in (to_item(v) for v in items)}
    _write_batches(client, table, [{"PutRequest": {"Item": item}} for item in unique.values()], "write")
    return len(unique)


def batch_delete(client: DynamoDBClient, table: str, keys: Iterable[tuple[str, str]]) -> int:
    """Deletes of (pk, sk) keys in batches of 25, retrying unprocessed items. Returns the count."""
    unique = list(dict.fromkeys(keys))
    requests = [{"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}} for pk, sk in unique]
    _write_batches(client, table, requests, "delete")
    return len(unique)


def batch_get(
    client: DynamoDBClient, table: str, keys: Sequence[tuple[str, str]], *, consistent: bool = False
) -> list[dict[str, Any]]:
    """Items for (pk, sk) keys, 100 per call, retrying unprocessed keys; missing items are left out."""
    found: list[dict[str, Any]] = []
    for chunk in _chunks(list(dict.fromkeys(keys)), BATCH_GET_MAX):
        keyed = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in chunk]
        request: Any = {table: {"Keys": keyed, "ConsistentRead": consistent}}
        for attempt in range(_RETRIES):
            response = client.batch_get_item(RequestItems=request)
            found.extend(from_item(i) for i in response.get("Responses", {}).get(table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            clock.sleep(min(0.05 * 2**attempt, 2.0))
        else:
            raise DataAccessError("batch get left unprocessed keys")
    return found


def query_all(client: DynamoDBClient, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a query, following `LastEvaluatedKey`."""
    while True:
        response = client.query(**kwargs)
        for item in response.get("Items", []):
            yield from_item(item)
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last
