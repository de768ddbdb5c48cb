"""Domain errors of the data-access layer; `ClientError` codes never leave it."""

from __future__ import annotations


class DataAccessError(Exception):
    """A storage call failed for a reason the caller cannot act on."""


class AlreadyRecordedError(DataAccessError):
    """A conditional create found the item already there."""

    def __init__(self, what: str, existing_run_id: str | None = None) -> None:
        super().__init__(f"{what} already recorded")
        self.existing_run_id = existing_run_id


class StaleVersionError(DataAccessError):
    """A conditional transition lost: the item's version or status moved on."""


class NotFoundError(DataAccessError):
    """The item or object asked for does not exist."""
