"""The one code asset every function shares, built without Docker.

`pip install --platform ... --only-binary=:all: --target` fetches Linux x86_64 CPython 3.11 wheels on any
host, so `cdk synth` needs neither Docker nor a Lambda-like build image. Dependencies are installed once per
dependency list (the directory name is a hash of it) and hard-linked into each asset directory, so a re-synth
after a source change costs a copy of `shared/` and `functions/` only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from aws_cdk import AssetHashType
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO_ROOT / "build"
SOURCE_PACKAGES = ("shared", "functions")
PYTHON_VERSION = "3.11"
PIP_PLATFORM = "manylinux2014_x86_64"
STALE_AFTER_SECONDS = 600  # leave a concurrent synth's directory alone while it may still be copying it
# Lambda's interpreter compiles bytecode at import time; .pyc files from the build host only add size.
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


class PackagingError(RuntimeError):
    """The dependency install for the Lambda asset failed."""


def runtime_dependencies(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The `[project].dependencies` of pyproject.toml: what the functions import at run time."""
    with pyproject.open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _source_digest(root: Path = REPO_ROOT) -> str:
    digest = hashlib.sha256()
    for package in SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(path.relative_to(root).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _publish(staging: Path, final: Path) -> None:
    """Move a fully built directory into place; a concurrent builder that won the race is fine."""
    try:
        staging.rename(final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(staging, ignore_errors=True)


def _copy_sources(target: Path) -> None:
    for package in SOURCE_PACKAGES:
        shutil.copytree(REPO_ROOT / package, target / package, ignore=_IGNORED)


def install_dependencies(requirements: list[str], build_dir: Path = BUILD_DIR) -> Path:
    """Install the Linux wheels of `requirements` into a directory cached on their hash; return it."""
    final = build_dir / "lambda-deps" / _digest(PIP_PLATFORM, PYTHON_VERSION, *sorted(requirements))
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=final.parent))
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--platform", PIP_PLATFORM, "--only-binary=:all:", "--python-version", PYTHON_VERSION,
        "--implementation", "cp", "--target", str(staging), *requirements,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise PackagingError(f"pip install for the Lambda asset failed:\n{result.stderr[-4000:]}")
    for record in staging.glob("*.dist-info/RECORD"):
        record.unlink()  # file hashes of the build host's paths; only `pip uninstall` reads them
    shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: nothing in Lambda runs them
    _publish(staging, final)
    return final


def build_full_asset(build_dir: Path = BUILD_DIR) -> Path:
    """Assemble dependencies + `shared/` + `functions/` into a content-addressed directory; return it."""
    deps = install_dependencies(runtime_dependencies(), build_dir)
    final = build_dir / f"lambda-asset-{_digest(deps.name, _source_digest())}"
    if not final.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=build_dir))
        shutil.rmtree(staging)
        # Hard links: the dependencies are ~220 MB and never modified in place.
        shutil.copytree(deps, staging, copy_function=os.link)
        _copy_sources(staging)
        _publish(staging, final)
    _prune(build_dir, "lambda-asset-*", keep=final)
    return final


def build_source_asset(build_dir: Path = BUILD_DIR) -> Path:
    """A directory with only `shared/` and `functions/`: enough for a template, fast to synthesize."""
    final = build_dir / f"lambda-src-{_source_digest()}"
    if not final.is_dir():
        build_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=build_dir))
        _copy_sources(staging)
        _publish(staging, final)
    _prune(build_dir, "lambda-src-*", keep=final)
    return final


def _prune(build_dir: Path, pattern: str, *, keep: Path) -> None:
    cutoff = time.time() - STALE_AFTER_SECONDS
    for stale in build_dir.glob(pattern):
        if stale != keep and stale.stat().st_mtime < cutoff:
            shutil.rmtree(stale, ignore_errors=True)


def function_code(*, package_assets: bool) -> lambda_.Code:
    """The shared code asset: the real package when `package_assets`, else the sources alone."""
    directory = build_full_asset() if package_assets else build_source_asset()
    # The directory name already is a content hash, so CDK need not re-hash 220 MB on every synth.
    return lambda_.Code.from_asset(
        str(directory), asset_hash_type=AssetHashType.CUSTOM, asset_hash=directory.name
    )
