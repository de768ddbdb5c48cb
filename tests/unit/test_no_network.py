"""The unit suite's network guard is switched on, not merely installed."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketBlockedError


def test_a_unit_test_cannot_open_a_socket() -> None:
    # GIVEN a unit test
    # WHEN it opens an internet socket
    # THEN pytest-socket refuses it
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
