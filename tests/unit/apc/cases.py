"""The boundary cases of docs/apc-incentive.md: each an input and the outputs derived by hand from the
seed's tables 4 and 5 (never from the calculator).

Every case pays $10.00 PMPM for 1,000 member months (a $10,000.00 maximum) unless it says otherwise. A
case with `background` gives every other applicable measure a valid result that earns nothing (below its
MPT; DSF-E: screening 0 with no baseline, in its improvement range, and follow-up 64), so the row shows
its own measures alone. The tests assert each case through the function and through `p4p calc`, and the
doc's table is exactly `render_incentive_table()`. After changing a case, print the table to paste:

    .venv/bin/python -m tests.unit.apc.cases
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.models.apc import IncentiveInput
from shared.models.members import PracticeType

MIXED, ADULT, PEDIATRIC = PracticeType.MIXED, PracticeType.ADULT, PracticeType.PEDIATRIC
ATT, IMP, INEL, INV = "attainment", "improvement", "ineligible", "invalid"
NOTHING = ("0", "0.00")

BACKGROUND: dict[str, tuple[dict[str, Any], str]] = {
    "AMR": ({"rate": "80", "denominator": 40}, INEL),
    "BCS-E": ({"rate": "69", "denominator": 40}, INEL),
    "CIS": ({"rate": "44", "denominator": 40}, INEL),
    "COL-E": ({"rate": "51", "denominator": 40}, INEL),
    "CBP": ({"rate": "55", "denominator": 40}, INEL),
    "DSF-E": ({"denominator": 40, "screening": {"rate": "0"}, "follow_up": {"rate": "64"}}, IMP),
    "GSD": ({"rate": "35", "denominator": 40}, INEL),
    "IMA": ({"rate": "25", "denominator": 40}, INEL),
    "AHU": ({"rate": "27", "denominator": 2400}, INEL),
    "EDU": ({"rate": "150", "denominator": 2400}, INEL),
    "TCOC": ({"rate": "433", "denominator": 2400}, INEL),
}
"""A valid result below the MPT for each measure (what every case's other measures hold)."""

APPLICABLE = {
    MIXED: list(BACKGROUND),
    ADULT: [c for c in BACKGROUND if c not in ("CIS", "IMA")],
    PEDIATRIC: ["AMR", "CIS", "DSF-E", "IMA", "TCOC"],
}


@dataclass(frozen=True)
class IncentiveCase:
    name: str
    practice_type: PracticeType
    rates: Mapping[str, dict[str, Any] | None]
    """The case's own measures (None: the measure has no result)."""
    expected: dict[str, tuple[str, str, str]]
    """(category, share of the maximum, amount) per measure, and per `DSF-E.<component>`."""
    valid: int
    scale: str
    total: str
    background: bool = True
    max_pmpm: str = "10.00"
    member_months: int = 1000
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def applicable(self) -> int:
        return len(APPLICABLE[self.practice_type])

    def body(self) -> dict[str, Any]:
        """The case as `p4p calc apc-incentive` takes it."""
        measures: dict[str, Any] = {}
        if self.background:
            measures = {code: BACKGROUND[code][0] for code in APPLICABLE[self.practice_type]}
        for code, rates in self.rates.items():
            if rates is None:
                measures.pop(code, None)
            else:
                measures[code] = rates
        return {
            "practice_type": self.practice_type.value,
            "max_pmpm": self.max_pmpm,
            "member_months": self.member_months,
            "measures": measures,
        }

    def practice(self) -> IncentiveInput:
        return IncentiveInput.model_validate(self.body())

    def others(self) -> dict[str, tuple[str, str, str]]:
        """What every applicable measure the case does not name is expected to score: nothing."""
        named = {key.split(".")[0] for key in self.expected}
        return {
            code: (BACKGROUND[code][1] if self.background else INV, *NOTHING)
            for code in APPLICABLE[self.practice_type]
            if code not in named
        }


def r(rate: str, baseline: str | None = None, denominator: int = 40) -> dict[str, Any]:
    """A quality measure's result."""
    return {"rate": rate, "denominator": denominator} | ({} if baseline is None else {"baseline": baseline})


def u(rate: str, baseline: str | None = None, member_months: int = 2400) -> dict[str, Any]:
    """A utilization or cost measure's result (its denominator is member months)."""
    return r(rate, baseline, member_months)


def dsf(
    screening: str = "0", follow_up: str = "64", denominator: int = 40, **baselines: str
) -> dict[str, Any]:
    """DSF-E's result; by default the background's (screening 0, follow-up 64)."""
    parts = {"screening": screening, "follow_up": follow_up}
    return {"denominator": denominator} | {
        name: {"rate": rate}
        | ({"baseline": baselines[f"{name}_baseline"]} if f"{name}_baseline" in baselines else {})
        for name, rate in parts.items()
    }


def _edges() -> list[IncentiveCase]:
    """Mixed practice, every measure valid (scale 1): each measure at and just below its threshold, at its
    gold standard and beyond it. Threshold and gold shares are table 5's mixed columns; just below the
    threshold a rate is in the improvement range and, with no baseline, earns nothing."""
    rows = [
        # code, at threshold, just below, at gold, beyond, (threshold share, amount), (gold share, amount)
        ("AMR", "87", "86.99", "91", "95", ("0.05", "500.00"), ("0.08", "800.00")),
        ("BCS-E", "76", "75.99", "80", "90", ("0.05", "500.00"), ("0.08", "800.00")),
        ("CIS", "61", "60.99", "71", "85", ("0.075", "750.00"), ("0.11", "1100.00")),
        ("COL-E", "63", "62.99", "67", "80", ("0.075", "750.00"), ("0.11", "1100.00")),
        ("CBP", "67", "66.99", "74", "85", ("0.075", "750.00"), ("0.11", "1100.00")),
        ("GSD", "25", "25.01", "20", "10", ("0.075", "750.00"), ("0.11", "1100.00")),
        ("IMA", "35", "34.99", "46", "60", ("0.05", "500.00"), ("0.08", "800.00")),
        ("AHU", "21", "21.01", "18", "12", ("0.05", "500.00"), ("0.08", "800.00")),
        ("EDU", "124", "124.01", "110", "90", ("0.05", "500.00"), ("0.08", "800.00")),
        ("TCOC", "339", "339.01", "283", "250", ("0.05", "500.00"), ("0.08", "800.00")),
    ]
    cases = []
    for code, at, below, gold, beyond, threshold_share, gold_share in rows:
        make = u if code in ("AHU", "EDU", "TCOC") else r
        inverse = " (inverse)" if code in ("GSD", "AHU", "EDU", "TCOC") else ""
        for label, rate, expected in (
            ("at the threshold", at, (ATT, *threshold_share)),
            ("just below the threshold", below, (IMP, *NOTHING)),
            ("at gold", gold, (ATT, *gold_share)),
            ("beyond gold", beyond, (ATT, *gold_share)),
        ):
            cases.append(
                IncentiveCase(
                    f"{code}{inverse} {label}",
                    MIXED,
                    {code: make(rate)},
                    {code: expected},
                    11,
                    "1",
                    expected[2],
                )
            )
    return cases


def _dsf_e() -> list[IncentiveCase]:
    """Mixed practice: each DSF-E component scored alone with half of each mixed share (improvement 1.75%,
    threshold 2.5%, gold 4%); the measure is the sum of its halves and takes the best category."""
    half_threshold, half_gold, half_improvement = (
        ("0.025", "250.00"),
        ("0.04", "400.00"),
        ("0.0175", "175.00"),
    )
    s_bg, f_bg = (IMP, *NOTHING), (INEL, *NOTHING)
    rows: list[
        tuple[str, dict[str, Any], tuple[str, str, str], tuple[str, str, str], tuple[str, str, str]]
    ] = [
        ("screening at gold", dsf(screening="11"), (ATT, *half_gold), (ATT, *half_gold), f_bg),
        ("screening beyond gold", dsf(screening="20"), (ATT, *half_gold), (ATT, *half_gold), f_bg),
        (
            "screening at the threshold",
            dsf(screening="1"),
            (ATT, *half_threshold),
            (ATT, *half_threshold),
            f_bg,
        ),
        ("screening just below the threshold", dsf(screening="0.99"), (IMP, *NOTHING), (IMP, *NOTHING), f_bg),
        (
            # 2.5% + (4% - 2.5%) x (6 - 1) / (11 - 1) = 3.25%
            "screening halfway from threshold to gold",
            dsf(screening="6"),
            (ATT, "0.0325", "325.00"),
            (ATT, "0.0325", "325.00"),
            f_bg,
        ),
        (
            # 0.99 - 0 < 10% x (11 - 0): below the threshold, screening can never close 10% of its gap
            "screening below the threshold from a baseline of 0",
            dsf(screening="0.99", screening_baseline="0"),
            (IMP, *NOTHING),
            (IMP, *NOTHING),
            f_bg,
        ),
        ("follow-up at gold", dsf(follow_up="87"), (ATT, *half_gold), s_bg, (ATT, *half_gold)),
        ("follow-up beyond gold", dsf(follow_up="95"), (ATT, *half_gold), s_bg, (ATT, *half_gold)),
        (
            "follow-up at the threshold",
            dsf(follow_up="81"),
            (ATT, *half_threshold),
            s_bg,
            (ATT, *half_threshold),
        ),
        (
            "follow-up just below the threshold",
            dsf(follow_up="80.99"),
            (IMP, *NOTHING),
            s_bg,
            (IMP, *NOTHING),
        ),
        (
            # 65.4 - 63 = 2.4 = 10% x (87 - 63)
            "follow-up closes exactly 10% of its gap",
            dsf(follow_up="65.4", follow_up_baseline="63"),
            (IMP, *half_improvement),
            s_bg,
            (IMP, *half_improvement),
        ),
        (
            "follow-up closes just under 10%",
            dsf(follow_up="65.39", follow_up_baseline="63"),
            (IMP, *NOTHING),
            s_bg,
            (IMP, *NOTHING),
        ),
        (
            "both at gold",
            dsf(screening="11", follow_up="87"),
            (ATT, "0.08", "800.00"),
            (ATT, *half_gold),
            (ATT, *half_gold),
        ),
    ]
    return [
        IncentiveCase(
            f"DSF-E {label}",
            MIXED,
            {"DSF-E": rates},
            {"DSF-E": measure, "DSF-E.screening": screening, "DSF-E.follow_up": follow_up},
            11,
            "1",
            measure[2],
        )
        for label, rates, measure, screening, follow_up in rows
    ]


def _between_and_improvement() -> list[IncentiveCase]:
    """Mixed practice, scale 1: between threshold and gold (linear), and the improvement range's rules."""
    rows = [
        # 5% + 3% x (89 - 87) / (91 - 87) = 6.5%
        ("AMR halfway from threshold to gold", {"AMR": r("89")}, "AMR", (ATT, "0.065", "650.00")),
        # 7.5% + 3.5% x (70.5 - 67) / (74 - 67) = 9.25%
        ("CBP halfway from threshold to gold", {"CBP": r("70.5")}, "CBP", (ATT, "0.0925", "925.00")),
        # inverse: 7.5% + 3.5% x (22.5 - 25) / (20 - 25) = 9.25%
        (
            "GSD (inverse) halfway from threshold to gold",
            {"GSD": r("22.5")},
            "GSD",
            (ATT, "0.0925", "925.00"),
        ),
        # inverse: 5% + 3% x (311 - 339) / (283 - 339) = 6.5%
        (
            "TCOC (inverse) halfway from threshold to gold",
            {"TCOC": u("311")},
            "TCOC",
            (ATT, "0.065", "650.00"),
        ),
        ("AMR in the improvement range, no baseline", {"AMR": r("84")}, "AMR", (IMP, *NOTHING)),
        # 81 - 76 = 5 ≥ 10% x (91 - 76) = 1.5; table 4's mixed improvement share 3.5%
        ("AMR at the MPT, improved enough", {"AMR": r("81", "76")}, "AMR", (IMP, "0.035", "350.00")),
        ("AMR just below the MPT", {"AMR": r("80.99", "70")}, "AMR", (INEL, *NOTHING)),
        # 81.1 - 80 = 1.1 = 10% x (91 - 80)
        ("AMR closes exactly 10% of its gap", {"AMR": r("81.1", "80")}, "AMR", (IMP, "0.035", "350.00")),
        ("AMR closes just under 10%", {"AMR": r("81.09", "80")}, "AMR", (IMP, *NOTHING)),
        ("AMR below a baseline already past gold", {"AMR": r("85", "92")}, "AMR", (IMP, *NOTHING)),
        # 45 - 35 = 10 ≥ 10% x (71 - 35) = 3.6; mixed CIS improvement 5%
        ("CIS at the MPT, improved enough", {"CIS": r("45", "35")}, "CIS", (IMP, "0.05", "500.00")),
        # inverse: 40 - 34 = 6 ≥ 10% x (40 - 20) = 2
        ("GSD (inverse) at the MPT, improved enough", {"GSD": r("34", "40")}, "GSD", (IMP, "0.05", "500.00")),
        ("GSD (inverse) just worse than the MPT", {"GSD": r("34.01", "40")}, "GSD", (INEL, *NOTHING)),
        # inverse: 30 - 29 = 1 = 10% x (30 - 20)
        (
            "GSD (inverse) closes exactly 10% of its gap",
            {"GSD": r("29", "30")},
            "GSD",
            (IMP, "0.05", "500.00"),
        ),
        ("GSD (inverse) closes just under 10%", {"GSD": r("29.01", "30")}, "GSD", (IMP, *NOTHING)),
        # inverse: 440 - 424.3 = 15.7 = 10% x (440 - 283)
        (
            "TCOC (inverse) closes exactly 10% of its gap",
            {"TCOC": u("424.3", "440")},
            "TCOC",
            (IMP, "0.035", "350.00"),
        ),
        ("TCOC (inverse) closes just under 10%", {"TCOC": u("424.31", "440")}, "TCOC", (IMP, *NOTHING)),
    ]
    return [IncentiveCase(name, MIXED, rates, {code: e}, 11, "1", e[2]) for name, rates, code, e in rows]


def _validity() -> list[IncentiveCase]:
    """Validity minimums: 20 for adult and both quality measures, 10 for pediatric ones, 1,800 member
    months for utilization and cost. A measure short of its minimum (or absent) is invalid and its gold
    share leaves the sum scale divides by: 1 / (100% - 8%) = 1.086957, 1 / (100% - 11%) = 1.123596."""
    invalid = (INV, *NOTHING)
    return [
        IncentiveCase(
            "AMR with a denominator of 20",
            MIXED,
            {"AMR": r("91", denominator=20)},
            {"AMR": (ATT, "0.08", "800.00")},
            11,
            "1",
            "800.00",
        ),
        IncentiveCase(
            "AMR with a denominator of 19",
            MIXED,
            {"AMR": r("91", denominator=19)},
            {"AMR": invalid},
            10,
            "1.086957",
            "0.00",
        ),
        IncentiveCase("AMR with no result", MIXED, {"AMR": None}, {"AMR": invalid}, 10, "1.086957", "0.00"),
        IncentiveCase(
            "CIS (pediatric) with a denominator of 10",
            MIXED,
            {"CIS": r("71", denominator=10)},
            {"CIS": (ATT, "0.11", "1100.00")},
            11,
            "1",
            "1100.00",
        ),
        IncentiveCase(
            "CIS (pediatric) with a denominator of 9",
            MIXED,
            {"CIS": r("71", denominator=9)},
            {"CIS": invalid},
            10,
            "1.123596",
            "0.00",
        ),
        IncentiveCase(
            "IMA (pediatric) with a denominator of 10",
            MIXED,
            {"IMA": r("46", denominator=10)},
            {"IMA": (ATT, "0.08", "800.00")},
            11,
            "1",
            "800.00",
        ),
        IncentiveCase(
            "DSF-E with a denominator of 19",
            MIXED,
            {"DSF-E": dsf("11", "87", denominator=19)},
            {"DSF-E": invalid},
            10,
            "1.086957",
            "0.00",
        ),
        IncentiveCase(
            "AHU with 1,800 member months",
            MIXED,
            {"AHU": u("18", member_months=1800)},
            {"AHU": (ATT, "0.08", "800.00")},
            11,
            "1",
            "800.00",
        ),
        IncentiveCase(
            "AHU with 1,799 member months",
            MIXED,
            {"AHU": u("18", member_months=1799)},
            {"AHU": invalid},
            10,
            "1.086957",
            "0.00",
        ),
        IncentiveCase(
            "TCOC with 1,799 member months",
            MIXED,
            {"TCOC": u("283", member_months=1799)},
            {"TCOC": invalid},
            10,
            "1.086957",
            "0.00",
        ),
        # pediatric: AMR is a "both" measure, so 20 applies; 1 / (100% - 18%) = 1.219512
        IncentiveCase(
            "pediatric AMR with a denominator of 19",
            PEDIATRIC,
            {"AMR": r("91", denominator=19)},
            {"AMR": invalid},
            4,
            "1.219512",
            "0.00",
        ),
    ]


def _half_valid() -> list[IncentiveCase]:
    """The half-valid rule at its edge for each practice type: the named measures are at gold, the others
    have no result. With 2 x valid ≥ applicable the valid gold shares are scaled to 100%, else to 50%.
    Cents: each exact amount rounded down, the left-over cents to the largest remainders."""
    gold = {
        "AMR": r("91"),
        "BCS-E": r("80"),
        "CIS": r("71"),
        "COL-E": r("67"),
        "CBP": r("74"),
        "DSF-E": dsf("11", "87"),
    }
    mixed6 = {code: gold[code] for code in ("AMR", "BCS-E", "CIS", "COL-E", "CBP", "DSF-E")}
    mixed5 = {code: gold[code] for code in ("AMR", "BCS-E", "CIS", "COL-E", "CBP")}
    adult5 = {code: gold[code] for code in ("AMR", "BCS-E", "COL-E", "CBP", "DSF-E")}
    adult4 = {code: gold[code] for code in ("AMR", "BCS-E", "COL-E", "CBP")}
    pediatric3 = {code: gold[code] for code in ("AMR", "CIS", "DSF-E")}
    pediatric2 = {code: gold[code] for code in ("AMR", "CIS")}
    return [
        # 6 of 11: scale 100 / 57; 8/57 of $10,000 = $1,403.5088, 11/57 = $1,929.8246; cents 140350.88 x3,
        # 192982.46 x3: floors add to 999,996, the 4 cents left go to the .88s, then CIS (first .46)
        IncentiveCase(
            "mixed, 6 of 11 valid: full target",
            MIXED,
            mixed6,
            {
                "AMR": (ATT, "0.140351", "1403.51"),
                "BCS-E": (ATT, "0.140351", "1403.51"),
                "CIS": (ATT, "0.192982", "1929.83"),
                "COL-E": (ATT, "0.192982", "1929.82"),
                "CBP": (ATT, "0.192982", "1929.82"),
                "DSF-E": (ATT, "0.140351", "1403.51"),
                "DSF-E.screening": (ATT, "0.070175", "701.76"),
                "DSF-E.follow_up": (ATT, "0.070175", "701.75"),
            },
            6,
            "1.754386",
            "10000.00",
            background=False,
        ),
        # 5 of 11: scale 50 / 49; 4/49 = $816.3265, 5.5/49 = $1,122.4490; floors 499,996, 4 cents: the
        # three .90s, then AMR (.65, before BCS-E)
        IncentiveCase(
            "mixed, 5 of 11 valid: half target",
            MIXED,
            mixed5,
            {
                "AMR": (ATT, "0.081633", "816.33"),
                "BCS-E": (ATT, "0.081633", "816.32"),
                "CIS": (ATT, "0.112245", "1122.45"),
                "COL-E": (ATT, "0.112245", "1122.45"),
                "CBP": (ATT, "0.112245", "1122.45"),
            },
            5,
            "1.020408",
            "5000.00",
            background=False,
        ),
        # 5 of 9: gold 9.75 x3 + 14 x2 = 57.25; 9.75/57.25 = $1,703.0568, 14/57.25 = $2,445.4148
        IncentiveCase(
            "adult, 5 of 9 valid: full target",
            ADULT,
            adult5,
            {
                "AMR": (ATT, "0.170306", "1703.06"),
                "BCS-E": (ATT, "0.170306", "1703.06"),
                "COL-E": (ATT, "0.244541", "2445.41"),
                "CBP": (ATT, "0.244541", "2445.41"),
                "DSF-E": (ATT, "0.170306", "1703.06"),
                "DSF-E.screening": (ATT, "0.085153", "851.53"),
                "DSF-E.follow_up": (ATT, "0.085153", "851.53"),
            },
            5,
            "1.746725",
            "10000.00",
            background=False,
        ),
        # 4 of 9: 47.5 to 50%; 4.875/47.5 = $1,026.3158, 7/47.5 = $1,473.6842; 2 cents to the .58s
        IncentiveCase(
            "adult, 4 of 9 valid: half target",
            ADULT,
            adult4,
            {
                "AMR": (ATT, "0.102632", "1026.32"),
                "BCS-E": (ATT, "0.102632", "1026.32"),
                "COL-E": (ATT, "0.147368", "1473.68"),
                "CBP": (ATT, "0.147368", "1473.68"),
            },
            4,
            "1.052632",
            "5000.00",
            background=False,
        ),
        # 3 of 5: 18 + 28 + 18 = 64; 18/64 = 28.125%, 28/64 = 43.75%
        IncentiveCase(
            "pediatric, 3 of 5 valid: full target",
            PEDIATRIC,
            pediatric3,
            {
                "AMR": (ATT, "0.28125", "2812.50"),
                "CIS": (ATT, "0.4375", "4375.00"),
                "DSF-E": (ATT, "0.28125", "2812.50"),
                "DSF-E.screening": (ATT, "0.140625", "1406.25"),
                "DSF-E.follow_up": (ATT, "0.140625", "1406.25"),
            },
            3,
            "1.5625",
            "10000.00",
            background=False,
        ),
        # 2 of 5: 46 to 50%; 9/46 = $1,956.5217, 14/46 = $3,043.4783; the cent left goes to CIS (.83)
        IncentiveCase(
            "pediatric, 2 of 5 valid: half target",
            PEDIATRIC,
            pediatric2,
            {
                "AMR": (ATT, "0.195652", "1956.52"),
                "CIS": (ATT, "0.304348", "3043.48"),
            },
            2,
            "1.086957",
            "5000.00",
            background=False,
        ),
    ]


def _practice_types_and_cents() -> list[IncentiveCase]:
    """Adult practices' gold shares add up to 100.5%, so scale is 100 / 100.5 = 200/201 with every
    measure valid; pediatric shares are table 5's pediatric columns; and the money rules on small sums."""
    all_adult_gold = {
        "AMR": r("91"),
        "BCS-E": r("80"),
        "COL-E": r("67"),
        "CBP": r("74"),
        "DSF-E": dsf("11", "87"),
        "GSD": r("20"),
        "AHU": u("18"),
        "EDU": u("110"),
        "TCOC": u("283"),
    }
    # 9.75/100.5 of 1,000,000 cents = 97014.93, 14/100.5 = 139303.48: floors add to 999,993; 6 cents to
    # the .93s, the 7th to COL-E (first .48). DSF-E's 97015 split 48507.46 + 48507.46: screening first.
    nine_and_three_quarters = ("AMR", "BCS-E", "DSF-E", "AHU", "EDU", "TCOC")
    adult_gold = dict.fromkeys(nine_and_three_quarters, (ATT, "0.097015", "970.15")) | {
        "COL-E": (ATT, "0.139303", "1393.04"),
        "CBP": (ATT, "0.139303", "1393.03"),
        "GSD": (ATT, "0.139303", "1393.03"),
    }
    adult_gold |= {
        "DSF-E.screening": (ATT, "0.048507", "485.08"),
        "DSF-E.follow_up": (ATT, "0.048507", "485.07"),
    }
    return [
        # 9.75% x 200/201 = 9.7015%: $970.149 → 970.15
        IncentiveCase(
            "adult AMR at gold",
            ADULT,
            {"AMR": r("91")},
            {"AMR": (ATT, "0.097015", "970.15")},
            9,
            "0.995025",
            "970.15",
        ),
        # 9% x 200/201: $895.522 → 895.52
        IncentiveCase(
            "adult COL-E at the threshold",
            ADULT,
            {"COL-E": r("63")},
            {"COL-E": (ATT, "0.089552", "895.52")},
            9,
            "0.995025",
            "895.52",
        ),
        IncentiveCase(
            "adult, every measure at gold", ADULT, all_adult_gold, adult_gold, 9, "0.995025", "10000.00"
        ),
        IncentiveCase(
            "pediatric CIS at the threshold",
            PEDIATRIC,
            {"CIS": r("61")},
            {"CIS": (ATT, "0.165", "1650.00")},
            5,
            "1",
            "1650.00",
        ),
        IncentiveCase(
            "pediatric CIS at gold",
            PEDIATRIC,
            {"CIS": r("71")},
            {"CIS": (ATT, "0.28", "2800.00")},
            5,
            "1",
            "2800.00",
        ),
        IncentiveCase(
            "pediatric IMA at the threshold",
            PEDIATRIC,
            {"IMA": r("35")},
            {"IMA": (ATT, "0.11", "1100.00")},
            5,
            "1",
            "1100.00",
        ),
        IncentiveCase(
            "pediatric TCOC (inverse) at gold",
            PEDIATRIC,
            {"TCOC": u("283")},
            {"TCOC": (ATT, "0.18", "1800.00")},
            5,
            "1",
            "1800.00",
        ),
        IncentiveCase(
            "pediatric DSF-E both at gold",
            PEDIATRIC,
            {"DSF-E": dsf("11", "87")},
            {
                "DSF-E": (ATT, "0.18", "1800.00"),
                "DSF-E.screening": (ATT, "0.09", "900.00"),
                "DSF-E.follow_up": (ATT, "0.09", "900.00"),
            },
            5,
            "1",
            "1800.00",
        ),
        # $1.00 x 1: 6.5% of 100 cents = 6.5 cents, half up to 7
        IncentiveCase(
            "a total of half a cent rounds up",
            MIXED,
            {"AMR": r("89")},
            {"AMR": (ATT, "0.065", "0.07")},
            11,
            "1",
            "0.07",
            max_pmpm="1.00",
            member_months=1,
        ),
        # $1.11 x 3 = 333 cents: AMR 6.5% = 21.645, GSD 9.25% = 30.8025; total 52.4475 → 52; floors 21 + 30,
        # the cent left to GSD's larger remainder (.8025 against .645)
        IncentiveCase(
            "the cent left over goes to the larger remainder",
            MIXED,
            {"AMR": r("89"), "GSD": r("22.5")},
            {
                "AMR": (ATT, "0.065", "0.21"),
                "GSD": (ATT, "0.0925", "0.31"),
            },
            11,
            "1",
            "0.52",
            max_pmpm="1.11",
            member_months=3,
        ),
    ]


INCENTIVE_CASES: tuple[IncentiveCase, ...] = (
    *_edges(),
    *_between_and_improvement(),
    *_dsf_e(),
    *_validity(),
    *_half_valid(),
    *_practice_types_and_cents(),
)


def _rates_text(case: IncentiveCase) -> str:
    parts = []
    for code, rates in case.rates.items():
        if rates is None:
            parts.append(f"{code} none")
            continue
        if code == "DSF-E":
            pieces = [
                f"{name.replace('_', '-')} {rates[name]['rate']}"
                + (f" (baseline {rates[name]['baseline']})" if "baseline" in rates[name] else "")
                for name in ("screening", "follow_up")
            ]
            text = f"DSF-E {', '.join(pieces)}"
        else:
            text = f"{code} {rates['rate']}" + (
                f" (baseline {rates['baseline']})" if "baseline" in rates else ""
            )
        default = 2400 if code in ("AHU", "EDU", "TCOC") else 40
        if rates["denominator"] != default:
            text += f", denominator {rates['denominator']:,}"
        parts.append(text)
    return "; ".join(parts)


def _result_text(case: IncentiveCase) -> str:
    return "; ".join(
        f"{key} {category} {share} ${amount}" for key, (category, share, amount) in case.expected.items()
    )


def render_incentive_table() -> str:
    """The doc's table: one row per case."""
    lines = [
        "| case | practice | rates | valid/applicable | scale | category, share, amount | total |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in INCENTIVE_CASES:
        money = (
            ""
            if (case.max_pmpm, case.member_months) == ("10.00", 1000)
            else f" (${case.max_pmpm} x {case.member_months})"
        )
        lines.append(
            f"| {case.name}{money} | {case.practice_type.value} | {_rates_text(case)} | "
            f"{case.valid}/{case.applicable} | {case.scale} | {_result_text(case)} | ${case.total} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_incentive_table())
