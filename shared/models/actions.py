"""The vocabulary of the action menus: action codes, steps, categories, tracks and lines of business."""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

ActionCode = NewType("ActionCode", str)
"""A code of the action menu in the plan's words, e.g. `ActionCode("BCS-E")`."""


class Step(StrEnum):
    """One SVU-bearing step of an action."""

    SCHEDULE = "schedule"
    PERFORM = "perform"
    CLAIM = "claim"
    INITIAL_DOSE = "initial_dose"
    FINAL_DOSE = "final_dose"
    PRESCRIBE = "prescribe"
    DISPENSE = "dispense"
    ASSESS = "assess"
    DIAGNOSIS = "diagnosis"
    """Not an SVU step: marks a condition fact (a diagnosis or a drug class) the eligibility rules read."""


class ActionCategory(StrEnum):
    """The menu section an action belongs to; FAQ Q10 and Q15 treat the sections differently."""

    VISIT = "visit"
    TWO_STEP = "two_step"
    THREE_STEP = "three_step"
    IMMUNIZATION = "immunization"
    MEDICATION = "medication"
    DIAGNOSIS_REVIEW = "diagnosis_review"

    @property
    def claim_completes_remaining(self) -> bool:
        """Q15: a claim awards every remaining step, except for medication and diagnosis review."""
        return self not in (ActionCategory.MEDICATION, ActionCategory.DIAGNOSIS_REVIEW)

    @property
    def credits_outside_providers(self) -> bool:
        """Q10: the assigned clinic earns when someone else closes the gap, except for the same two."""
        return self.claim_completes_remaining


class Track(StrEnum):
    """A clinic's rate-card track."""

    FAMILY_ADULT = "family_adult"
    PEDIATRIC = "pediatric"


class LineOfBusiness(StrEnum):
    CA = "CA"
    MC = "MC"
    HW = "HW"
    COMM = "COMM"


class Sex(StrEnum):
    F = "F"
    M = "M"
    U = "U"
