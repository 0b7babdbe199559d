"""The APIM reading says what its numbers say (issue 11: every verdict follows from the numbers).

Simulated dyads with a known pattern — strong actor associations, no partner association for the
CMO's outcome and a partner association equal to the actor one for the CIO's — go through the
function the dyadic report calls; each sentence's verdict is checked against the interval the
same result carries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.measurement.apim import apim, reading


def _pairs(n: int = 600, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x_cmo, x_cio = rng.normal(size=n), rng.normal(size=n)
    y_cmo = 0.5 * x_cmo + 0.0 * x_cio + rng.normal(0, 1, n)
    y_cio = 0.4 * x_cio + 0.4 * x_cmo + rng.normal(0, 1, n)
    return pd.DataFrame({"x_cmo": x_cmo, "x_cio": x_cio, "y_cmo": y_cmo, "y_cio": y_cio})


def test_reading_follows_the_intervals() -> None:
    fit = apim(_pairs(), "x_cmo", "x_cio", "y_cmo", "y_cio", n_boot=300, seed=1)
    text = reading(fit, "trust", "success")
    sentences = [s.strip() + "." for s in text.split(").") if s.strip()]
    effects = fit.effects.set_index(["role", "effect"])
    order = [("CMO", "actor"), ("CMO", "partner"), ("CIO", "actor"), ("CIO", "partner")]
    for sentence, key in zip(sentences, order, strict=False):
        row = effects.loc[key]
        excludes_zero = row["ci_low"] > 0 or row["ci_high"] < 0
        assert ("no clear association" not in sentence) == excludes_zero, sentence
        assert f"{i18n.number(row['estimate'], 2)} points" in sentence
    assert "no clear association" in sentences[1]  # the CMO's outcome has no partner effect
    k = fit.k.set_index("role")
    lo, hi = k.loc["CIO", "boot_ci_low"], k.loc["CIO", "boot_ci_high"]
    if lo <= 1 <= hi and not lo <= 0 <= hi:
        assert "For the CIO" in text and "couple pattern" in text.split("For the CIO")[1]
    lo, hi = k.loc["CMO", "boot_ci_low"], k.loc["CMO", "boot_ci_high"]
    if lo <= 0 <= hi and not lo <= 1 <= hi:
        assert "actor-only" in text.split("For the CMO")[1].split("For the CIO")[0]
    assert "effect of" not in text  # associations, never causal wording


def test_agreement_reading_follows_the_table() -> None:
    from helpers.measurement.agreement import agreement_reading

    table = pd.DataFrame({"label": ["trust", "speed", "data"], "icc1": [0.4, 0.05, 0.8],
                          "p_value": [0.001, 0.3, 0.0001], "share_gap_1plus": [0.3, 0.6, 0.1]})
    text = agreement_reading(table)
    assert "agree most on data (ICC(1) = 0.80, 10\u202f% of pairs" in text
    assert "least on speed (ICC(1) = 0.05, 60\u202f% apart)" in text
    assert "2 of 3 constructs show agreement" in text and "cannot tell" in text
    all_clear = agreement_reading(table.assign(p_value=0.001))
    assert "3 of 3" in all_clear and "cannot tell" not in all_clear
    assert "No agreement statistic" in agreement_reading(table.assign(icc1=np.nan))
