from __future__ import annotations

import pytest

from cli.ecqm_decks import ENV_VAR, ecqm_dir, load_cases
from shared.programs.measures import ValueSets

DECKS_MISSING = f"eCQM decks not found at {ecqm_dir()} (set {ENV_VAR} to the shared/ecqm folder)"


@pytest.fixture(scope="session")
def deck_valuesets() -> ValueSets:
    if not load_cases():
        pytest.skip(DECKS_MISSING)
    from cli.ecqm_decks import deck_valuesets as load

    return load()
