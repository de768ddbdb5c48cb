"""Why was I not paid? (FAQ Q9): the rule chain of one member's gap at one clinic in one year.

Every answer is read from the rules themselves, never from a copy of them (`docs/explain.md`):
- `member_awards` runs with a trace: each step it weighed with its entry or the first rule that refused
  it (`Refusal`), and the evidence `occurrences` put in no occurrence (`Unused`);
- a refusal is told apart by asking the rule's own functions again (`span_on` for assignment versus line
  of business, `has_conditions` with the exclusions left out for a missing versus an excluded condition);
- a step nobody did is probed: the clinic's own attestation of the action's first step, on the last day of
  the year it had the member, alone, through `member_awards` (the first rule that would refuse it);
- evidence an occurrence holds but that completed nothing is probed alone with `first_completions`: what
  it would have completed was already done (the frequency is used), or it completes nothing alone;
- the ledger side is `settle_member` against what is known now: a supported step the ledger pays stands
  (paid); one it does not is due on the next run, or was not known when the last closed run settled; a
  paid step the evidence no longer supports is reversed by the next run;
- the annual side re-runs the annual run's own count (`Tally`, given by the service) on the member, with
  one program rule relaxed at a time (assignment months, attestations, the attestation window, the
  submission deadline) to find the one that kept the member out;
- APC's part reads the quarterly PMPM run's entries of the member at the clinic, month by month: paid,
  0.00 for technical assistance missed, or the first rule that left the month unpaid (its quarter's run not
  closed, no APC track with the payer, the member-month attributed elsewhere);
- APC Element 3's part re-runs the annual APC run's own count (`ApcCount`, given by the service from
  `ApcCounter`) on the member at the clinic: counted in a quality rate or why not (not attributed, quality
  counted at a later month's practice, outside the population or excluded, nothing by the runout's end,
  told from evidence received after it by counting again with the runout never ending), or the member's
  contribution to a utilization or cost rate; and the practice's `PerformanceIncentive` entries.
Each program's part is a chain of typed reasons (`shared/models/explain.py`).
"""

from shared.logic.explain.apc import apc_practice_in, explain_apc
from shared.logic.explain.apc_incentive import (
    ApcCount,
    ApcTally,
    explain_apc_incentive,
    incentive_explanation,
)
from shared.logic.explain.benchmark import Tally, explain_benchmark
from shared.logic.explain.care_gap import PlainExplanations, explain_gap, explain_gaps
from shared.logic.explain.question import NEXT_RUN, UnknownActionError

__all__ = [
    "NEXT_RUN",
    "ApcCount",
    "ApcTally",
    "PlainExplanations",
    "Tally",
    "UnknownActionError",
    "apc_practice_in",
    "explain_apc",
    "explain_apc_incentive",
    "explain_benchmark",
    "explain_gap",
    "explain_gaps",
    "incentive_explanation",
]
