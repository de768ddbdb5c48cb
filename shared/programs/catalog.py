"""Every program the engine runs, each a catalog of versions: Care Gap P4P, Benchmark P4P and APC.

A version file names its program (`"program": "care_gap"`); packaged files live under
`shared/programs/data/<program>/`, a plan's under the curated bucket's `programs/<program>/`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from shared.programs.apc import ApcCatalog, ApcProgram, load_apc
from shared.programs.benchmark import BenchmarkCatalog, BenchmarkProgram, load_benchmark
from shared.programs.care_gap import DATA_DIR, CareGapProgram, ProgramCatalog, load_catalog
from shared.programs.versions import VersionCatalog, VersionedProgram

MODELS: dict[str, type[VersionedProgram]] = {
    "care_gap": CareGapProgram,
    "benchmark": BenchmarkProgram,
    "apc": ApcProgram,
}
"""The programs a version file may name, and the model each is validated with."""


@dataclass(frozen=True)
class Programs:
    """One catalog per program."""

    care_gap: ProgramCatalog
    benchmark: BenchmarkCatalog
    # Defaults to the packaged versions, so a caller naming only the first two still has APC's tables.
    apc: ApcCatalog = field(default_factory=load_apc)

    def of(self, program: str) -> VersionCatalog[Any]:
        """The catalog of a program by name; KeyError naming the programs there are."""
        if program not in MODELS:
            raise KeyError(f"unknown program {program!r}; the programs are {', '.join(MODELS)}")
        catalog: VersionCatalog[Any] = getattr(self, program)
        return catalog

    @classmethod
    def of_versions(cls, versions: Iterable[VersionedProgram]) -> Programs:
        """Programs whose catalogs hold exactly these versions (each in its program's catalog)."""
        found = list(versions)
        return cls(
            care_gap=ProgramCatalog(v for v in found if isinstance(v, CareGapProgram)),
            benchmark=BenchmarkCatalog(v for v in found if isinstance(v, BenchmarkProgram)),
            apc=ApcCatalog(v for v in found if isinstance(v, ApcProgram)),
        )

    @property
    def versions(self) -> tuple[VersionedProgram, ...]:
        """Every version of every program."""
        return (*self.care_gap.versions, *self.benchmark.versions, *self.apc.versions)


class ProgramSet(Protocol):
    """What services read of the programs: `Programs`, or the stored ones kept current."""

    @property
    def care_gap(self) -> ProgramCatalog: ...

    @property
    def benchmark(self) -> BenchmarkCatalog: ...

    @property
    def apc(self) -> ApcCatalog: ...


def parse_version(raw: Mapping[str, Any]) -> VersionedProgram:
    """Validate one version file's object by the program it names (ValueError for an unknown one)."""
    program = raw.get("program")
    model = MODELS.get(str(program))
    if model is None:
        raise ValueError(f"program must be one of {', '.join(MODELS)}, got {program!r}")
    return model.model_validate(dict(raw))


@lru_cache(maxsize=4)
def load_programs(data_dir: Path = DATA_DIR) -> Programs:
    """Every packaged program version, validated."""
    return Programs(
        care_gap=load_catalog(data_dir), benchmark=load_benchmark(data_dir), apc=load_apc(data_dir)
    )
