"""The whole-file failure: the file goes to quarantine with a reason code and a value-free detail."""

from __future__ import annotations


class QuarantineError(Exception):
    """A whole-file problem. `detail` names columns or counts, never a value from the file."""

    def __init__(self, reason_code: str, detail: str = "") -> None:
        super().__init__(f"{reason_code}: {detail}" if detail else reason_code)
        self.reason_code = reason_code
        self.detail = detail
