"""The app's synthesized template, kept between runs: synthesis is seconds of CDK, the same every time
the app and its inputs have not changed.

An entry is `build/local-synth/<stage>-<key>.json`, the template (the state machine definitions are in it,
as `DefinitionString`s). The key is a digest of everything synthesis reads: the stage, every file of
`infra/`, the code packages whose digest names the Lambda asset (`shared/`, `functions/`), `cdk.json`,
`pyproject.toml` and `package-lock.json`, the CDK's installed versions, the CDK environment variables and
the CDK context the runtime adds (the demo's `member_buckets`).
Change any of them and the app is synthesized again; `make clean` (or deleting `build/`) empties the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / "build" / "local-synth"
SOURCES = ("infra", "shared", "functions")
FILES = ("cdk.json", "pyproject.toml", "package-lock.json")
PACKAGES = ("aws-cdk-lib", "constructs", "cdk-nag", "jsii")
ENVIRONMENT = ("CDK_CONTEXT_JSON", "CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_OUTDIR")
KEPT = 4
"""Entries kept per stage: the newest, and a few a branch switch may come back to."""


def _files(root: Path) -> Iterator[Path]:
    for package in SOURCES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield path
    for name in FILES:
        if (root / name).is_file():
            yield root / name


def synth_key(stage: str, root: Path = REPO_ROOT, context: dict[str, Any] | None = None) -> str:
    """The digest of everything the stage's synthesis reads (`context`: CDK context added to cdk.json's)."""
    digest = hashlib.sha256(f"stage={stage}\npython={sys.version_info[:2]}\n".encode())
    if context:
        digest.update(f"context={json.dumps(context, sort_keys=True)}\n".encode())
    for path in _files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for package in PACKAGES:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{package}=={version}\n".encode())
    for name in ENVIRONMENT:
        digest.update(f"{name}={os.environ.get(name, '')}\n".encode())
    return digest.hexdigest()[:20]


def cached_template(
    stage: str,
    synthesize: Callable[[str], dict[str, Any]],
    *,
    cache_dir: Path = CACHE_DIR,
    root: Path = REPO_ROOT,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The stage's template: from the cache when its key matches, else `synthesize(stage)`, kept there. A
    cache that cannot be read or written is passed by: the template is synthesized as if there were none.
    `context` is the CDK context `synthesize` adds, part of the key."""
    entry = cache_dir / f"{stage}-{synth_key(stage, root, context)}.json"
    try:
        return dict(json.loads(entry.read_text()))
    except (OSError, ValueError):
        pass
    template = synthesize(stage)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed into place: a run reading the entry never sees half of it.
        handle, staging = tempfile.mkstemp(prefix=".staging-", dir=cache_dir)
        with os.fdopen(handle, "w") as out:
            json.dump(template, out)
        os.replace(staging, entry)
        _prune(cache_dir, stage, keep=entry)
    except OSError:
        pass
    return template


def _prune(cache_dir: Path, stage: str, *, keep: Path) -> None:
    entries = sorted(cache_dir.glob(f"{stage}-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in [e for e in entries if e != keep][KEPT - 1 :]:
        stale.unlink(missing_ok=True)
