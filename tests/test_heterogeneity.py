"""Segment differences: Cochran's Q equals the pooled model's interaction test; Holm as R."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests

from helpers import heterogeneity
from helpers.headlines import adjusted_p, format_p, p_phrase


def test_q_equals_the_wald_test_of_the_fully_interacted_pooled_model() -> None:
    rng = np.random.default_rng(5)
    parts = []
    for seg, slope, n in (("A", 0.2, 80), ("B", 0.5, 60), ("C", -0.1, 50)):
        x = rng.normal(size=n)
        parts.append(pd.DataFrame({"seg": seg, "x": x,
                                   "y": slope * x + rng.normal(0, 1 + (seg == "B"), n)}))
    data = pd.concat(parts, ignore_index=True)
    # separate fits, robust (HC0) SEs: the pooled model's covariance is block-diagonal
    est, se = [], []
    for _, part in data.groupby("seg"):
        fit = smf.ols("y ~ x", part).fit(cov_type="HC0")
        est.append(fit.params["x"])
        se.append(fit.bse["x"])
    q, df, p = heterogeneity.cochran_q(est, se)
    pooled = smf.ols("y ~ C(seg) * x", data).fit(cov_type="HC0")
    wald = pooled.wald_test("C(seg)[T.B]:x = 0, C(seg)[T.C]:x = 0", scalar=True)
    assert q == pytest.approx(float(wald.statistic), rel=1e-8)
    assert (df, p) == (2, pytest.approx(float(wald.pvalue), rel=1e-8))


def test_holm_matches_statsmodels_and_r() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.5, 0.04]
    assert adjusted_p(p, "holm") == pytest.approx(multipletests(p, method="holm")[1])
    # R: p.adjust(c(0.01, 0.02, 0.03), "holm") = 0.03 0.04 0.04
    assert adjusted_p([0.01, 0.02, 0.03], "holm") == pytest.approx([0.03, 0.04, 0.04])


def _row(key, est, se, verdict="negative"):
    lo, hi = (None, None) if est is None else (est - 1.96 * se, est + 1.96 * se)
    return {"key": key, "label": key, "estimate": est, "std_error": se,
            "ci_low": lo, "ci_high": hi, "verdict": verdict}


def test_segment_tests_by_dimension_with_waves_and_unestimable_parts() -> None:
    reports = [
        ({}, [_row("a4", -0.5, 0.1)]),  # whole sample: not a part
        ({"country": "DE"}, [_row("a4", -0.6, 0.2)]),
        ({"country": "NL"}, [_row("a4", 0.9, 0.3)]),
        ({"country": "SE"}, [_row("a4", None, None, "not estimable")]),
        ({"wave": 1}, [_row("a4", -0.4, 0.1)]),
        ({"wave": 2}, [_row("a4", -0.6, 0.1)]),
        ({"size_band": "<250"}, [_row("a4", -0.5, 0.2)]),
    ]
    table = heterogeneity.segment_tests(reports).set_index("dimension")
    country = table.loc["country"]
    q, df, p = heterogeneity.cochran_q([-0.6, 0.9], [0.2, 0.3])
    assert (country["parts"], country["left_out"], country["df"]) == (2, 1, 1)
    assert country["q"] == pytest.approx(q) and country["p_value"] == pytest.approx(p)
    assert country["p_holm"] == pytest.approx(p)  # the only test of this notebook
    assert "segments differ" in country["reading"]
    assert np.isnan(table.loc["wave", "q"]) and "not independent" in table.loc["wave", "reading"]
    assert "fewer than two" in table.loc["size_band", "reading"]


def test_a_standard_error_comes_back_from_a_symmetric_interval_only() -> None:
    assert heterogeneity._std_error({"estimate": 1.0, "ci_low": 0.608, "ci_high": 1.392}) == \
        pytest.approx(0.2, rel=1e-3)
    assert heterogeneity._std_error({"estimate": 1.0, "ci_low": 0.9, "ci_high": 1.6}) is None


def test_the_index_shows_the_tests_escaped(tmp_path: Path) -> None:
    import html
    from types import SimpleNamespace

    from helpers.batch import index as batch_index
    from helpers.batch.jobs import Job

    def item(segment, rows):
        doc = {"status": "ok", "results": {heterogeneity.KEY: {"rows": rows}}}
        job = Job(Path("notebooks/02_disconnect_profile.ipynb"), "x", {"segment": segment})
        return batch_index.Item(SimpleNamespace(job=job), doc, "reused", batch_index.estimates(doc))

    rows_de = [{**_row("k", -0.6, 0.2), "label": "<b>gap</b>"}]
    rows_nl = [{**_row("k", 0.9, 0.3), "label": "<b>gap</b>"}]
    page = batch_index.heatmap([item({}, rows_de), item({"country": "DE"}, rows_de),
                          item({"country": "NL"}, rows_nl), item({"country": "SE"}, [])],
                         {"country": "d0"}, tmp_path)
    expected = heterogeneity.segment_tests([({"country": "DE"}, rows_de),
                                            ({"country": "NL"}, rows_nl)])
    p_holm = expected.loc[0, "p_holm"]
    assert "Segments differ?" in page and "&lt;b&gt;gap&lt;/b&gt;" in page and "<b>gap" not in page
    assert f"The segments by Country differ: Holm-corrected {p_phrase(p_holm)}" in \
        html.unescape(page)
    assert f'differ<span class="sm">p {html.escape(format_p(p_holm))}</span>' in page
    assert batch_index.heatmap([item({}, [])], {}, tmp_path) == ""
