"""The measure engine: CMS eCQM definitions (and NCQA's measures APC pays on, as data) evaluated on a
member's evidence, the rates that pay.

`engine.member_outcome` gives one member's populations for one measure; `shared.logic.rates.measure_counts`
sums them per clinic for the annual run; `apc.apc_member_year` gives one member-year's APC parts, the
utilization and cost contributions (`utilization.py`) included. See docs/measure-agreement.md for the
agreement with the CMS test decks, scored through this same path, and the APC measure set.
"""
