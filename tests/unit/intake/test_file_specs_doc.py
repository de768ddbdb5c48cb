import re
from pathlib import Path

import pytest

from shared.intake import SCHEMAS
from shared.models.files import FileKind

DOC = Path(__file__).resolve().parents[3] / "docs" / "file-specs.md"


def _documented_columns(kind: FileKind) -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    section = re.search(rf"^## {kind.value}\b.*?(?=^## |\Z)", text, flags=re.M | re.S)
    assert section is not None, f"no section for {kind.value}"
    names: set[str] = set()
    in_columns = False
    for line in section.group(0).splitlines():
        first = line.strip().strip("|").split("|")[0].strip()
        if not line.startswith("|") or first == "column":
            in_columns = first == "column"
            continue
        if not in_columns or set(first) <= {"-"}:
            continue
        ranged = re.fullmatch(r"(\w+?)(\d+) … \w+?(\d+)", first)
        if ranged:
            stem, low, high = ranged.groups()
            names |= {f"{stem}{i}" for i in range(int(low), int(high) + 1)}
        else:
            names |= {n.strip() for n in first.split(",")}
    return names


@pytest.mark.parametrize("kind", sorted(SCHEMAS, key=str), ids=str)
def test_the_file_spec_documents_exactly_the_schema_columns(kind: FileKind) -> None:
    # GIVEN a kind's schema and its table in docs/file-specs.md
    # WHEN the documented column names are read
    documented = _documented_columns(kind)
    # THEN they are exactly the schema's columns
    assert documented == set(SCHEMAS[kind].names)
