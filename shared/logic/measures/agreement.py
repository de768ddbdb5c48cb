"""Agreement with the CMS test decks: `python -m shared.logic.measures.agreement` prints the table."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cache

from shared.logic.measures.deck import DeckCase, load_cases, valuesets_dir
from shared.logic.measures.exclusions import EXCLUDED_CASES
from shared.logic.measures.registry import get_measure
from shared.logic.measures.valuesets import ValueSetIndex


@cache
def deck_valuesets() -> ValueSetIndex:
    """The decks' value sets, loaded once per process."""
    return ValueSetIndex.load(valuesets_dir())


def actual_counts(case: DeckCase) -> tuple[dict[str, int], ...]:
    """The engine's counts for a case, per group, limited to the populations the expected report lists."""
    result = get_measure(case.measure).evaluate(case.record(), case.period, deck_valuesets())
    out = []
    for expected, group in zip(case.expected, result.groups, strict=False):
        counts = group.counts()
        out.append({code: counts.get(code, 0) for code in expected})
    return tuple(out)


def agrees(case: DeckCase) -> bool:
    """Whether every population of every group matches the expected report."""
    return len(actual_counts(case)) == len(case.expected) and actual_counts(case) == case.expected


@dataclass
class MeasureAgreement:
    """One measure's tally."""

    measure: str
    program_code: str
    cases: int = 0
    agreeing: int = 0
    excluded: list[tuple[str, str]] = field(default_factory=list)
    disagreeing: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float:
        evaluated = self.cases - len(self.excluded)
        return 100.0 * self.agreeing / evaluated if evaluated else 100.0


def tally() -> list[MeasureAgreement]:
    """Run every deck case and tally the agreement per measure."""
    rows: dict[str, MeasureAgreement] = {}
    for case in load_cases():
        row = rows.setdefault(
            case.measure, MeasureAgreement(case.measure, get_measure(case.measure).program_code)
        )
        row.cases += 1
        if case.label in EXCLUDED_CASES:
            row.excluded.append((case.label, EXCLUDED_CASES[case.label]))
        elif agrees(case):
            row.agreeing += 1
        else:
            row.disagreeing.append(f"{case.case_id} {case.name}")
    return list(rows.values())


def render(rows: list[MeasureAgreement]) -> str:
    """The agreement table (Markdown) and the list of excluded cases."""
    lines = [
        "| Measure | Code | Cases | Agreeing | Excluded | Agreement (of evaluated) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    total = agreeing = excluded = 0
    for row in rows:
        lines.append(
            f"| {row.measure} | {row.program_code} | {row.cases} | {row.agreeing} | {len(row.excluded)} "
            f"| {row.percent:.1f}% |"
        )
        total, agreeing, excluded = total + row.cases, agreeing + row.agreeing, excluded + len(row.excluded)
    evaluated = total - excluded
    overall = 100.0 * agreeing / evaluated if evaluated else 100.0
    lines.append(f"| **All** | | {total} | {agreeing} | {excluded} | {overall:.1f}% |")
    lines.append("")
    lines.append("Excluded cases:")
    lines.append("")
    listed = [item for row in rows for item in row.excluded]
    lines.extend(f"- `{label}`: {reason}" for label, reason in listed)
    if not listed:
        lines.append("- none")
    disagreeing = [f"{row.measure}: {item}" for row in rows for item in row.disagreeing]
    if disagreeing:
        lines.append("")
        lines.append("Disagreeing cases:")
        lines.append("")
        lines.extend(f"- {item}" for item in disagreeing)
    return "\n".join(lines)


def main() -> int:
    """Print the agreement table; exit 1 when the decks are absent."""
    if not load_cases():
        print("no eCQM decks found: set P4P_ECQM_DIR or place them at ../shared/ecqm", file=sys.stderr)
        return 1
    print(render(tally()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
