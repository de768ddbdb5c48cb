"""A speed-up for moto's DynamoDB that keeps its behaviour: a base-table query reads one partition.

moto 5.2 answers every `Query` by sorting *all* of a table's items and filtering them, so a run that
queries one member at a time grows with the square of the plan. Here, while a base-table query with a
partition key runs, `Table.all_items` yields only that partition (sorted as moto sorts). The filter is
thread-local because Step Functions' Map children query from several threads at once.

moto also serializes every DynamoDB answer by walking the operation's output shape, item by item. The
DynamoDB wire format is JSON with type descriptors, which moto already holds as plain dicts and strings, so
`json.dumps` gives the same body; anything it cannot dump (binary attributes) goes to moto's serializer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

_scope = threading.local()


def _partition_items(table: Table, hash_key: Any) -> list[Any]:
    partition = table.items.get(hash_key)
    if partition is None:
        return []
    if table.range_key_attr:
        return sorted(partition.values(), key=lambda item: item.range_key)
    return [partition]


@contextmanager
def partition_queries() -> Iterator[None]:
    """Patch moto's DynamoDB: one-partition base-table queries, JSON answers as JSON; undone on exit."""
    original_query = Table.query
    original_all_items = Table.all_items

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        _scope.partition = (self, hash_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _scope.partition = None

    def all_items(self: Table) -> Any:
        scoped = getattr(_scope, "partition", None)
        if scoped is not None and scoped[0] is self:
            return _partition_items(self, scoped[1])
        return original_all_items(self)

    original_execute = DynamoResult.execute_result

    def execute_result(self: DynamoResult, context: Any) -> Any:
        try:
            body = json.dumps(self.result)
        except TypeError:
            return original_execute(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query = original_query  # type: ignore[method-assign]
        Table.all_items = original_all_items  # type: ignore[method-assign]
        DynamoResult.execute_result = original_execute  # type: ignore[method-assign]
