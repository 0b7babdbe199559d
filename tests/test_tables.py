"""Tables and readings show values from the data as text: nothing in a value becomes markup."""

from __future__ import annotations

import re

import pandas as pd

from helpers import tables

HOSTILE = "<img src=x onerror=alert(1)>"


def test_show_escapes_cells_labels_and_label_names() -> None:
    df = pd.DataFrame({"vendor": [HOSTILE, "<NO MERCHANT>"], "amount": [1.5, 2.0]},
                      index=pd.Index(["<b>row</b>", "plain"], name="<i>name</i>"))
    df.columns = pd.Index(["<script>x</script>", "amount"], name="<u>cols</u>")
    page = tables.show(df, "caption <em>", note="a note <s>").data
    for raw in (HOSTILE, "<NO MERCHANT>", "<b>", "<i>", "<script>", "<u>", "<s>"):
        assert raw not in page
    assert "caption &lt;em&gt;" in page  # the caption is text too
    assert "&lt;NO MERCHANT&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "1.5" in page  # numbers keep their formatting


def test_show_escapes_non_text_values_too() -> None:
    df = pd.DataFrame({"c": pd.Categorical([HOSTILE])})
    assert HOSTILE not in tables.show(df, "t").data


def test_readings_are_text_with_code_spans_only() -> None:
    text = tables.say(f"*{HOSTILE}* excluded: <5 respondents & more; run `make data`\n\n"
                      "[x](javascript:alert(1)) # not a heading $a$").data
    assert HOSTILE not in text and "&lt;5 respondents &amp; more" in text
    assert text.startswith("<p>*&lt;img")  # a star from the data is no emphasis
    assert "<code>make data</code></p><p>[x](javascript:alert(1)) # not a heading $a$</p>" in text
    assert "<a " not in text and "href" not in text


def test_p_values_print_as_journals_print_them() -> None:
    from helpers import tables
    table = pd.DataFrame({"term": ["a", "b", "c"], "p_value": [1.29e-21, 0.0123, 0.99995],
                          "p_adj": [0.0004, None, 1.0], "estimate": [0.5, 0.25, 1.0]})
    html = tables.show(table, "t", decimals=2).data
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells == ["a", "&lt; .001", "&lt; .001", "0.50", "b", ".012", "", "0.25",
                     "c", "1.000", "1.000", "1.00"]
    assert "e-21" not in html and "0.000" not in html


def test_headlines_table_escapes_and_flags_exploratory_samples() -> None:
    from helpers import headlines as hl
    from helpers import tables
    row = hl.Headline(key="k", label="<img src=x>", unit="points", estimate=-0.5, ci_low=-0.9,
                      ci_high=-0.1, p_value=0.0004, n=40, n_unit="pairs", verdict="exploratory",
                      reading="Reading with <script>", method="m", power=0.4)
    html = tables.headlines([row], "Headline").data
    assert "<img" not in html and "<script>" not in html and "&lt;img src=x&gt;" in html
    assert "−0.50 [−0.90, −0.10]" in html and "&lt; .001" in html and "40\u202f%" in html
    assert "Exploratory:" in html and "40 pairs" in html and "exploratory</td>" in html
    confirmed = hl.Headline(**{**row.__dict__, "verdict": "negative"})
    assert "Exploratory:" not in tables.headlines([confirmed], "Headline").data
