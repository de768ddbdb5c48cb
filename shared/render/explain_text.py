"""An explanation (`shared/models/explain.py`) as people read it: what `p4p explain` prints, and what a
clinic page's explanation shows, from one function so the two never differ (`docs/explain.md`)."""

from __future__ import annotations

from shared.logic.explain.apc import MEASURE
from shared.logic.explain.wording import PROGRAM_NAMES
from shared.logic.money import format_cents
from shared.models.explain import Explanation, PaidEntry, Reason
from shared.programs.apc import PROGRAM

# A part whose reasons are months, each paid or stopped on its own (APC's PMPM), not one rule chain;
# APC's Element 3 part (its measure a rate, not PMPM) is a rule chain.
_BY_MONTH = {(PROGRAM, MEASURE)}


def _chain(reasons: tuple[Reason, ...], indent: str, *, by_month: bool = False) -> list[str]:
    lines, stopped = [], False
    for reason in reasons:
        if reason.stops and by_month:
            lines.append(f"{indent}not paid: {reason.text}")
        elif reason.stops:
            lines.append(f"{indent}{'and' if stopped else 'stopped by'}: {reason.text}")
            stopped = True
        else:
            lines.append(f"{indent}- {reason.text}")
    return lines


def _entry(entry: PaidEntry) -> str:
    step = entry.step.value if entry.step else "-"
    status = f" ({entry.run_status})" if entry.run_status else ""
    paid = f", paid {entry.paid_on.isoformat()}" if entry.paid_on else ""
    state = "" if entry.live else ", reversed"
    return (
        f"  {entry.earned_month}  {entry.kind:<8} {entry.period} {step:<12} "
        f"{format_cents(entry.amount_cents):>9}"
        f"  run {entry.run_id}{status}{paid}{state}  on {', '.join(entry.evidence_refs) or '-'}"
        f"  [{entry.rule_version}, entry {entry.entry_id[:12]}]"
    )


def explanation_text(explanation: Explanation) -> str:
    """The explanation for people: steps, evidence, the clinic's entries and the annual programs."""
    x = explanation
    out = [
        f"Clinic {x.clinic_id}, member {x.member_id}: {x.action} ({x.action_name}) in {x.year}",
        f"as known on {x.as_of.isoformat()}; Care Gap P4P version {x.program_version or '-'}; "
        f"last closed monthly run: {x.last_closed_run or 'none'}",
        f"net paid to the clinic for this gap: {format_cents(x.net_paid_cents)} USD "
        f"in {len(x.entries)} entries",
        "",
        "Steps",
    ]
    for step in x.steps:
        version = f"  (version {step.program_version})" if step.program_version else ""
        out.append(
            f"  {step.period} {step.step.value}: {step.status.value.replace('_', ' ').upper()}{version}"
        )
        out += _chain(step.reasons, "      ")
    out += ["", "Evidence"]
    if not x.evidence:
        out.append(f"  none on file for {x.action} in {x.year}")
    for item in x.evidence:
        done = ", ".join(item.completed) or "nothing"
        out.append(
            f"  {item.reference} ({item.source}, {item.step.value}), dated {item.action_date.isoformat()}, "
            f"known {item.known_date.isoformat()}: completed {done}"
        )
        out += _chain(item.reasons, "      ")
    out += ["", "The clinic's ledger entries"]
    out += [_entry(e) for e in x.entries] or ["  none"]
    for part in x.annual:
        out += [
            "",
            f"{PROGRAM_NAMES.get(part.program, part.program)} ({part.version}): {part.measure} {part.year} "
            f"(run {part.run_id}: {part.run_status})",
        ]
        out += _chain(part.reasons, "      ", by_month=(part.program, part.measure) in _BY_MONTH)
        for line in part.lines:
            out.append(f"  {line.line_of_business}, {line.months_assigned} of 12 months at the clinic")
            out += _chain(line.reasons, "      ")
        out += [_entry(e) for e in part.entries]
    return "\n".join(out) + "\n"
