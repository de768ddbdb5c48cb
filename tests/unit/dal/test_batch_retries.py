"""Batch writes and reads retry what DynamoDB left unprocessed, backing off through the injected sleep."""

from __future__ import annotations

from typing import Any

import pytest

from shared import clock
from shared.dal.dynamo import batch_get, batch_put
from shared.dal.errors import DataAccessError


class _Throttling:
    """A client that leaves the first `refusals` calls' requests unprocessed, then takes everything."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.written: list[dict[str, Any]] = []
        self.calls = 0

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        self.calls += 1
        ((table, requests),) = RequestItems.items()
        if self.calls <= self.refusals:
            return {"UnprocessedItems": {table: requests}}
        self.written += [r["PutRequest"]["Item"] for r in requests]
        return {"UnprocessedItems": {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        ((table, request),) = RequestItems.items()
        if self.calls <= self.refusals:
            return {"Responses": {table: []}, "UnprocessedKeys": RequestItems}
        return {"Responses": {table: [dict(k, v={"N": "1"}) for k in request["Keys"]]}}


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(clock, "sleep", waits.append)
    return waits


def test_unprocessed_writes_are_retried_with_growing_waits(slept: list[float]) -> None:
    client = _Throttling(refusals=3)
    count = batch_put(client, "t", [{"pk": "A", "sk": "1"}, {"pk": "A", "sk": "2"}])  # type: ignore[arg-type]
    assert count == 2 and len(client.written) == 2
    assert slept == [0.05, 0.1, 0.2]


def test_writes_still_unprocessed_after_every_retry_are_an_error_not_a_loss(slept: list[float]) -> None:
    client = _Throttling(refusals=1000)
    with pytest.raises(DataAccessError, match="unprocessed"):
        batch_put(client, "t", [{"pk": "A", "sk": "1"}])  # type: ignore[arg-type]
    assert len(slept) == client.calls and max(slept) == 2.0


def test_unprocessed_keys_are_read_again(slept: list[float]) -> None:
    client = _Throttling(refusals=2)
    found = batch_get(client, "t", [("A", "1"), ("B", "2")])  # type: ignore[arg-type]
    assert sorted((i["pk"], i["sk"]) for i in found) == [("A", "1"), ("B", "2")]
    assert slept == [0.05, 0.1]
