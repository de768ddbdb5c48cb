"""Value set expansions indexed by (code system, code) → value set OIDs."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.logic.measures.fhir import codings

VSAC_PREFIX = "http://cts.nlm.nih.gov/fhir/ValueSet/"


class ValueSetError(ValueError):
    """A value set folder or file that cannot be used."""


def oid_of(url_or_oid: str) -> str:
    """The OID of a VSAC value set URL (an OID stays as it is)."""
    return url_or_oid.rsplit("/", 1)[-1]


@dataclass
class ValueSetIndex:
    """Which value sets hold each (system, code)."""

    members: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    titles: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> ValueSetIndex:
        """Load every `ValueSet-*.json` expansion in a folder."""
        if not folder.is_dir():
            raise ValueSetError(f"value set folder not found: {folder}")
        index = cls()
        for path in sorted(folder.glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise ValueSetError(f"{path.name}: not JSON") from exc
            index.add(data)
        return index

    def add(self, valueset: dict[str, Any]) -> None:
        """Add one ValueSet resource's expansion."""
        oid = oid_of(str(valueset.get("url") or valueset.get("id", "")))
        self.titles[oid] = str(valueset.get("title") or valueset.get("name") or oid)
        stack = list(valueset.get("expansion", {}).get("contains", []))
        while stack:
            item = stack.pop()
            stack.extend(item.get("contains", []))
            if item.get("code"):
                self.members[(item.get("system", ""), item["code"])].add(oid)

    def __contains__(self, oid: str) -> bool:
        return oid in self.titles

    def matches(self, concept: Any, oid: str) -> bool:
        """Whether any coding of a concept is in the value set."""
        return any(oid in self.members.get(pair, ()) for pair in codings(concept))

    def matches_any(self, concept: Any, oids: list[str] | tuple[str, ...] | frozenset[str]) -> bool:
        """Whether any coding of a concept is in any of the value sets."""
        wanted = set(oids)
        return any(self.members.get(pair, set()) & wanted for pair in codings(concept))
