"""A clinic's value-based performance for a year, from the ledger, as Da Vinci VBPR MeasureReports: one per
payer, with a group per payment stream giving its earned incentive (USD, to the cent) and a group giving
the clinic's member months.

A ledger entry's stream is what its basis pays: an SVU award is Care Gap P4P, a measure incentive its
scheme's (Benchmark, APC), a guarantee top-up the Care Gap earnings guarantee. Earned is EARN plus
REVERSAL of the year's entries (an entry's period starts with its measurement year); carried balances
move money between runs and earn nothing, so they are left out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.logic.annual_incentives import months_assigned
from shared.logic.fhir_export.codes import (
    CARE_GAP_SVU,
    EARNED_INCENTIVE,
    GUARANTEE,
    MEMBER_MONTHS,
    REPORT_CATEGORY_EXTENSION,
    REPORT_CATEGORY_SYSTEM,
    STREAMS,
    VBPR_ALTERNATE_SCORE_EXTENSION,
    VBPR_METRIC_SYSTEM,
    VBPR_ORGANIZATION_SUBJECT_EXTENSION,
    VBPR_PAYMENT_STREAM_EXTENSION,
    VBPR_PAYMENT_STREAM_SYSTEM,
    VBPR_PROFILE,
    Naming,
)
from shared.logic.fhir_export.resources import (
    Resource,
    clinic_reference,
    coding,
    concept,
    money,
    reference,
    resource_id,
    timestamp,
    year_period,
)
from shared.models.ledger import GuaranteeTopUp, LedgerEntry, MeasureIncentive, SvuAward
from shared.models.members import MemberFacts

UNKNOWN_STREAM = ("qip", "Quality incentive payment")
"""What VBPR calls a stream the engine has no entry for in `STREAMS` (a new program's scheme)."""


def payment_stream(entry: LedgerEntry) -> str | None:
    """The engine's payment stream an entry belongs to; None for a carried balance (it earns nothing)."""
    basis = entry.basis
    if isinstance(basis, SvuAward):
        return CARE_GAP_SVU
    if isinstance(basis, MeasureIncentive):
        return basis.scheme
    if isinstance(basis, GuaranteeTopUp):
        return GUARANTEE
    return None


def member_months(members: Iterable[MemberFacts], year: int) -> dict[str, dict[str, int]]:
    """Per clinic and line of business, the months of `year` its members were assigned to it (a month
    counts when the member was assigned on any day of it, as the 9-of-12 rule counts)."""
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for facts in members:
        for (clinic_id, line), months in months_assigned(facts.spans, year).items():
            totals[clinic_id][line] += months
    return {clinic_id: dict(sorted(lines.items())) for clinic_id, lines in sorted(totals.items())}


def _stream_concept(stream: str, naming: Naming) -> dict[str, Any]:
    display, code, code_display = STREAMS.get(stream, (stream, *UNKNOWN_STREAM))
    return concept(
        coding(VBPR_PAYMENT_STREAM_SYSTEM, code, code_display),
        coding(naming.code_system("payment-stream"), stream, display),
        text=display,
    )


def _money_score(cents: int) -> dict[str, Any]:
    return {"extension": [{"url": VBPR_ALTERNATE_SCORE_EXTENSION, "valueMoney": money(cents)}]}


def _line_stratifier(naming: Naming, strata: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "code": [
                concept(coding(naming.code_system("stratifier"), "line-of-business"), text="line of business")
            ],
            "stratum": [
                {
                    "value": concept(coding(naming.code_system("line-of-business"), line), text=line),
                    "measureScore": score,
                }
                for line, score in sorted(strata.items())
            ],
        }
    ]


def _earned_group(stream: str, entries: Sequence[LedgerEntry], naming: Naming) -> dict[str, Any]:
    by_line: Counter[str] = Counter()
    for entry in entries:
        if isinstance(entry.basis, MeasureIncentive):
            by_line[entry.basis.line_of_business] += entry.amount_cents
    group: dict[str, Any] = {
        "id": f"{stream}-earned-incentive",
        "extension": [
            {
                "url": VBPR_PAYMENT_STREAM_EXTENSION,
                "extension": [{"url": "type", "valueCodeableConcept": _stream_concept(stream, naming)}],
            }
        ],
        "code": concept(coding(VBPR_METRIC_SYSTEM, *EARNED_INCENTIVE)),
        "measureScore": _money_score(sum(e.amount_cents for e in entries)),
    }
    if by_line:
        group["stratifier"] = _line_stratifier(naming, {k: _money_score(v) for k, v in by_line.items()})
    return group


def _months_group(months: Mapping[str, int], naming: Naming) -> dict[str, Any]:
    group: dict[str, Any] = {
        "id": "member-months",
        "code": concept(coding(VBPR_METRIC_SYSTEM, *MEMBER_MONTHS)),
        "measureScore": {"value": sum(months.values())},
    }
    lines = {line: {"value": n} for line, n in months.items() if line}
    if lines:
        group["stratifier"] = _line_stratifier(naming, lines)
    return group


def earned_by_stream(entries: Iterable[LedgerEntry], year: int) -> dict[str, list[LedgerEntry]]:
    """The year's earning entries by payment stream, streams in `STREAMS` order, then any other."""
    found: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        stream = payment_stream(entry)
        if stream is not None and entry.period[:4] == str(year):
            found[stream].append(entry)
    order = [s for s in STREAMS if s in found] + sorted(set(found) - set(STREAMS))
    return {stream: found[stream] for stream in order}


def vbpr_report(
    *,
    run_id: str,
    year: int,
    payer: Resource,
    payer_id: str,
    clinic: Resource,
    entries: Iterable[LedgerEntry],
    months: Mapping[str, int] | None,
    generated: datetime,
    naming: Naming,
) -> Resource | None:
    """One payer's VBPR MeasureReport of a clinic's year (None when it earned nothing and no member months
    are given)."""
    streams = earned_by_stream((e for e in entries if e.payer == payer_id), year)
    groups = [_earned_group(stream, found, naming) for stream, found in streams.items()]
    if months:
        groups.append(_months_group(months, naming))
    if not groups:
        return None
    return {
        "resourceType": "MeasureReport",
        "id": resource_id("MeasureReport", "vbpr", run_id, clinic["id"], payer_id),
        "meta": {"profile": [VBPR_PROFILE]},
        "extension": [
            {
                "url": REPORT_CATEGORY_EXTENSION,
                "valueCodeableConcept": concept(
                    coding(REPORT_CATEGORY_SYSTEM, "vbp", "Value-Based Performance")
                ),
            }
        ],
        "status": "complete",
        "type": "summary",
        "measure": naming.contract_url(payer_id, year),
        "subject": {
            "extension": [
                {"url": VBPR_ORGANIZATION_SUBJECT_EXTENSION, "valueReference": clinic_reference(clinic)}
            ]
        },
        "date": timestamp(generated),
        "reporter": reference(payer, display=payer["name"]),
        "period": year_period(year),
        "group": groups,
    }
