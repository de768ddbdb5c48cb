"""Reading the marked blocks of docs/apc-incentive.md and docs/apc.md, so tests can hold the docs to what
the calculators do."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[3] / "docs"


def block(doc: str, name: str) -> str:
    """The text between `<!-- name -->` and `<!-- /name -->` in `docs/<doc>`."""
    found = re.search(
        rf"<!-- {re.escape(name)} -->\n(.*?)\n<!-- /{re.escape(name)} -->", (DOCS / doc).read_text(), re.S
    )
    assert found, f"docs/{doc} has no <!-- {name} --> block"
    return found.group(1)


def example(doc: str, name: str) -> Any:
    """The JSON of the fenced block marked `example:<name>`."""
    text = block(doc, f"example:{name}")
    fenced = re.fullmatch(r"```json\n(.*)\n```", text, re.S)
    assert fenced, f"the example:{name} block of docs/{doc} is not one ```json block"
    return json.loads(fenced.group(1))
