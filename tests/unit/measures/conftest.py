from __future__ import annotations

import pytest

from shared.logic.measures.deck import ecqm_dir, load_cases
from shared.logic.measures.valuesets import ValueSetIndex

DECKS_MISSING = f"eCQM decks not found at {ecqm_dir()} (set P4P_ECQM_DIR to the shared/ecqm folder)"


@pytest.fixture(scope="session")
def deck_valuesets() -> ValueSetIndex:
    if not load_cases():
        pytest.skip(DECKS_MISSING)
    from shared.logic.measures.agreement import deck_valuesets as load

    return load()
