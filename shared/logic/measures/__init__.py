"""The eCQM measure engine: CMS eCQM definitions evaluated on FHIR R4 patients.

See docs/measure-agreement.md for its agreement with the CMS test decks.
"""
