"""Shared fixtures: the codebook and a factory for small, valid survey frames."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from helpers.codebook import Codebook, load_codebook


@pytest.fixture(scope="session")
def cb() -> Codebook:
    return load_codebook()


def build_valid_survey(cb: Codebook, n_firms: int = 3, wave: int = 1) -> pd.DataFrame:
    """``n_firms`` firms, each with a CMO and a CIO, every item answered where the role is asked."""
    records = []
    for firm in range(n_firms):
        for r, role in enumerate(cb.roles):
            row = {
                "respondent_id": f"R{firm}{role}{wave}", "firm_id": f"F{firm}", "role": role,
                "country": "DE", "industry": "Retail", "size_band": "250-999", "wave": wave,
                "language": "EN", "duration_seconds": 600.0 + 10 * firm + r,
            }
            for k, item in enumerate(cb.items.values()):
                width = item.scale.max - item.scale.min + 1
                value = item.scale.min + (k + firm + r) % width
                row[item.id] = float(value) if role in item.roles else np.nan
            records.append(row)
    return pd.DataFrame(records)


@pytest.fixture
def survey_factory(cb: Codebook) -> Callable[..., pd.DataFrame]:
    """Call with ``n_firms=`` and ``wave=`` to get a valid survey frame."""
    return lambda n_firms=3, wave=1: build_valid_survey(cb, n_firms, wave)
