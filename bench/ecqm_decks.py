"""Agreement with the CMS eCQM test decks through the payment path, and how long it takes.

Every deck case's FHIR resources go through the intake's FHIR mapping and the evidence extraction into
the member's evidence; the measure engine computes the populations from that evidence and they are
compared with the expected MeasureReport (`cli.ecqm_decks`). The percentage is of every case, the
explained exclusions (`shared/logic/measures/exclusions.py`) counting as not agreeing. Needs the decks
at `../shared/ecqm` (or `P4P_ECQM_DIR`); without them the benchmark reports nothing.
"""

from __future__ import annotations

import sys

from bench.registry import BenchContext, Figure, benchmark, measure


@benchmark("ecqm_decks", order=60)
def ecqm_deck_agreement(ctx: BenchContext) -> list[Figure]:
    from cli.ecqm_decks import ENV_VAR, deck_valuesets, ecqm_dir, load_cases, tally, totals

    cases = load_cases()
    if not cases:
        print(f"ecqm_decks: no decks at {ecqm_dir()} (set {ENV_VAR}); skipped", file=sys.stderr)
        return []
    deck_valuesets()  # loading the expansions is setup, not scoring
    with measure() as timing:
        rows = tally(cases)
    total, agreeing, excluded = totals(rows)
    return [
        Figure("ecqm_deck_agreement_percent", round(100.0 * agreeing / total, 2), "%"),
        Figure("ecqm_deck_cases", total, "cases"),
        Figure("ecqm_deck_cases_agreeing", agreeing, "cases"),
        Figure("ecqm_deck_cases_excluded", excluded, "cases"),
        Figure("ecqm_deck_ms_per_case", round(1000 * timing.wall_seconds / total, 2), "ms"),
    ]
