"""Unit tests have no network: every socket is refused while one runs (pytest-socket), and a test that
tries one fails with `SocketBlockedError` naming where it tried."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket

# Powertools builds its X-Ray recorder when `shared.observability` is first imported, and the recorder's
# emitter opens a UDP socket then (it sends nothing unless a segment is traced): build it before the guard.
import shared.observability  # noqa: F401


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
