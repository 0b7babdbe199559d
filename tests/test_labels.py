"""Labels, never variable names: registered column labels, model terms, coded values and their
translations; tables show them."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from helpers import headlines, i18n, labels, tables
from helpers.i18n import N_


@pytest.fixture(autouse=True)
def english() -> None:
    i18n.set_language("EN")
    yield
    i18n.set_language("EN")


def test_generic_columns_have_labels_and_counts_are_known() -> None:
    for name in ("n_pairs", "n_cmo", "ci_low_adjusted", "p_unadjusted", "effect_measure",
                 "difference_pp", "amount_eur", "std_error", "verdict", "note"):
        label = labels.column(name)
        assert label != name and "_" not in label, (name, label)
    assert labels.column("n_pairs") == "Pairs" and labels.column("ci_high") == "CI upper"
    assert labels.is_count("n_pairs") and labels.is_count("n") and not labels.is_count("estimate")
    assert labels.column("not_a_registered_column") == "not_a_registered_column"


def test_german_labels_terms_and_verdicts() -> None:
    assert labels.column("n_pairs", "DE") == "Paare"
    assert labels.column("std_error", "DE") == "Standardfehler"
    assert labels.column("estimate", "NL") == "Schatting"
    assert labels.column("n_firms", "DA") == "Virksomheder"
    assert labels.term("Intercept", "DE") == "Achsenabschnitt"
    assert labels.value("verdict", "no evidence", "DE") == "kein Hinweis"
    assert labels.value("verdict", "not detectable", "EN") == "not detectable"
    for code in headlines.VERDICTS:  # every verdict code has a word in every language
        for lang in ("DE", "NL", "DA"):
            assert labels.value("verdict", code, lang) != code, (code, lang)


def test_terms_read_as_names() -> None:
    assert labels.term("C(size_band)[T.250-999]") == "Size band (employees): 250-999"
    assert labels.term("C(wave)[T.2.0]") == "Wave: 2"
    assert labels.term("remote[T.True]") == "remote: yes"
    assert " × " in labels.term("C(size_band)[T.250-999]:C(wave)[T.2.0]")


def test_registered_terms_and_values_are_used_by_tables() -> None:
    labels.register({"test_model_term": N_("Predictor"), "test_status": N_("Status")},
                    terms={"test_model_term"},
                    values={"test_status": {"ok_code": N_("usable")}})
    assert labels.holds_terms("test_model_term") and labels.has_values("test_status")
    df = pd.DataFrame({"test_model_term": ["C(wave)[T.2.0]"], "test_status": ["ok_code"],
                       "n_pairs": [359.0], "verdict": ["no evidence"]})
    html = tables.show(df, "t").data
    cells = re.findall(r"<t[dh][^>]*>([^<]*)</t[dh]>", html)
    assert cells == ["Predictor", "Status", "Pairs", "Verdict",
                     "Wave: 2", "usable", "359", "no evidence"]
    i18n.set_language("DE")
    cells = re.findall(r"<t[dh][^>]*>([^<]*)</t[dh]>", tables.show(df, "t").data)
    assert cells[2:4] == ["Paare", "Befund"] and cells[4] == "Welle: 2" and cells[7] == "kein Hinweis"


def test_headlines_table_in_german() -> None:
    i18n.set_language("DE")
    row = headlines.Headline(key="k", label="Gegenseitiges Vertrauen", unit="", estimate=-1234.5,
                             ci_low=-2000.25, ci_high=-100.0, p_value=0.0123, n=1359,
                             n_unit="pairs", verdict="negative", reading="", method="m",
                             power=0.876)
    html = tables.headlines([row], "Kopfzahlen").data
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert "−1.234,50 [−2.000,25, −100,00]" in cells and "0,012" in cells
    assert "88\u202f%" in cells and "negativ" in cells and any(c.startswith("1.359") for c in cells)
    assert "Schätzung [95-%-KI]" in html and "Befund" in html


def test_a_table_can_name_a_column_its_own_way() -> None:
    df = pd.DataFrame({"k": [3], "estimate": [0.5]})
    html = tables.show(df, "t", headers={"k": "Parameters"}).data
    assert re.findall(r"<th[^>]*>([^<]*)</th>", html) == ["Parameters", "Estimate"]


def test_forest_plots_name_terms_not_variables() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers import plots

    table = pd.DataFrame({"term": ["C(size_band)[T.250-999]", "C(wave)[T.2.0]"],
                          "estimate": [0.1, -0.2], "ci_low": [0.0, -0.4], "ci_high": [0.2, 0.0]})
    fig = plots.interval_plot(table, label="term", title="t", xlabel="Points")
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    plt.close(fig)
    assert ticks == ["Size band (employees): 250-999", "Wave: 2"]


def _import_every_helper() -> None:
    import importlib
    import pkgutil

    import helpers

    for info in pkgutil.walk_packages(helpers.__path__, "helpers."):
        if info.name != "helpers.__main__":
            importlib.import_module(info.name)


def test_a_column_name_has_one_label_across_the_helpers() -> None:
    """With two labels for one name the label shown would depend on which modules a report
    imported (fork engine and fresh kernel would differ): every helper imports, none conflicts."""
    _import_every_helper()
    assert labels.conflicts() == {}


def test_a_second_label_for_a_name_is_refused() -> None:
    labels.register({"test_conflicting_name": N_("One")})
    labels.register({"test_conflicting_name": N_("One")})  # the same label again is fine
    _register_elsewhere({"test_conflicting_name": "One"})
    with pytest.raises(ValueError, match="test_conflicting_name.*one label"):
        _register_elsewhere({"test_conflicting_name": "Another"})
    with pytest.raises(ValueError, match="'estimate'"):
        _register_elsewhere({"estimate": "Coefficient"})  # a generic label too
    assert labels.column("test_conflicting_name") == "One"


def _register_elsewhere(columns: dict[str, str]) -> None:
    exec("from helpers import labels\nlabels.register(columns)",  # noqa: S102 - another module
         {"__name__": "tests.elsewhere", "columns": columns})
