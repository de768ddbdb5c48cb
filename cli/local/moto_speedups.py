"""Speed-ups for moto's DynamoDB that keep its answers: a query reads only the items its key selects.

moto 5.2 answers every `Query` by sorting *all* of a table's items and filtering them, so a run that
queries one member at a time grows with the square of the plan. Here, while a query runs,
`Table.all_items` yields only the items its key condition selects: for a base-table query, the partition
(sorted as moto sorts) and, given a sort key condition, only the items that meet it; for an index query,
the items that carry the index's partition key value (moto sorts those itself). moto then applies the same
conditions again, so its answer is unchanged, except that its 1 MB page is counted over the selected items
only, as DynamoDB counts it (moto counted every item of the partition). The selection is thread-local
because Step Functions' Map children query from several threads at once.

moto also serializes every DynamoDB answer by walking the operation's output shape, item by item. The
DynamoDB wire format is JSON with type descriptors, which moto already holds as plain dicts and strings, so
`json.dumps` gives the same body; anything it cannot dump (binary attributes) goes to moto's serializer.

A partition is sorted on its sort keys' cast values, each cast once (moto casts both sides of every
comparison), and a sort key condition is checked on those values with moto's comparison functions. moto turns
a result into dicts (`dynamo_to_dict`) by asking each value what it is; here by its type, to the same dicts.

Items: moto checks an item's 400 KB limit once per attribute it sets, summing every attribute so far, and a
query measures each candidate twice and deep-copies what it returns. Here an item is measured once when it
is built, a query measures each item once, and its results are the items themselves where no update has
changed an item of the table in place (puts and deletes replace items; moto's answer is new dicts made from
them), else copies of the attribute maps (writes replace attribute values). moto's backend lookup takes a
global lock and compares the service's dict with every registered one on each request; a lookup that finds
both done skips that. Each of these gives the answer moto gives (tests/local/test_runtime.py compares them).
"""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.base_backend import BackendDict
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.comparisons import get_comparison_func
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as table_module
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize, dynamo_to_dict
from moto.dynamodb.responses import DynamoResult

_scope = threading.local()
_generations: weakref.WeakKeyDictionary[Table, int] = weakref.WeakKeyDictionary()
"""The number of each table's last write while the speed-ups were on."""
_write_numbers = itertools.count(1)
_groupings: weakref.WeakKeyDictionary[Table, tuple[int, dict[tuple[str, ...], Any]]] = (
    weakref.WeakKeyDictionary()
)
"""Per table: the generation they were made at, and the items grouped by index partition key values."""
_sorted_partitions: weakref.WeakKeyDictionary[Table, tuple[int, dict[Any, list[tuple[Any, Any]]]]] = (
    weakref.WeakKeyDictionary()
)
"""Per table: the generation they were sorted at, and its partitions' items sorted on their sort keys."""
_sorted_selections: weakref.WeakKeyDictionary[Table, tuple[int, dict[tuple[Any, ...], list[Item]]]] = (
    weakref.WeakKeyDictionary()
)
"""Per table: the generation they were sorted at, and index queries' selections in their sorted order."""
_in_place: weakref.WeakSet[Table] = weakref.WeakSet()
"""Tables an update has changed an item of, in place (`update_item`), while the speed-ups were on."""
_ITEM_LIMIT = 405000
"""moto's item size limit (DynamoDB's 400 KB, as moto measured it)."""
_QUERY = inspect.signature(Table.query)
_ORIGINAL_SIZE = DynamoType.size


def _partition_items(
    table: Table, hash_key: Any, range_comparison: str | None, range_objs: list[Any]
) -> list[Any]:
    partition = table.items.get(hash_key)
    if partition is None:
        return []
    if not table.range_key_attr:
        return [partition]
    # Sorted as moto sorts them (`DynamoType.__lt__` compares `cast_value`s), each key cast once, and kept
    # until the table is next written to (a shard reads a member's partition for its facts, then for its
    # payment history); compared as `DynamoType.compare` does, with the condition's values cast once.
    generation = _generations.get(table, 0)
    held = _sorted_partitions.get(table)
    if held is None or held[0] != generation:
        held = (generation, {})
        _sorted_partitions[table] = held
    keyed = held[1].get(hash_key)
    if keyed is None:
        keyed = sorted(((item.range_key.cast_value, item) for item in partition.values()), key=_first)
        held[1][hash_key] = keyed
    if range_comparison:
        matches = get_comparison_func(range_comparison)
        values = [obj.cast_value for obj in range_objs]
        return [item for key, item in keyed if matches(key, *values)]
    return [item for _, item in keyed]


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def _wire(obj: Any) -> Any:
    """`dynamo_to_dict` of moto's results (its items as attribute maps of `DynamoType`s), walked by type:
    the same dicts, lists and values. Binary values and anything else go to moto's `dynamo_to_dict`."""
    kind = type(obj)
    if kind is DynamoType:
        tag, value = obj.type, obj.value
        if tag == "M":
            return {tag: {key: _wire(member) for key, member in value.items()}}
        if tag == "L":
            return {tag: [_wire(member) for member in value]}
        if tag in _PLAIN_TAGS:
            return {tag: value}
        if tag in _PLAIN_SETS:
            return {tag: list(value)}
    elif kind is dict or kind is LimitedSizeDict:
        return {key: _wire(member) for key, member in obj.items()}
    elif kind is list:
        return [_wire(member) for member in obj]
    elif kind in _SCALARS or obj is None:
        return obj
    return dynamo_to_dict(obj)


_PLAIN_TAGS = frozenset({"S", "N", "BOOL", "NULL"})
"""Tags whose value moto keeps as the wire's string or boolean (`dynamo_to_dict` returns it as it is)."""
_PLAIN_SETS = frozenset({"SS", "NS"})
_SCALARS = frozenset({str, int, float, bool})


def _typed(member: Any) -> DynamoType:
    return member if type(member) is DynamoType else DynamoType(member)


def _size(value: DynamoType) -> int:
    """`DynamoType.size` by type, without wrapping members in new `DynamoType`s: the same sum."""
    tag, raw = value.type, value.value
    if tag == "S":
        return len(raw.encode("utf-8")) if type(raw) is str else bytesize(raw)
    if tag == "M":
        return sum(bytesize(key) + _size(_typed(member)) for key, member in raw.items())
    if tag == "L":
        return sum(_size(member) if type(member) is DynamoType else member.size() for member in raw)
    if tag == "N":
        return len(str(raw))
    if tag in ("BOOL", "NULL") and isinstance(raw, bool):
        return 1
    return int(_ORIGINAL_SIZE(value))


def _same(value: DynamoType | None, expected: DynamoType) -> bool:
    if value is None:
        return False
    if expected.type == "S":  # moto's equality casts the value first; for a string it is the value itself
        return value.type == "S" and value.value == expected.value
    return bool(value == expected)


def _all_items(table: Table) -> Iterator[Item]:
    for partition in list(table.items.values()):
        yield from list(partition.values()) if table.range_key_attr else (partition,)


def _scan_for(table: Table, conditions: list[tuple[str, DynamoType]]) -> list[Any]:
    return [
        item
        for item in _all_items(table)
        if all(_same(item.attrs.get(name), value) for name, value in conditions)
    ]


def _index_items(table: Table, conditions: list[tuple[str, DynamoType]]) -> list[Any]:
    """Items that carry every partition key value of an index query, in no order (moto sorts them).

    The items are grouped by those values once, and the grouping serves every index query until the table
    is written to (see `_written`): a run asks for each clinic's members, one query after another."""
    names = tuple(name for name, _ in conditions)
    wanted = tuple(value for _, value in conditions)
    generation = _generations.get(table, 0)
    cached = _groupings.get(table)
    valid = cached is not None and cached[0] == generation
    groups = cached[1].get(names) if valid and cached is not None else None
    try:
        if groups is None:
            groups = {}
            for item in _all_items(table):
                values = tuple(item.attrs.get(name) for name in names)
                if all(value is not None for value in values):
                    groups.setdefault(values, []).append(item)
            by_names = cached[1] if valid and cached is not None else {}
            _groupings[table] = (generation, by_names | {names: groups})
        return list(groups.get(wanted, ()))
    except TypeError:  # a value that cannot be a dict key (a set): look at every item, as before
        return _scan_for(table, conditions)


_POSITIONAL = tuple(_QUERY.parameters)[1:11]
"""`Table.query`'s parameters as moto's backend passes them, in order (after `self`)."""
_POSITIONAL_NAMES = frozenset(_POSITIONAL)


def _query_arguments(table: Table, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """`Table.query`'s arguments by name: as moto's backend calls it (its ten leading parameters in order,
    the rest by keyword) without `Signature.bind`'s general walk; any other call is bound by the signature."""
    if len(args) == len(_POSITIONAL) and kwargs.keys().isdisjoint(_POSITIONAL_NAMES):
        return dict(zip(_POSITIONAL, args, strict=True)) | kwargs
    bound = dict(_QUERY.bind(table, *args, **kwargs).arguments)
    bound.pop("self", None)
    return bound | bound.pop("filter_kwargs", {})


def _written(table: Table) -> None:
    """A write changed the table: index groupings made before it no longer hold. Each write takes a new
    number (`next` on a counter is atomic), so two writers at once cannot leave a grouping looking current."""
    _generations[table] = next(_write_numbers)


@contextmanager
def partition_queries() -> Iterator[None]:
    """Patch moto's DynamoDB: queries read what their key selects, JSON answers as JSON; undone on exit."""
    original_query = Table.query
    original_all_items = Table.all_items

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        call = _query_arguments(self, args, kwargs)
        if call.get("index_name") is None and call.get("hash_key") is not None:
            _scope.selected = (
                self,
                _partition_items(self, call["hash_key"], call["range_comparison"], call["range_objs"]),
            )
        elif call.get("index_name") is not None and call.get("hash_key_conditions"):
            _scope.selected = (self, _index_items(self, call["hash_key_conditions"]))
        else:
            return original_query(self, *args, **kwargs)
        _scope.sizes = {}
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _scope.selected = _scope.sizes = None

    def all_items(self: Table) -> Any:
        selected = getattr(_scope, "selected", None)
        if selected is not None and selected[0] is self:
            return selected[1]
        return original_all_items(self)

    original_item_init = Item.__init__
    original_item_size = Item.size
    original_item_copy = Item.__deepcopy__

    def item_size(self: Item) -> int:
        # A query measures each item twice (before and after taking it for the page): once is enough.
        sizes = getattr(_scope, "sizes", None)
        if sizes is None:
            return original_item_size(self)
        if id(self) not in sizes:
            sizes[id(self)] = original_item_size(self)
        return int(sizes[id(self)])

    def item_copy(self: Item, memo: dict[int, Any]) -> Item:
        # A query copies its results so that what it returns cannot change under the caller; writes
        # replace attribute values rather than change them, so a copy of the attribute map does that.
        if getattr(_scope, "sizes", None) is None:
            return original_item_copy(self, memo)
        copied = Item.__new__(Item)
        copied.hash_key, copied.range_key = self.hash_key, self.range_key
        copied.attrs = LimitedSizeDict()
        dict.update(copied.attrs, self.attrs)
        return copied

    def item_init(
        self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]
    ) -> None:
        # moto checks the 400 KB limit on every attribute set, summing all attributes so far each time;
        # sizes only add up, so one check of the whole item raises exactly when that would.
        self.hash_key = hash_key
        self.range_key = range_key
        values = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in values.items()) > _ITEM_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, values)

    def value_size(self: DynamoType) -> int:
        # moto measures a map by wrapping each of its values in a new DynamoType first (which copies
        # nested maps and lists again, level by level); the same sum, measured on the values themselves.
        return _size(self)

    original_backend = BackendDict._create_account_specific_backend

    def account_backend(self: BackendDict[Any], account_id: str) -> None:
        # Every backend lookup takes moto's global lock and compares this dict with each registered one
        # (Python equality); once both are done there is nothing to do, and no lock is needed to see it.
        if dict.__contains__(self, account_id) and any(known is self for known in BackendDict._instances):
            return
        original_backend(self, account_id)

    original_put, original_delete = Table.put_item, Table.delete_item
    original_update = DynamoDBBackend.update_item

    def put_item(self: Table, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_put(self, *args, **kwargs)
        finally:
            _written(self)

    def delete_item(self: Table, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_delete(self, *args, **kwargs)
        finally:
            _written(self)

    def update_item(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
        # An update changes the stored item in place, or puts it when it is new.
        table = self.tables.get(table_name)
        if table is not None:
            _in_place.add(table)
        try:
            return original_update(self, table_name, *args, **kwargs)
        finally:
            table = self.tables.get(table_name)
            if table is not None:
                _written(table)

    original_sorted = Table.sorted_items

    def sorted_items(
        self: Table, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Item]
    ) -> list[Item]:
        # moto sorts an index query's items on every page, comparing DynamoTypes, which casts both sides
        # of each comparison; the same order from each item's key values cast once, and kept for the same
        # items until the table is next written to (a run reads its entries back a page at a time).
        names = tuple(self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs))
        generation = _generations.get(self, 0)
        held = _sorted_selections.get(self)
        if held is None or held[0] != generation:
            held = (generation, {})
            _sorted_selections[self] = held
        # The items are the table's own, held by it while the generation lasts, so their ids are theirs.
        key = (names, *map(id, items))
        done = held[1].get(key)
        if done is None:
            items.sort(key=lambda item: tuple(item.attrs[name].cast_value for name in names))
            done = held[1][key] = list(items)
        return list(done)  # moto reverses the list for a backward query: never the one kept

    original_condition = table_module.get_filter_expression
    conditions: dict[tuple[str, str, str], Any] = {}

    def filter_expression(expr: str | None, names: Any, values: Any) -> Any:
        # A conditional write parses its condition on every call; writes repeat a few conditions, and the
        # parsed condition is only read when an item is checked against it.
        try:
            key = (expr or "", json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))
        except TypeError:  # a binary value: parse it each time, as moto does
            return original_condition(expr, names, values)
        found = conditions.get(key)
        if found is None:
            if len(conditions) > 256:
                conditions.clear()
            found = conditions[key] = original_condition(expr, names, values)
        return found

    original_execute = DynamoResult.execute_result

    def execute_result(self: DynamoResult, context: Any) -> Any:
        try:
            body = json.dumps(self.result)
        except TypeError:
            return original_execute(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    class _QueryCopies:
        """moto's table module's `copy`, for the deep copy a query makes of its results (a list of items):
        none for a table no update has changed in place, since its items are never changed (a put or a
        delete replaces the item, and moto's answer is new dicts made from the items); otherwise copies of
        the attribute maps (`item_copy`), without `deepcopy`'s memo and dispatch per item."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            selected = getattr(_scope, "selected", None)
            if selected is not None and type(value) is list and all(type(i) is Item for i in value):
                if selected[0] not in _in_place:
                    return list(value)
                return [item_copy(item, {}) for item in value]
            return copy.deepcopy(value, memo)

    Table.query = query  # type: ignore[method-assign]
    table_module.copy = _QueryCopies()  # type: ignore[assignment]
    Table.sorted_items = sorted_items  # type: ignore[method-assign]
    table_module.get_filter_expression = filter_expression
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    Item.__init__ = item_init  # type: ignore[method-assign]
    DynamoType.size = value_size  # type: ignore[method-assign]
    BackendDict._create_account_specific_backend = account_backend  # type: ignore[method-assign]
    Item.size = item_size  # type: ignore[method-assign]
    Item.__deepcopy__ = item_copy  # type: ignore[method-assign]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    dynamodb_responses.dynamo_to_dict = _wire
    try:
        yield
    finally:
        Table.query = original_query  # type: ignore[method-assign]
        table_module.copy = copy
        Table.sorted_items = original_sorted  # type: ignore[method-assign]
        table_module.get_filter_expression = original_condition
        Table.all_items = original_all_items  # type: ignore[method-assign]
        Table.put_item = original_put  # type: ignore[method-assign]
        Table.delete_item = original_delete  # type: ignore[method-assign]
        DynamoDBBackend.update_item = original_update  # type: ignore[method-assign]
        _groupings.clear()
        _sorted_partitions.clear()
        _sorted_selections.clear()
        Item.__init__ = original_item_init  # type: ignore[method-assign]
        DynamoType.size = _ORIGINAL_SIZE  # type: ignore[method-assign]
        BackendDict._create_account_specific_backend = original_backend  # type: ignore[method-assign]
        Item.size = original_item_size  # type: ignore[method-assign]
        Item.__deepcopy__ = original_item_copy  # type: ignore[method-assign]
        DynamoResult.execute_result = original_execute  # type: ignore[method-assign]
        dynamodb_responses.dynamo_to_dict = dynamo_to_dict
