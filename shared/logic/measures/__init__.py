"""The measure engine: CMS eCQM definitions evaluated on a member's evidence, the rates that pay.

`engine.member_outcome` gives one member's populations for one measure; `shared.logic.rates.measure_counts`
sums them per clinic for the annual run. See docs/measure-agreement.md for the agreement with the CMS
test decks, scored through this same path.
"""
