"""APC's part: the quarterly PMPM run's answer for a member at a practice, month by month, from the entries
the run's own `pmpm_entries` records; each case is worked by hand from the seed's Element 2 (PMPM x age/sex
factor x (1 + HPI uplift), quarterly, each month only when the practice met the TA requirements), Element 1
(capitation, one track per payer) and the packaged program (PMPM 4.00, HPI decile 3: 3%)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from shared.logic.explain import explain_apc
from shared.logic.ta_engagement import TaMonth
from shared.models.explain import ProgramExplanation, Reason
from shared.models.ledger import LedgerEntry
from shared.models.members import ApcPaymentTrack, Clinic, PayerTrack
from shared.models.runs import Run, RunKind, RunStatus
from shared.programs.apc import ApcProgram
from shared.programs.catalog import load_programs
from shared.services.kinds.quarterly import pmpm_entries
from tests.unit.care_gap.factories import clinic, facts, profile, span
from tests.unit.explain.scenarios import codes, covers, run

CATALOG = load_programs().apc
APC: ApcProgram = CATALOG.in_force(date(2026, 3, 31))
Q1 = ("2026-01", "2026-02", "2026-03")
# A woman 60 all of 2026: the female 60-64 band, factor 1.3670.
MEMBER = facts(member=profile(birth=date(1965, 4, 10)), spans=(span("A1"),))


def practice(
    clinic_id: str = "A1", track: ApcPaymentTrack = ApcPaymentTrack.FFS_PLUS, **changes: object
) -> Clinic:
    tracks = (PayerTrack(payer_id=None, track=track),)
    update = {"apc_payment_track": track, "apc_tracks": tracks, "hpi_decile": 3}
    return clinic(clinic_id).model_copy(update=update | changes)


def recorded(
    at: Clinic,
    *,
    months: Sequence[str] = Q1,
    missed: dict[str, tuple[str, ...]] | None = None,
    to: str | None = None,
) -> list[LedgerEntry]:
    """What Q1's final run records for the member, attributed to `to` (default: `at`) every month."""
    status = {(at.clinic_id, m): TaMonth(at.clinic_id, m, (missed or {}).get(m, ())) for m in months}
    attributed = to or at.clinic_id
    practices = {at.clinic_id: at} | ({to: practice(to)} if to and to != at.clinic_id else {})
    return pmpm_entries(
        MEMBER,
        dict.fromkeys(months, attributed),
        practices,
        status,
        APC,
        months,
        run_id="quarterly-2026-Q1-final",
        payer="plan",
    )


def explained(
    at: Clinic,
    entries: Sequence[LedgerEntry] = (),
    *,
    runs: Sequence[Run] = (),
    month_payers: dict[str, str] | None = None,
) -> ProgramExplanation | None:
    return explain_apc(
        clinic=at,
        member_id="M1",
        year=2026,
        entries=entries,
        runs={r.run_id: r for r in runs},
        catalog=CATALOG,
        payer="plan",
        month_payers=month_payers,
    )


def part(
    at: Clinic,
    entries: Sequence[LedgerEntry] = (),
    *,
    runs: Sequence[Run] = (),
    month_payers: dict[str, str] | None = None,
) -> ProgramExplanation:
    found = explained(at, entries, runs=runs, month_payers=month_payers)
    assert found is not None
    return found


def closed(period: str = "2026-Q1") -> Run:
    return run(period, RunStatus.CALCULATED, kind=RunKind.QUARTERLY)


def month_reason(found: ProgramExplanation, month: str, scheme: str = "Element 2 PMPM") -> Reason:
    return next(r for r in found.reasons if r.facts.get("month") == month and r.facts.get("scheme") == scheme)


@covers("apc_pmpm_paid")
def test_an_attributed_month_of_a_compliant_practice_is_paid_pmpm_times_factor_and_uplift():
    # GIVEN A1 on FFS+ (HPI decile 3), the member attributed to it in Q1, every month TA-compliant, and Q1's
    # final run closed
    found = part(practice(), recorded(practice()), runs=[closed()])
    # WHEN January is read
    january = month_reason(found, "2026-01")
    # THEN it is paid 4.00 x 1.3670 x 1.03 = 5.63 (half up), in the female 60-64 band, by Q1's run
    assert not january.stops
    assert (january.facts["amount"], january.facts["factor"], january.facts["uplift"]) == (
        "5.63",
        "1.3670",
        "0.03",
    )
    assert january.facts["band"] == "female, 60-64 years" and january.facts["hpi"] == "HPI decile 3"
    assert (january.facts["run_id"], january.facts["run_status"]) == ("quarterly-2026-Q1-final", "CALCULATED")
    # AND each of Q1's months is paid, its entries are the part's, under the version in force
    assert codes(r for r in found.reasons if r.facts.get("month") in Q1) == ["apc_pmpm_paid"] * 3
    assert [e.amount_cents for e in found.entries] == [563, 563, 563]
    assert (found.program, found.version, found.run_id) == ("apc", "apc-2026.1", "quarterly-2026-Q1-final")


@covers("apc_pmpm_paid")
def test_a_capitation_practice_is_told_its_capitation_beside_element_2():
    # GIVEN A1 on basic capitation (22.00 PMPM, Element 1), Q1 closed
    at = practice(track=ApcPaymentTrack.BASIC_CAPITATION)
    found = part(at, recorded(at), runs=[closed()])
    # WHEN January's capitation is read
    capitation = month_reason(found, "2026-01", "Element 1 capitation")
    # THEN it is 22.00 x 1.3670 = 30.07, with no HPI uplift, beside Element 2's 5.63
    assert (capitation.facts["amount"], capitation.facts["uplift"]) == ("30.07", "0")
    assert capitation.facts["hpi"] == "no HPI uplift on capitation"
    assert month_reason(found, "2026-01").facts["amount"] == "5.63"


@covers("apc_ta_missed")
def test_a_month_the_practice_missed_a_ta_requirement_is_recorded_at_zero_naming_it():
    # GIVEN A1 on basic capitation held only one coaching session in February
    at = practice(track=ApcPaymentTrack.BASIC_CAPITATION)
    entries = recorded(at, missed={"2026-02": ("two coaching sessions",)})
    # WHEN the member's Q1 is explained
    found = part(at, entries, runs=[closed()])
    # THEN February's Element 2 stops at 0.00 naming the requirement; January and March are paid
    february = month_reason(found, "2026-02")
    assert february.code == "apc_ta_missed" and february.stops
    assert february.facts["missed"] == "two coaching sessions"
    assert "0.00 by run quarterly-2026-Q1-final" in february.text
    assert month_reason(found, "2026-03").code == "apc_pmpm_paid"
    # AND capitation pays for direct services: engagement does not gate it
    assert month_reason(found, "2026-02", "Element 1 capitation").code == "apc_pmpm_paid"


@covers("apc_quarter_not_closed")
def test_the_months_of_a_quarter_whose_final_run_is_open_or_absent_are_not_paid_yet():
    # GIVEN Q1's final run OPEN, and no run of the other quarters
    found = part(practice(), runs=[run("2026-Q1", RunStatus.OPEN, kind=RunKind.QUARTERLY)])
    # WHEN the year is explained
    # THEN each quarter is one reason naming its run and status (one per quarter, its months together)
    assert codes(found.reasons) == ["apc_quarter_not_closed"] * 4
    first, second = found.reasons[:2]
    assert (first.facts["months"], first.facts["run_id"], first.facts["status"]) == (
        "2026-01 to 2026-03",
        "quarterly-2026-Q1-final",
        "OPEN",
    )
    assert (second.facts["quarter"], second.facts["status"]) == ("2026-Q2", "not started")
    assert (found.run_id, found.run_status) == ("quarterly-2026-Q1-final", "OPEN")


@covers("apc_no_track")
def test_a_practice_on_a_track_with_another_payer_only_is_not_paid_for_this_payers_months():
    # GIVEN A2 on basic capitation with payer aetna only, Q1 closed; the member is the plan's in January
    # and February and aetna's in March (no entry at A2 for any month)
    at = practice("A2", track=ApcPaymentTrack.NONE).model_copy(
        update={"apc_tracks": (PayerTrack(payer_id="aetna", track=ApcPaymentTrack.BASIC_CAPITATION),)}
    )
    payers = {"2026-01": "plan", "2026-02": "plan", "2026-03": "aetna"}
    found = part(at, runs=[closed()], month_payers=payers)
    # WHEN Q1 is explained
    # THEN January-February stop on the track with the plan; March (aetna's, a track) was not attributed here
    assert codes(found.reasons)[:2] == ["apc_no_track", "apc_not_attributed"]
    no_track = found.reasons[0]
    assert (no_track.facts["months"], no_track.facts["payer"]) == ("2026-01 to 2026-02", "plan")


@covers("apc_not_attributed")
def test_a_month_attributed_to_another_practice_is_not_paid_here_and_that_practice_is_not_named():
    # GIVEN Q1's member-months attributed to A3, another APC practice (entries in the member's history)
    found = part(practice(), recorded(practice(), to="A3"), runs=[closed()])
    # WHEN A1 asks
    # THEN Q1 is one reason pointing to the attribution command, and nothing of A3 is shown
    reason = found.reasons[0]
    assert reason.code == "apc_not_attributed" and reason.facts["months"] == "2026-01 to 2026-03"
    assert "`p4p attribution explain M1 --month 2026-01`" in reason.text
    assert found.entries == ()
    assert "A3" not in found.model_dump_json()


def test_a_practice_on_no_apc_track_in_the_year_has_no_apc_part_and_a_track_from_july_has_one():
    # GIVEN C1 on no APC track, and A1 whose own FFS+ track starts on 1 July 2026
    july = PayerTrack(payer_id=None, track=ApcPaymentTrack.FFS_PLUS, start=date(2026, 7, 1))
    late = practice().model_copy(update={"apc_tracks": (july,)})
    # WHEN each is explained, Q1 and Q2 closed
    runs = [closed(), closed("2026-Q2")]
    # THEN C1 gets no part; A1's January-June stop on the track, with the plan
    assert explained(clinic("C1"), runs=runs) is None
    found = part(late, runs=runs)
    assert [(r.code, r.facts["months"]) for r in found.reasons[:2]] == [
        ("apc_no_track", "2026-01 to 2026-03"),
        ("apc_no_track", "2026-04 to 2026-06"),
    ]
