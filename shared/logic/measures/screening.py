"""Cancer screenings: breast (CMS125 BCS-E), cervical (CMS124 CCS-E), colorectal (CMS130 COL-E)."""

from __future__ import annotations

from datetime import date

from shared.logic.measures.common import common_exclusions, has_hospice, has_palliative_care
from shared.logic.measures.context import (
    Ctx,
    Window,
    ends_by,
    ends_within,
    prevalence_starts_by,
    span,
)
from shared.logic.measures.outcome import MeasureOutcome, proportion
from shared.programs.measures import (
    BreastCancerScreening,
    CervicalCancerScreening,
    ColorectalCancerScreening,
    MeasureDefinition,
    ScreeningTest,
)


def encounter_specs(ctx: Ctx, definition: MeasureDefinition) -> list[str]:
    """The qualifying encounter value sets a definition names (its own, else the shared ones)."""
    return [
        ctx.common.valuesets[name] if name in ctx.common.valuesets else definition.oid(name)
        for name in definition.qualifying_encounters
    ]


def in_age_band(ctx: Ctx, definition: MeasureDefinition) -> bool:
    """Age at the period's start or end within the definition's band, and its gender when it names one."""
    band = definition.age
    if band is not None:
        age = ctx.age_at_end() if band.at == "end" else ctx.age_at_start()
        if not band.holds(age):
            return False
    return definition.gender is None or ctx.gender == definition.gender


def has_visit(ctx: Ctx, definition: MeasureDefinition) -> bool:
    """A qualifying encounter in the period; a definition that names none (a program rating its assigned
    members) asks for no visit."""
    if not definition.qualifying_encounters:
        return True
    return ctx.has_qualifying_encounter(encounter_specs(ctx, definition))


def initial_population(ctx: Ctx, definition: MeasureDefinition) -> bool:
    """In the age band, and a qualifying encounter in the period."""
    return in_age_band(ctx, definition) and has_visit(ctx, definition)


# ---- BCS ---------------------------------------------------------------------------------------------
def _mastectomy(ctx: Ctx, d: BreastCancerScreening, side: str) -> bool:
    status_post = d.oid(f"status_post_{side}_mastectomy")
    for condition in ctx.conditions(status_post, d.oid("unilateral_mastectomy_unspecified")):
        lateral = ctx.matches(condition.codes, [status_post]) or ctx.matches(
            condition.body_site, [d.left if side == "left" else d.right]
        )
        if lateral and prevalence_starts_by(condition, ctx.last):
            return True
    return any(ends_by(p, ctx.last) for p in ctx.procedures(d.oid(f"unilateral_mastectomy_{side}")))


def _bilateral_mastectomy(ctx: Ctx, d: BreastCancerScreening) -> bool:
    if any(prevalence_starts_by(c, ctx.last) for c in ctx.conditions(d.oid("history_bilateral_mastectomy"))):
        return True
    if any(ends_by(p, ctx.last) for p in ctx.procedures(d.oid("bilateral_mastectomy"))):
        return True
    return _mastectomy(ctx, d, "right") and _mastectomy(ctx, d, "left")


def evaluate_bcs(ctx: Ctx, d: BreastCancerScreening, year: int) -> MeasureOutcome:
    """CMS125 Breast Cancer Screening: a mammogram from October two years before through the period."""
    start = d.numerator_window_start
    window = Window(date(ctx.first.year - start.years_before, start.month, start.day), ctx.last)

    def numerator() -> bool:
        return any(ends_within(o, window) for o in ctx.observations(d.oid("mammography")))

    group = proportion(
        initial_population(ctx, d),
        lambda: common_exclusions(ctx) or _bilateral_mastectomy(ctx, d),
        numerator,
    )
    return MeasureOutcome(d.name, year, (group,))


# ---- CCS ---------------------------------------------------------------------------------------------
def _screened(ctx: Ctx, valueset: str, rule: ScreeningTest) -> bool:
    window = ctx.years_before(rule.years_before)
    for obs in ctx.observations(valueset):
        found = span(obs)
        if found is None or found.last is None or not obs.has_value:
            continue
        age = ctx.age_at(found.first if found.first else found.last)
        if ends_within(obs, window) and age is not None and age >= rule.min_age_at_test:
            return True
    return False


def evaluate_ccs(ctx: Ctx, d: CervicalCancerScreening, year: int) -> MeasureOutcome:
    """CMS124 Cervical Cancer Screening: cytology in 3 years, or HPV testing from 30 in 5 years."""

    def exclusion() -> bool:
        if has_hospice(ctx) or has_palliative_care(ctx):
            return True
        if any(ends_by(p, ctx.last) for p in ctx.procedures(d.oid("hysterectomy_no_residual_cervix"))):
            return True
        return any(prevalence_starts_by(c, ctx.last) for c in ctx.conditions(d.oid("absence_of_cervix")))

    def numerator() -> bool:
        return _screened(ctx, d.oid("pap_test"), d.cytology) or _screened(ctx, d.oid("hpv_test"), d.hpv)

    return MeasureOutcome(d.name, year, (proportion(initial_population(ctx, d), exclusion, numerator),))


# ---- COL ---------------------------------------------------------------------------------------------
def evaluate_col(ctx: Ctx, d: ColorectalCancerScreening, year: int) -> MeasureOutcome:
    """CMS130 Colorectal Cancer Screening: any of five screenings, each within its own lookback."""

    def exclusion() -> bool:
        if common_exclusions(ctx):
            return True
        if any(prevalence_starts_by(c, ctx.last) for c in ctx.conditions(d.oid("malignant_neoplasm_colon"))):
            return True
        return any(ends_by(p, ctx.last) for p in ctx.procedures(d.oid("total_colectomy")))

    def numerator() -> bool:
        for rule in d.screenings:
            window = ctx.years_before(rule.years_before)
            oid = d.oid(rule.valueset)
            if rule.kind == "procedure":
                if any(ends_within(p, window) for p in ctx.procedures(oid)):
                    return True
                continue
            for obs in ctx.observations(oid):
                if rule.needs_value and not obs.has_value:
                    continue
                if ends_within(obs, window):
                    return True
        return False

    return MeasureOutcome(d.name, year, (proportion(initial_population(ctx, d), exclusion, numerator),))
