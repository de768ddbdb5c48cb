"""What DynamoDB bills for writes, read off the wire: the oracle of the write meter's tests."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

KB = 1024


def _number_size(text: str) -> int:
    digits = "".join(map(str, Decimal(text).as_tuple().digits)).strip("0")
    return 1 + math.ceil(len(digits) / 2)


def _value_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    sizes: dict[str, Callable[[Any], int]] = {
        "S": lambda s: len(s.encode()),
        "N": _number_size,
        "B": len,
        "BOOL": lambda _: 1,
        "NULL": lambda _: 1,
        "L": lambda items: 3 + sum(1 + _value_size(v) for v in items),
        "M": lambda fields: 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in fields.items()),
    }
    return sizes[kind](inner)


def wire_size(item: dict[str, Any] | None) -> int:
    """DynamoDB's size of an item in AttributeValue form (docs: "DynamoDB item sizes and formats")."""
    return sum(len(k.encode()) + _value_size(v) for k, v in (item or {}).items())


def units(after: dict[str, Any] | None, before: dict[str, Any] | None) -> int:
    return max(1, math.ceil(max(wire_size(after), wire_size(before)) / KB))


class BilledClient:
    """A DynamoDB client that adds up the write units of every write that succeeds."""

    def __init__(self, client: Any) -> None:
        self._db = client
        self.units = 0
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def _item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        found = self._db.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return dict(found) if found else None

    @staticmethod
    def _key(item: dict[str, Any]) -> dict[str, Any]:
        return {"pk": item["pk"], "sk": item["sk"]}

    def _bill(self, cost: int) -> None:
        self.units += cost
        self.writes += 1

    def put_item(self, **call: Any) -> Any:
        before = self._item(call["TableName"], self._key(call["Item"]))
        answer = self._db.put_item(**call)  # a refused condition raises: nothing billed
        self._bill(units(call["Item"], before))
        return answer

    def update_item(self, **call: Any) -> Any:
        before = self._item(call["TableName"], call["Key"])
        answer = self._db.update_item(**call)
        self._bill(units(self._item(call["TableName"], call["Key"]), before))
        return answer

    def delete_item(self, **call: Any) -> Any:
        before = self._item(call["TableName"], call["Key"])
        answer = self._db.delete_item(**call)
        self._bill(units(None, before))
        return answer

    def batch_write_item(self, **call: Any) -> Any:
        costs = []
        for table, requests in call["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    costs.append(units(item, self._item(table, self._key(item))))
                else:
                    costs.append(units(None, self._item(table, request["DeleteRequest"]["Key"])))
        answer = self._db.batch_write_item(**call)
        assert not answer.get("UnprocessedItems")
        for cost in costs:
            self._bill(cost)
        return answer

    def transact_write_items(self, **call: Any) -> Any:
        before = []
        for action in call["TransactItems"]:
            ((kind, body),) = action.items()
            key = self._key(body["Item"]) if kind == "Put" else body["Key"]
            before.append((kind, body, key, self._item(body["TableName"], key)))
        answer = self._db.transact_write_items(**call)
        for kind, body, key, old in before:
            after = {"Put": body.get("Item"), "Update": None, "ConditionCheck": old, "Delete": None}[kind]
            if kind == "Update":
                after = self._item(body["TableName"], key)
            self._bill(2 * units(after, old))
        return answer
