"""Privacy: keyed pseudonyms, small-group suppression, rare-category pooling, segment guard."""

from __future__ import annotations

import json

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import privacy


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "secrets" / "pseudonym.key"
    monkeypatch.setenv(privacy.KEY_ENV, str(path))
    return path


def test_key_is_generated_once_with_owner_only_permissions(key_file: Path) -> None:
    assert not key_file.exists()
    first = privacy.pseudonym_key()
    assert key_file.exists() and len(first) == 32
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert privacy.pseudonym_key() == first


def test_pseudonyms_are_stable_keyed_and_unlinkable(key_file: Path) -> None:
    ids = pd.Series(["F0001", "F0002", "F0001", None], dtype="object")
    a = privacy.pseudonymise(ids, "F")
    assert a[0] == a[2] and a[0] != a[1] and pd.isna(a[3])
    assert all(str(v).startswith("F-") and len(str(v)) == 14 for v in a[:3])
    assert "0001" not in "".join(map(str, a[:3]))
    key_file.write_bytes(b"x" * 32)  # another key: other pseudonyms
    b = privacy.pseudonymise(ids, "F")
    assert (a[:3] != b[:3]).all()


def test_suppress_small_groups_blanks_values_and_counts() -> None:
    t = pd.DataFrame({"item": ["a", "b", "c"], "n": [3, 12, 0], "share": [0.9, 0.4, np.nan]})
    out = privacy.suppress_small_groups(t, ["n"], ["share"], min_cell=5)
    assert out.loc[0, "n"] == "<5" and pd.isna(out.loc[0, "share"])
    assert out.loc[1, "share"] == 0.4 and out.loc[1, "n"] == 12
    assert out.attrs["suppressed"] == 1
    assert t.loc[0, "share"] == 0.9  # input untouched


def test_pool_rare_merges_small_categories() -> None:
    df = pd.DataFrame({"country": ["DE"] * 6 + ["NL"] * 5 + ["NO"] * 2 + ["LU"]})
    out = privacy.pool_rare(df, ["country"], min_cell=5)  # no firm column: rows only
    assert out["country"].value_counts().to_dict() == {"DE": 6, "Other": 8}
    # "Other" of 3 cannot stand alone and DE is all that is left: one category
    out = privacy.pool_rare(df[df["country"] != "NL"], ["country"], min_cell=5)
    assert out["country"].unique().tolist() == ["Other"]


def test_segment_guard(survey_factory) -> None:
    privacy.check_segment(survey_factory(5), min_cell=5)
    with pytest.raises(privacy.TooFewResponses, match="fewer than 5 CMOs and CIOs"):
        privacy.check_segment(survey_factory(4), min_cell=5)
    df = survey_factory(6)
    with pytest.raises(privacy.TooFewResponses, match="CIO"):
        privacy.check_segment(df[(df["role"] == "CMO") | (df.index < 4)], min_cell=5)
    with pytest.raises(privacy.TooFewResponses, match="pairs"):
        privacy.check_count(3, 20, "CMO–CIO pairs")


def test_mask_small_for_plots() -> None:
    t = pd.DataFrame({"CMO": [12, 3, 0]}, index=["DE", "NL", "DK"])
    out = privacy.mask_small(t, 5)
    assert out.loc["DE", "CMO"] == 12 and pd.isna(out.loc["NL", "CMO"]) and out.loc["DK", "CMO"] == 0


# --------------------------------------------------------------------------- rendered batch
def _decoded(mime: str, data: str) -> str:
    """The text inside an embedded download (a workbook's cell values)."""
    import base64
    import io

    payload = base64.b64decode(data)
    if mime.endswith("spreadsheetml.sheet"):
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(payload), read_only=True)
        return " ".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                        for v in row if v is not None)
    return payload.decode("utf-8", errors="replace")


def _forms(value: str) -> set[str]:
    """A value as it could appear in HTML or JSON text: raw, HTML-escaped, JSON-escaped."""
    import html
    import json

    return {value, html.escape(value), json.dumps(value)[1:-1]}


@pytest.mark.slow
def test_no_personal_value_reaches_any_report_or_results_file(rendered_batch: Path,
                                                              sample_processed: Path) -> None:
    import re

    raw = pd.read_parquet(sample_processed / "raw" / "survey.parquet")
    personal = set()
    for column in ("name", "email", "ip_address", "comment", "respondent_id", "firm_id"):
        personal |= {str(v) for v in raw[column].dropna().unique() if len(str(v)) >= 4}
    assert len(personal) > 100  # the sample really carries personal fields to look for
    files = sorted(rendered_batch.rglob("*.html")) + sorted(rendered_batch.rglob("*.json"))
    assert any(f.name == "index.html" for f in files) and len(files) > 20
    hits = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        # embedded images out; embedded downloads (CSV, Excel, LaTeX, SVG) in, decoded
        text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
        text = re.sub(r"data:([a-z0-9.+/-]+);base64,([A-Za-z0-9+/=]+)",
                      lambda m: _decoded(m.group(1), m.group(2)), text)
        for value in personal:
            if any(form in text for form in _forms(value)):
                hits.append(f"{path.relative_to(rendered_batch)}: {value!r}")
    assert not hits, "personal values found in outputs:\n" + "\n".join(hits[:20])


@pytest.mark.slow
def test_small_segments_render_too_few_pages(rendered_batch: Path) -> None:
    pages = [p for p in rendered_batch.rglob("*.html") if p.name != "index.html"]
    too_few = [p for p in pages if p.with_suffix(".json").exists()
               and "too_few" in json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))]
    # published segments meet min_cell; the dyadic report's own minimum of pairs (20) is not met
    # by the smaller ones, which stop with a "too few" page
    assert too_few, "the 80-firm sample has segments with too few pairs for the dyadic report"
    for page in too_few:
        text = page.read_text(encoding="utf-8")
        assert "<table" not in text and "data:image/png" not in text, page.name
