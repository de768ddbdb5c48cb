"""The import rules of docs/architecture.md, enforced on the source: every `import` of every module,
including imports inside functions, read from its syntax tree."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = ("shared", "functions", "infra")
OURS = ("shared", "functions", "infra", "cli", "tests", "bench")
AWS_SDK = ("boto3", "botocore", "aioboto3")

LEAVES = {"shared.clock", "shared.errors", "shared.csv_cells"}  # import nothing of ours; all of `shared` may
# package (longest prefix wins) -> the packages of ours it may import (besides the leaves)
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "shared.models": ("shared.models",),
    "shared.programs": ("shared.models", "shared.programs"),
    "shared.logic": ("shared.models", "shared.programs", "shared.logic"),
    "shared.intake": ("shared.models", "shared.programs", "shared.intake"),
    "shared.render": ("shared.models", "shared.programs", "shared.logic", "shared.render"),
    "shared.dal": ("shared.models", "shared.dal"),
    "shared.services": ("shared",),
    "shared.observability": (),
    "shared.clock": (),
    "shared.errors": (),
    "shared.csv_cells": (),
    "functions": ("shared", "functions"),
    "infra": ("shared.models.tables", "infra"),
}
SDK_ALLOWED = ("shared.dal", "infra")
FAKES = "shared.dal.memory"  # and its siblings shared.dal.memory_*, fakes too


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # what it imports (absolute)
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[Import]:
    module = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append(Import(module, "." * node.level + (node.module or ""), node.lineno))
                continue
            base = node.module or ""
            # `from shared import clock` imports shared.clock; `from a.b import X` is checked as a.b too.
            found += [Import(module, f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _production_imports() -> list[Import]:
    found = []
    for package in PRODUCTION:
        for path in sorted((REPO / package).rglob("*.py")):
            found += _imports(path)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _rule_for(module: str) -> tuple[str, tuple[str, ...]]:
    owners = [p for p in MAY_IMPORT if _within(module, p)]
    assert owners, f"{module} is in no package of docs/architecture.md's table"
    owner = max(owners, key=len)
    return owner, MAY_IMPORT[owner]


def _is_fake(name: str) -> bool:
    return name.startswith(FAKES)


def _ours(target: str) -> bool:
    return target.split(".")[0] in OURS


def _allowed(module: str, target: str) -> bool:
    _, allowed = _rule_for(module)
    if module.startswith("shared") and any(_within(target, leaf) for leaf in LEAVES):
        return not any(_within(module, leaf) for leaf in LEAVES)
    if _within(target, "shared.observability"):
        return _within(module, "shared.services") or _within(module, "functions")
    # `from shared.models.tables import X` names X inside the allowed module.
    return any(_within(target, a) or _within(target.rsplit(".", 1)[0], a) for a in allowed)


def test_every_production_module_is_in_a_package_of_the_table():
    modules = {i.module for i in _production_imports()}
    assert modules, "no production modules found"
    for module in modules:
        _rule_for(module)


def test_no_relative_imports():
    relative = [i for i in _production_imports() if i.target.startswith(".")]
    assert relative == []


def test_each_package_imports_only_what_the_architecture_allows():
    broken = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in _production_imports()
        if _ours(i.target) and not _allowed(i.module, i.target)
    ]
    assert broken == []


def test_only_the_data_access_layer_and_infra_import_the_aws_sdk():
    broken = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in _production_imports()
        if i.target.split(".")[0] in AWS_SDK and not any(_within(i.module, p) for p in SDK_ALLOWED)
    ]
    assert broken == []


def test_no_production_module_imports_the_in_memory_fakes():
    users = [
        f"{i.module}:{i.line}" for i in _production_imports() if _is_fake(i.target) and not _is_fake(i.module)
    ]
    cli_users = [
        f"{i.module}:{i.line}"
        for path in sorted((REPO / "cli").rglob("*.py"))
        for i in _imports(path)
        if _is_fake(i.target)
    ]
    assert users == [] and cli_users == []


@pytest.mark.parametrize(
    ("module", "target", "expected"),
    [
        ("shared.logic.awards", "boto3", False),
        ("shared.logic.awards", "shared.dal.ledger.DynamoLedgerRepository", False),
        ("shared.logic.awards", "shared.services.runs.RunService", False),
        ("shared.logic.awards", "shared.programs.care_gap.CareGapProgram", True),
        ("shared.models.ledger", "shared.programs.care_gap", False),
        ("shared.dal.runs", "shared.clock", True),
        ("shared.clock", "shared.errors", False),
        ("infra.stack", "shared.models.tables.Prefix", True),
        ("infra.stack", "shared.models.runs.Run", False),
        ("functions.runs.common", "cli.main", False),
        ("shared.intake.reader", "shared.observability.logger", False),
    ],
)
def test_the_rules_themselves_refuse_what_the_table_forbids(module, target, expected):
    # The checker is only worth something if it says no: known-bad imports are refused.
    if target.split(".")[0] in AWS_SDK:
        assert any(_within(module, p) for p in SDK_ALLOWED) is expected
    else:
        assert _allowed(module, target) is expected
