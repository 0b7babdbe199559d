"""Take-away: every shown table carries CSV, Excel and (model tables) LaTeX downloads, every figure
PNG and SVG downloads, all as data: URLs that decode to valid files holding exactly what the
report shows; numbers in the reader's locale; text left- and numbers right-aligned."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from openpyxl import load_workbook  # noqa: E402

from helpers import headlines, i18n, plots, privacy, results, tables  # noqa: E402

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def english() -> None:
    i18n.set_language("EN")
    yield
    i18n.set_language("EN")


def links(html: str) -> dict[str, tuple[str, str, bytes]]:
    """Download links by extension: (file name, MIME type, decoded bytes)."""
    found = {}
    for name, mime, data in re.findall(
            r'<a class="dl-download" download="([^"]+)" href="data:([^;]+);base64,([^"]+)"', html):
        found[name.rsplit(".", 1)[1]] = (name, mime, base64.b64decode(data))
    return found


def model_table() -> pd.DataFrame:
    return pd.DataFrame({
        "term": ["Intercept", "C(size_band)[T.250-999]", "cofunded_projects"],
        "estimate": [1234.56789, -0.00004, 0.25],
        "ci_low": [1000.0, -0.3, 0.1], "ci_high": [1500.0, 0.3, 0.4],
        "p_value": [1.29e-21, 0.0123, 0.5],
        "n": [1200.0, 359.0, 359.0],
        "verdict": ["positive", "no evidence", "not detectable"]})


def test_model_table_downloads_decode_to_the_shown_values() -> None:
    html = tables.show(model_table(), "Drivers: firm-level model", decimals=2).data
    found = links(html)
    assert set(found) == {"csv", "xlsx", "tex"}
    assert found["csv"][0] == "table-drivers-firm-level-model.csv"
    csv = found["csv"][2]
    assert csv.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark, for Excel
    frame = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")
    assert list(frame.columns) == ["Term", "Estimate", "CI lower", "CI upper", "p", "n", "Verdict"]
    assert frame["Term"].tolist()[1] == "Size band (employees): 250-999"
    assert frame["Estimate"].tolist() == [1234.57, 0.0, 0.25]  # rounded as shown, no -0.0
    assert frame["n"].tolist() == [1200, 359, 359] and frame["n"].dtype.kind == "i"
    assert frame["p"].tolist() == [1.29e-21, 0.0123, 0.5]
    assert frame["Verdict"].tolist() == ["positive", "no evidence", "not detectable"]
    book = load_workbook(io.BytesIO(found["xlsx"][2]))
    sheet = book.active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "Drivers: firm-level model"
    header = rows.index(["Term", "Estimate", "CI lower", "CI upper", "p", "n", "Verdict"])
    assert rows[header + 1][:2] == ["Intercept", 1234.57] and rows[header + 1][5] == 1200
    assert sheet.cell(row=header + 2, column=6).number_format == "#,##0"
    import time

    time.sleep(1.1)  # a workbook written a second later is the same file
    assert links(tables.show(model_table(), "Drivers: firm-level model", decimals=2).data) == found
    tex = found["tex"][2].decode()
    for piece in (r"\toprule", r"\midrule", r"\bottomrule", r"\caption{Drivers: firm-level model}",
                  r"\label{tab:drivers-firm-level-model}", r"\begin{tabular}{lrrrrrl}",
                  r"Size band (employees): 250-999 & 0.00 & $-$0.30", r"\textless{} .001", "1,200"):
        assert piece in tex, piece


def test_non_model_tables_have_no_latex_unless_asked() -> None:
    df = pd.DataFrame({"vendor": ["a", "b"], "amount_eur": [27438973.063279297, 1.5]})
    assert set(links(tables.show(df, "Vendors").data)) == {"csv", "xlsx"}
    assert "tex" in links(tables.show(df, "Vendors", latex=True).data)
    assert set(links(tables.show(df, "Vendors", download=False).data)) == set()


def test_hostile_text_is_escaped_in_the_page_and_kept_as_text_in_the_files() -> None:
    df = pd.DataFrame({"vendor": [HOSTILE, "=HYPERLINK(\"http://x\")"], "n": [12, 30]})
    html = tables.show(df, f"Vendors {HOSTILE}").data
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    found = links(html)
    assert found["csv"][0] == "table-vendors-img-src-x-onerror-alert-1.csv"  # a safe file name
    frame = pd.read_csv(io.BytesIO(found["csv"][2]), encoding="utf-8-sig")
    assert frame.iloc[0, 0] == HOSTILE  # text survives as text
    assert frame.iloc[1, 0] == "'=HYPERLINK(\"http://x\")"  # never a formula in a spreadsheet
    sheet = load_workbook(io.BytesIO(found["xlsx"][2])).active
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any(c.value == HOSTILE for c in cells)
    assert all(c.data_type != "f" for c in cells)


def test_suppressed_cells_stay_suppressed_in_every_download() -> None:
    raw = pd.DataFrame({"segment": ["A", "B", "C"], "n_firms": [40, 3, 12],
                        "mean_cmo": [3.2, 4.9, 3.1]})
    shown = privacy.suppress_small_groups(raw, ["n_firms"], ["mean_cmo"], min_cell=5)
    html = tables.show(shown, "By segment").data
    assert "4.9" not in html and "&lt;5" in html
    found = links(html)
    frame = pd.read_csv(io.BytesIO(found["csv"][2]), encoding="utf-8-sig", dtype=str,
                        keep_default_na=False)
    row = frame[frame.iloc[:, 0] == "B"].iloc[0].tolist()
    assert "<5" in row and "4.9" not in row and "3" not in row
    values = [c for r in load_workbook(io.BytesIO(found["xlsx"][2])).active.iter_rows(
        values_only=True) for c in r]
    assert "<5" in values and 4.9 not in values and 3 not in values


def test_german_numbers_counts_and_p_values() -> None:
    i18n.set_language("DE")
    df = pd.DataFrame({"n_pairs": [1359.0, 359.0], "estimate": [1234.5678, -0.00001],
                       "p_value": [0.0004, 0.0123], "share": [12.345, 0.5]})
    html = tables.show(df, "Tabelle", decimals=2, percent=("share",)).data
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells == ["1.359", "1.234,57", "&lt; 0,001", "12,35\u202f%",
                     "359", "0,00", "0,012", "0,50\u202f%"]
    assert "−0" not in html and "359.00" not in html and "359,00" not in html
    assert ">Paare<" in html or ">Pairs<" in html  # a label, never n_pairs
    assert "n_pairs" not in re.sub(r'href="[^"]*"', "", html)
    assert headlines.format_p(0.0123) == "0,012" and headlines.format_p(1e-9) == "< 0,001"
    i18n.set_language("EN")
    assert headlines.format_p(0.0123) == ".012" and headlines.format_p(1e-9) == "< .001"


def test_counts_are_integers_with_separators_and_amounts_grouped() -> None:
    df = pd.DataFrame({"label": ["a", "b"], "n": [359.0, 12000.0],
                       "amount_eur": [27438973.063279297, 12.0], "difference_pp": [-0.04, 1.2]})
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", tables.show(df, "t", index=False).data)
    assert cells == ["a", "359", "27,438,973", "0.0", "b", "12,000", "12", "1.2"]


def test_text_left_numbers_right_and_a_wrapping_container() -> None:
    df = pd.DataFrame({"construct": ["Mutual trust"], "estimate": [0.5]})
    html = tables.show(df, "t").data
    assert html.startswith('<div class="dl-table"><table')
    assert re.search(r'<th class="dl-text"[^>]*style="text-align:left[^"]*"[^>]*>Construct</th>', html)
    assert re.search(r'<th class="dl-num"[^>]*style="text-align:right[^"]*"[^>]*>Estimate</th>', html)
    assert re.search(r'<td class="dl-text" style="text-align:left[^"]*">Mutual trust</td>', html)
    assert re.search(r'<td class="dl-num" style="text-align:right[^"]*">0.5</td>', html)
    assert "<caption>t</caption>" in html


def test_shown_tables_reach_the_results_file_once_each() -> None:
    from types import SimpleNamespace

    shown = tables.show(model_table(), "Model", decimals=2)
    bundle = shown._repr_mimebundle_()
    cell = {"cell_type": "code", "outputs": [
        {"output_type": "execute_result", "data": bundle, "metadata": {}},
        {"output_type": "display_data", "data": {results.MIME: results.payload("k", 1.0)}}]}
    found = results.collect(SimpleNamespace(cells=[cell]))
    assert found["k"] == {"kind": "value", "value": 1.0}
    [entry] = found["tables"]["tables"]
    assert entry["caption"] == "Model" and entry["columns"][0] == "Term"
    assert entry["rows"][0][:2] == ["Intercept", 1234.57] and entry["rows"][0][5] == 1200
    assert [set(o["data"]) for o in cell["outputs"]] == [{"text/html"}]  # the table stays


def test_figures_are_shown_with_png_and_svg_downloads() -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0.5, 1.5])
    ax.set_title(f"Shares {HOSTILE}")
    html = plots.figure_html(fig)
    plt.close(fig)
    assert html.startswith('<figure class="dl-figure"') and "<figcaption>" in html
    assert HOSTILE not in html and 'alt="Shares &lt;img src=x onerror=alert(1)&gt;"' in html
    found = links(html)
    assert found["png"][2].startswith(b"\x89PNG\r\n\x1a\n")
    root = ET.fromstring(found["svg"][2])
    assert root.tag.endswith("svg")
    assert not [e for e in root.iter() if e.tag.endswith(("script", "foreignObject", "img"))]
    assert HOSTILE.encode() not in found["svg"][2]  # the title is text in the SVG too
    assert found["svg"][0] == "figure-shares-img-src-x-onerror-alert-1.svg"
    assert plots.figure_files(fig) == plots.figure_files(fig)  # the same every run


def test_german_ticks_use_a_decimal_comma() -> None:
    i18n.set_language("DE")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0.25, 0.75])
    plots.localise_ticks(fig)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    plt.close(fig)
    assert any("," in t for t in labels) and not any("." in t for t in labels), labels


def test_nothing_to_plot_means_no_chart() -> None:
    assert plots.nothing_to_plot(pd.Series([0.0, np.nan, 0]))
    assert plots.nothing_to_plot([])
    assert not plots.nothing_to_plot(pd.Series([0.0, 2.5]))
    assert plots.horizontal_bars(pd.Series([0.0] * 45, index=[f"i{k}" for k in range(45)]),
                                 title="t", xlabel="x") is None
    assert plots.grouped_bars(pd.DataFrame({"CMO": [0, 0], "CIO": [0, 0]}), title="t",
                              xlabel="x", ylabel="y") is None
    fig = plots.horizontal_bars(pd.Series([0.0, 3.0], index=["a", "b"]), title="t", xlabel="x")
    assert fig is not None
    plt.close(fig)


def test_the_fast_number_format_equals_the_locale_one() -> None:
    values = [0.0, -0.0004, 0.125, 2.675, -1234.5678, 27438973.063279297, 999.995, -1e-12, 7]
    for language in ("EN", "DE", "NL", "DA"):
        for v in values:
            for decimals in (0, 1, 2, 3):
                assert tables.number(v, decimals, language) == i18n.number(v, decimals, language)


def test_years_and_waves_show_without_a_thousands_separator() -> None:
    frame = pd.DataFrame({"year": [2022, 2023], "n": [1234, 56]})
    with i18n.using("DE"):
        html = tables.show(frame, "Per year", index=False).data
    assert ">2022<" in html and ">2023<" in html and "2.022" not in html
    assert ">1.234<" in html  # a count keeps its separator
