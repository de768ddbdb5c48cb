"""What designing a program reads back (issue 14 §2, §3; `docs/program-design.md`): each provider's baseline
rate per measure, the distribution of those rates, a year re-run under another program file against what
was paid, and a program year's payouts projected against its funding pool."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, computed_field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProviderBaseline(_Model):
    """One provider's (clinic's) rate of one measure in a past year, counted as the annual run counts it.

    `line_of_business` is "" for APC, whose practice rates span the lines. `unit` is `percent` for a
    proportion (which then has a 95% Wilson score interval, `ci_low`..`ci_high`, in percent), or APC's
    `per_1000_member_years` / `dollars_pmpm` (no interval). A small panel keeps its rate and interval and is
    flagged (`small_panel`, `note` says which minimum it is under); `counted` says whether the rate is in
    the distribution the proposed benchmarks come from (a rate, and no small panel)."""

    clinic_id: str
    line_of_business: str
    measure: str
    component: str = ""
    unit: str
    denominator: int
    numerator: int
    rate: Decimal | None
    ci_low: Decimal | None = None
    ci_high: Decimal | None = None
    small_panel: bool
    counted: bool
    note: str = ""


class MeasureDistribution(_Model):
    """The counted rates of one measure (or DSF-E component) at each percentile picked (nearest rank; an
    inverse measure's percentiles run from its worst rate to its best), with the program's current levels
    and the ones proposed (`benchmark` for Benchmark P4P; `mpt`, `threshold`, `gold` for APC)."""

    measure: str
    component: str = ""
    unit: str
    inverse: bool
    providers: int
    small_panels: int
    percentiles: dict[str, Decimal | None]
    current: dict[str, Decimal]
    proposed: dict[str, Decimal]
    note: str = ""


class BaselineReport(_Model):
    """Baselines of a year and the benchmarks proposed from them (the program file is written beside)."""

    program: str
    year: int
    base_version: str
    proposed_version: str
    for_year: int
    percentiles: tuple[Decimal, ...]
    method: str
    interval: str
    members: int
    providers: tuple[ProviderBaseline, ...]
    measures: tuple[MeasureDistribution, ...]
    notes: tuple[str, ...] = ()


class ClinicDifference(_Model):
    """One clinic's year: what the final runs paid, what the other program file would have paid."""

    clinic_id: str
    paid_cents: int
    whatif_cents: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def difference_cents(self) -> int:
        return self.whatif_cents - self.paid_cents


class WhatIfResult(_Model):
    """A year re-run under another program file, against what its final runs paid (nothing is written).

    `scope` names what was re-run and compared (`svu_awards`, `guarantee`, `benchmark`, `apc_element3`);
    `paid_runs` are the final runs whose entries were compared; `through` is the last month counted."""

    program: str
    version: str
    replaces: tuple[str, ...]
    year: int
    through: str
    scope: tuple[str, ...]
    members: int
    paid_runs: tuple[str, ...]
    clinics: tuple[ClinicDifference, ...]
    pool_cents: int | None = None
    notes: tuple[str, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def paid_cents(self) -> int:
        return sum(c.paid_cents for c in self.clinics)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def whatif_cents(self) -> int:
        return sum(c.whatif_cents for c in self.clinics)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def difference_cents(self) -> int:
        return self.whatif_cents - self.paid_cents


class PoolProjection(_Model):
    """A program year's payouts set against its funding pool when a run is up for approval: paid so far
    (approved and paid final runs of the year), this run, and the rest of the year projected at this run
    kind's average so far over the periods still to come."""

    program: str
    version: str
    year: int
    run_id: str
    pool_cents: int
    paid_cents: int
    run_cents: int
    projected_rest_cents: int
    periods_left: int
    refuses_approval: bool
    warning: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def projected_cents(self) -> int:
        return self.paid_cents + self.run_cents + self.projected_rest_cents

    @computed_field  # type: ignore[prop-decorator]
    @property
    def over_by_cents(self) -> int:
        return max(0, self.projected_cents - self.pool_cents)

    @property
    def exceeds(self) -> bool:
        return self.over_by_cents > 0
