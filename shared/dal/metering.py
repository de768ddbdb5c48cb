"""Write capacity units, counted the way DynamoDB bills them, for the in-memory repositories
(`shared/dal/memory.py`), so a benchmark on those fakes can state its DynamoDB cost.

Each write of an item costs 1 unit per started KB of the larger of the item before and after it (a put
that replaces an item, an update; a delete costs the item it removes), the item sized as DynamoDB sizes
it (`item_size`, keys included); a batch write counts per item, a transaction twice per item, its
condition checks included. Not counted: writes that a condition refuses (DynamoDB bills those too) and
the index (gsi1) writes of items that carry index keys. `tests/contract/test_write_meter.py` holds the
meter to the bill of the same calls on the DynamoDB repositories.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.dal.gap_state import CLINICS_INDEX_KEY, PROFILE, clinic_pk, member_pk, provider_keys
from shared.dal.ledger import BALANCE_PREFIX, ENTRY_SK, GAP_DIGEST_SK, HISTORY_PREFIX, entry_pk
from shared.dal.runs import APPROVAL_SK, RUN_SK, RUNS_INDEX_KEY, run_pk
from shared.models.gaps import Gap
from shared.models.ledger import LedgerEntry
from shared.models.members import Clinic, EligibilitySpan, MemberProfile, ProviderAffiliation
from shared.models.runs import Approval, Run

ITEM_UNIT_BYTES = 1024
Item = Mapping[str, Any]


def item_size(item: Item) -> int:
    """The size DynamoDB gives an item of plain values (as `shared.dal.dynamo.to_item` writes them: a
    top-level None is not written): attribute names plus values, numbers by significant digits, lists
    and maps 3 bytes plus 1 per element (docs: "DynamoDB item sizes and formats")."""
    return sum(len(k.encode()) + _value_size(v) for k, v in item.items() if v is not None)


def _value_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, int | float | Decimal):
        digits = "".join(map(str, Decimal(str(value)).as_tuple().digits)).strip("0")
        return 1 + math.ceil(len(digits) / 2)
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, Mapping):
        return 3 + sum(1 + len(str(k).encode()) + _value_size(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return 3 + sum(1 + _value_size(v) for v in value)
    return len(str(value).encode())


@dataclass
class WriteMeter:
    """Write capacity units consumed, by kind of item."""

    units: dict[str, int] = field(default_factory=dict)

    def charge(self, what: str, item: Item, *, old: Item | None = None, transaction: bool = False) -> None:
        """Count one write of `item` (for a delete, the item removed) over `old`, the item it replaced."""
        size = max(item_size(item), item_size(old) if old else 0)
        cost = max(1, math.ceil(size / ITEM_UNIT_BYTES)) * (2 if transaction else 1)
        self.units[what] = self.units.get(what, 0) + cost

    @property
    def total(self) -> int:
        """All units counted so far."""
        return sum(self.units.values())


# The items the DynamoDB repositories write (docs/architecture.md, "DynamoDB tables"), for the meter.
def clinic_item(c: Clinic) -> dict[str, Any]:
    keys = {"pk": clinic_pk(c.clinic_id), "sk": PROFILE, "gsi1pk": CLINICS_INDEX_KEY, "gsi1sk": c.clinic_id}
    return keys | c.model_dump(mode="json")


def provider_item(a: ProviderAffiliation) -> dict[str, Any]:
    return provider_keys(a) | a.model_dump(mode="json")


def profile_item(p: MemberProfile) -> dict[str, Any]:
    pk = member_pk(p.member_id)
    return {"pk": pk, "sk": PROFILE, "gsi1pk": clinic_pk(p.clinic_id), "gsi1sk": pk} | p.model_dump(
        mode="json"
    )


def span_item(s: EligibilitySpan) -> dict[str, Any]:
    return {"pk": member_pk(s.member_id), "sk": f"ELIG#{s.start.isoformat()}"} | s.model_dump(mode="json")


def evidence_item(member_id: str, sk: str, packed: str, content: str) -> dict[str, Any]:
    return {"pk": member_pk(member_id), "sk": sk, "evidence": packed, "digest": content}


def gap_item(g: Gap) -> dict[str, Any]:
    return {"pk": member_pk(g.member_id), "sk": f"GAP#{g.action}#{g.period}"} | g.model_dump(mode="json")


def index_sort_key(e: LedgerEntry) -> str:
    return f"{BALANCE_PREFIX if e.is_balance else 'CLINIC#'}{e.clinic_id}#{e.entry_id}"


def entry_item(e: LedgerEntry) -> dict[str, Any]:
    keys = {
        "pk": entry_pk(e.entry_id),
        "sk": ENTRY_SK,
        "gsi1pk": f"RUN#{e.run_id}",
        "gsi1sk": index_sort_key(e),
    }
    return keys | e.model_dump(mode="json")


def history_item(e: LedgerEntry) -> dict[str, Any]:
    return {"pk": member_pk(e.member_id), "sk": f"{HISTORY_PREFIX}{e.entry_id}"} | e.model_dump(mode="json")


def digest_item(member_id: str, gaps: Mapping[str, str]) -> dict[str, Any]:
    return {"pk": member_pk(member_id), "sk": GAP_DIGEST_SK, "gaps": dict(gaps)}


def run_item(r: Run) -> dict[str, Any]:
    keys = {
        "pk": run_pk(r.run_id),
        "sk": RUN_SK,
        "gsi1pk": RUNS_INDEX_KEY,
        "gsi1sk": r.started_at.isoformat(),
    }
    return keys | r.model_dump(mode="json", exclude={"approval"})


def approval_item(a: Approval | None, run_id: str) -> dict[str, Any]:
    keys = {"pk": run_pk(run_id), "sk": APPROVAL_SK}
    return keys | (a.model_dump(mode="json") if a else {})
