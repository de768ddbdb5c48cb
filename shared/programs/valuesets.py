"""Value set expansions: which VSAC value sets hold each code, spelled as evidence spells codes.

Expansions are not shipped (VSAC, licensed through UMLS): `load_valuesets` reads FHIR ValueSet resources
from a folder (VSAC's export, or the CMS decks' `valuesets/`), and a program adds its own code sets to the
value sets they stand for (`ValueSets.with_codes`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from shared.models.evidence import normal_record_code, system_name


class ValueSetError(ValueError):
    """A value set folder or file that cannot be used."""


# ---- value set expansions ----------------------------------------------------------------------------
VSAC_PREFIX = "http://cts.nlm.nih.gov/fhir/ValueSet/"


def oid_of(url_or_oid: str) -> str:
    """The OID of a VSAC value set URL (an OID stays as it is)."""
    return url_or_oid.rsplit("/", 1)[-1]


def code_key(system: str, code: str) -> tuple[str, str]:
    """A (system, code) pair as evidence spells it (`system_name`, `normal_record_code`)."""
    name = system_name(system)
    return name, normal_record_code(name, code)


def spec_key(spec: str) -> tuple[str, str]:
    """The (system, code) of a `system|code` spec, as evidence spells it."""
    system, _, code = spec.rpartition("|")
    return code_key(system, code)


class ValueSets:
    """Which value sets hold each (system, code), codes spelled as evidence spells them."""

    def __init__(self) -> None:
        self._members: dict[tuple[str, str], set[str]] = {}
        self._prefixes: dict[tuple[str, str], set[str]] = {}
        self._seen: dict[tuple[tuple[str, str], ...], frozenset[str]] = {}
        self.titles: dict[str, str] = {}

    @classmethod
    def from_resources(cls, resources: Iterable[Mapping[str, Any]]) -> ValueSets:
        """An index of FHIR ValueSet resources' expansions."""
        index = cls()
        for resource in resources:
            index.add(resource)
        return index

    def add(self, valueset: Mapping[str, Any]) -> None:
        """Add one ValueSet resource's expansion (nested `contains` included)."""
        if valueset.get("resourceType") != "ValueSet":
            raise ValueSetError("not a FHIR ValueSet")
        oid = oid_of(str(valueset.get("url") or valueset.get("id", "")))
        self.titles[oid] = str(valueset.get("title") or valueset.get("name") or oid)
        stack = list(valueset.get("expansion", {}).get("contains", []))
        while stack:
            item = stack.pop()
            stack.extend(item.get("contains", []))
            if item.get("code"):
                key = code_key(str(item.get("system", "")), str(item["code"]))
                self._members.setdefault(key, set()).add(oid)

    def __contains__(self, oid: object) -> bool:
        return oid in self.titles

    def oids(self, system: str, code: str) -> frozenset[str]:
        """The value sets holding a code spelled as evidence spells it."""
        found = self._members.get((system, code), set())
        if self._prefixes and system == "ICD10CM":
            found = found | {
                oid for n in range(3, len(code) + 1) for oid in self._prefixes.get((system, code[:n]), ())
            }
        return frozenset(found)

    def knows(self, system: str, code: str) -> bool:
        """Whether any value set holds the code."""
        return bool(self.oids(system, code))

    def oids_of(self, codes: tuple[tuple[str, str], ...]) -> frozenset[str]:
        """The value sets holding any of the codes (remembered: the same codes recur across members)."""
        found = self._seen.get(codes)
        if found is None:
            found = frozenset().union(*(self.oids(*pair) for pair in codes))
            if len(self._seen) > 200_000:
                self._seen.clear()
            self._seen[codes] = found
        return found

    def with_codes(self, additions: Mapping[str, Iterable[tuple[str, str]]]) -> ValueSets:
        """A copy in which each OID also holds the given (system, code) pairs; ICD-10-CM codes match by
        prefix (`E11` holds `E119`), as the menus' code sets do."""
        copy = ValueSets()
        copy._members = {key: set(oids) for key, oids in self._members.items()}
        copy._prefixes = {key: set(oids) for key, oids in self._prefixes.items()}
        copy.titles = dict(self.titles)
        for oid, pairs in additions.items():
            copy.titles.setdefault(oid, oid)
            for system, code in pairs:
                key = code_key(system, code)
                table = copy._prefixes if key[0] == "ICD10CM" else copy._members
                table.setdefault(key, set()).add(oid)
        return copy


def load_valuesets(folder: Path) -> ValueSets:
    """Every ValueSet expansion (`*.json`) in a folder, e.g. the CMS decks' `valuesets/`."""
    if not folder.is_dir():
        raise ValueSetError(f"value set folder not found: {folder}")
    resources = []
    for path in sorted(folder.glob("*.json")):
        try:
            resources.append(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise ValueSetError(f"{path.name}: not JSON") from exc
    try:
        return ValueSets.from_resources(resources)
    except ValueSetError as exc:
        raise ValueSetError(f"{folder}: {exc}") from None
