"""Disclosure control by design: the rules of :mod:`helpers.privacy`, case by case.

Published segments are one partition per dimension whose parts each hold none or at least
``min_cell`` of every unit, so the whole sample minus any published segments is nothing or a
group of at least ``min_cell``; count tables withhold small cells with their complements
(checked here with scipy's linprog as a reader would bound them); model terms never describe a
small group; results files carry the precision the reports show.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from helpers import privacy, processing, quality, results, spend_report
from helpers.batch import plan as batch_plan
from helpers.errors import DataError

MIN = 5
INDUSTRIES = ["Retail", "Health", "Telecom and media", "Manufacturing"]


def survey(firms: dict[str, int], *, waves: int = 1, industry: dict[str, str] | None = None,
           cio_missing: int = 0) -> pd.DataFrame:
    """``firms``: country -> number of firms, each with a CMO and a CIO in every wave;
    ``industry``: country -> the one industry of all its firms (else industries rotate);
    ``cio_missing``: that many firms (the first ones) lack their CIO."""
    rows, k = [], 0
    for country, n in firms.items():
        for _ in range(n):
            firm = f"F{k:03d}"
            for wave in range(1, waves + 1):
                for role in ("CMO", "CIO"):
                    if role == "CIO" and k < cio_missing:
                        continue
                    rows.append({
                        "respondent_id": f"{firm}-{role}-{wave}", "firm_id": firm, "role": role,
                        "country": country, "wave": wave, "year": 2023 + wave,
                        "industry": (industry or {}).get(country, INDUSTRIES[k % 4]),
                        "size_band": ["<250", "250-999"][k % 2],
                        "imp_1": float(1 + (k + wave) % 5)})
            k += 1
    return pd.DataFrame(rows)


def labels(part: privacy.Partition) -> list[str]:
    return [p.label for p in part.parts]


# --------------------------------------------------------------------------- one dimension
def test_partition_pools_categories_of_one_and_four_and_keeps_exactly_five() -> None:
    df = survey({"DE": 12, "NL": 5, "AT": 4, "LU": 1})
    part = privacy.partition(df, "country", MIN)
    assert labels(part) == ["DE", "NL", "Other (AT, LU)"]
    assert part.published and part.pooled.segment == {"country": ["AT", "LU"]}
    assert part.pooled.key == "other" and part.parts[1].segment == {"country": "NL"}


def test_other_too_small_takes_the_next_smallest_category() -> None:
    part = privacy.partition(survey({"DE": 12, "NL": 6, "SE": 5, "LU": 1}), "country", MIN)
    assert labels(part) == ["DE", "NL", "Other (LU, SE)"]  # LU alone is no group: SE joins


def test_one_firm_per_country_publishes_no_country_segment() -> None:
    df = survey({c: 1 for c in ["DE", "NL", "AT", "LU", "BE", "DK", "SE", "NO"]})
    part = privacy.partition(df, "country", MIN)
    assert not part.published and len(part.parts) == 1
    assert set(part.parts[0].values) == {"DE", "NL", "AT", "LU", "BE", "DK", "SE", "NO"}
    assert "no segment grid" in part.note
    assert "No category of Country" in quality.breakdown_note(part)


def test_a_withdrawn_respondent_turns_five_into_four_and_the_part_into_other() -> None:
    df = survey({"DE": 12, "NL": 5, "AT": 5})
    assert labels(privacy.partition(df, "country", MIN)) == ["AT", "DE", "NL"]
    withdrawn = df.drop(index=df.index[(df["country"] == "AT") & (df["role"] == "CMO")][:1])
    part = privacy.partition(withdrawn, "country", MIN)
    assert labels(part) == ["DE", "Other (AT, NL)"]  # AT alone (4 CMOs) is no group; NL joins
    assert all(not any(0 < n < MIN for n in privacy.Units(withdrawn).of("country", p.values)
                       .values()) for p in part.parts)


def test_one_firm_of_many_respondents_is_not_a_group() -> None:
    """NL: six CMOs and six CIOs, but all of one firm (six waves): one firm is no group."""
    nl = survey({"NL": 1}, waves=6)
    nl = nl.assign(firm_id="NL1", respondent_id="N" + nl["respondent_id"])
    df = pd.concat([survey({"DE": 10, "AT": 6}), nl], ignore_index=True)
    assert labels(privacy.partition(df, "country", MIN)) == ["DE", "Other (AT, NL)"]


def test_complete_pairs_are_a_unit() -> None:
    """SE: five CMOs, five CIOs and seven firms, but only three complete pairs."""
    se = survey({"SE": 5}, cio_missing=2)
    extra = survey({"SE": 2}).query("role == 'CIO'")
    extra = extra.assign(firm_id="X" + extra["firm_id"],
                         respondent_id="X" + extra["respondent_id"])
    se = pd.concat([se, extra])
    se = se.assign(firm_id="S" + se["firm_id"], respondent_id="S" + se["respondent_id"])
    counts = privacy.Units(se).count(np.ones(len(se), dtype=bool))
    assert counts == {"CMO": 5, "CIO": 5, "firms": 7, "pairs": 3}
    df = pd.concat([survey({"DE": 10, "AT": 6}), se], ignore_index=True)
    assert labels(privacy.partition(df, "country", MIN)) == ["DE", "Other (AT, SE)"]
    no_pairs = df[df["role"] == "CMO"]  # no pairs in the data at all: pairs are no minimum
    assert labels(privacy.partition(no_pairs, "country", MIN)) == ["AT", "DE", "SE"]


def test_firm_years_with_spend_are_a_unit() -> None:
    df = survey({"DE": 10, "AT": 6})  # firms F000-F009 in DE, F010-F015 in AT
    budgets = pd.DataFrame({"firm_id": [f"F{k:03d}" for k in range(13)], "year": 2024,
                            "it_budget": 1.0})
    part = privacy.partition(df, "country", MIN, spend={"budgets": budgets})
    assert not part.published  # AT has three firm-years of budgets: nothing can pool it
    assert privacy.partition(df, "country", MIN, spend={"budgets": None}).published
    assert privacy.partition(df, "country", MIN, spend={"budgets": budgets.iloc[:0]}).published


def test_missing_values_are_a_category_of_their_own() -> None:
    df = survey({"DE": 10, "AT": 6, "NL": 2})
    df.loc[df["country"] == "NL", "country"] = None
    part = privacy.partition(df, "country", MIN)
    assert labels(part) == ["DE", "Other (AT, not stated)"]
    assert part.pooled.segment == {"country": ["AT", None]}
    assert len(processing.select_segment(df, part.pooled.segment)) == 16


@pytest.mark.parametrize("seed", range(6))
def test_segments_of_a_dimension_add_up_to_the_whole(seed: int) -> None:
    """Whole minus published segments is nothing; each segment is none or at least min_cell."""
    rng = np.random.default_rng(seed)
    countries = ["DE", "NL", "AT", "LU", "BE", "DK"]
    sizes = rng.integers(0, 9, len(countries))
    df = survey({c: int(n) for c, n in zip(countries, sizes, strict=True) if n}, waves=2)
    df = df.drop(index=rng.choice(df.index, size=len(df) // 8, replace=False))  # withdrawals
    units = privacy.Units(df)
    for column in ("country", "industry", "size_band", "wave"):
        part = privacy.partition(df, column, MIN, counter=units)
        covered = sum(p.mask(df).to_numpy().astype(int) for p in part.parts)
        assert (covered == 1).all()  # every row in exactly one part
        for p in part.parts if part.published else []:
            assert not units.short(units.of(column, p.values), MIN), (column, p.label)


# --------------------------------------------------------------------------- two dimensions
def test_a_segment_nested_in_another_cannot_be_differenced() -> None:
    """Every Retail firm is German, and Germany has three more firms: country DE minus
    industry Retail would describe those three. The joint audit pools one of them away."""
    df = survey({"DE": 13, "NL": 8, "AT": 8})
    de_firms = sorted(df.loc[df["country"] == "DE", "firm_id"].unique())
    df.loc[df["industry"] == "Retail", "industry"] = "Health"
    df.loc[df["firm_id"].isin(de_firms[:10]), "industry"] = "Retail"
    alone = {c: privacy.partition(df, c, MIN) for c in ("country", "industry")}
    assert "DE" in labels(alone["country"]) and "Retail" in labels(alone["industry"])
    found = privacy.audit(privacy.audit_units(df, alone, privacy.AUDIT_UNITS), alone, MIN)
    assert found is not None and found.weight == 3
    assert set(found.columns) == {"country", "industry"}
    joint = privacy.partitions(df, MIN, dimensions=("country", "industry"))
    assert privacy.audit(privacy.audit_units(df, joint, privacy.AUDIT_UNITS), joint, MIN) is None
    published = [set(df.index[p.mask(df)]) for part in joint.values() if part.published
                 for p in part.parts]
    for a, b in itertools.permutations(published, 2):
        if b < a:
            rest = df.loc[sorted(a - b)]
            assert rest["firm_id"].nunique() >= MIN


def test_cut_enumeration_matches_brute_force_on_small_grids() -> None:
    """min_cut finds the smallest group that a combination of the published totals of two
    dimensions isolates: checked against every combination with coefficients -2..2."""
    rng = np.random.default_rng(3)
    for trial in range(30):
        n_p, n_q = [(3, 3), (2, 3), (3, 2)][trial % 3]
        cells = rng.integers(0, 4, size=(n_p, n_q)) * (rng.random((n_p, n_q)) < 0.7)
        units = pd.DataFrame([(p, q) for p in range(n_p) for q in range(n_q)
                              for _ in range(cells[p, q])], columns=["a", "b"])
        if units.empty:
            continue
        units["_firm"] = [f"f{i}" for i in range(len(units))]
        units["_fw"] = units["_firm"]
        found = privacy.min_cut(units, ["a", "b"], [n_p, n_q], min_cell=100)
        best = None
        for coef in itertools.product(range(-2, 3), repeat=n_p + n_q):
            f = np.add.outer(np.array(coef[:n_p]), np.array(coef[n_p:]))
            support = int(cells[(f != 0) & (cells > 0)].sum())
            if support and (best is None or support < best):
                best = support
        assert (found[0] if found else None) == best


def test_cross_segments_need_every_cell_to_meet_the_minimum() -> None:
    df = survey({"DE": 10, "NL": 10}, waves=2)
    privacy.check_cross_segment(df, {"country": "DE", "wave": 2}, privacy.partitions(df, MIN),
                                MIN)
    with pytest.raises(DataError, match="reports.yaml.*cells with fewer than 10"):
        privacy.check_cross_segment(df, {"country": "DE", "size_band": "<250"},
                                    privacy.partitions(df, 10), 10)


# --------------------------------------------------------------------------- explicit segments
def test_segments_that_are_not_unions_of_published_parts_are_refused() -> None:
    df = survey({"DE": 12, "NL": 5, "AT": 4, "LU": 1})
    parts = privacy.partitions(df, MIN)
    assert privacy.segment_view({"country": "DE"}, parts).kind == "part"
    assert privacy.segment_view({"country": ["AT", "LU"]}, parts).kind == "part"  # Other
    assert privacy.segment_view({"country": ["DE", "NL"]}, parts).kind == "union"
    with pytest.raises(DataError, match=r"(?s)reports.yaml.*country = AT is not a union of the "
                                        r"published parts.*Other \(AT, LU\)"):
        privacy.segment_view({"country": "AT"}, parts, "reports.yaml")
    with pytest.raises(DataError, match="segment-not-published"):
        privacy.segment_view({"country": ["DE", "AT"]}, parts, "reports.yaml")
    with pytest.raises(DataError, match="reports are published for segments of country"):
        privacy.segment_view({"language": "EN"}, parts, "reports.yaml")
    with pytest.raises(privacy.TooFewResponses, match="not published"):
        privacy.check_published({"country": "LU"}, parts)
    # a value the data does not hold (every respondent excluded): nobody to describe, no error
    assert privacy.segment_view({"country": "FR"}, parts, "reports.yaml").kind == "empty"
    with pytest.raises(privacy.TooFewResponses, match="too few responses"):
        privacy.check_published({"country": "FR"}, parts)


def _processed(folder: Path, df: pd.DataFrame) -> Path:
    """A processed-data folder holding just a survey (what the batch grid reads)."""
    folder.mkdir(parents=True)
    df.to_parquet(folder / processing.SURVEY_FILE)
    pd.DataFrame({"severity": ["warning"], "rule": ["x"]}).iloc[:0].to_parquet(
        folder / processing.VALIDATION_FILE)
    (folder / processing.MANIFEST_FILE).write_text(json.dumps({"outputs": {}}))
    return folder


def test_batch_grid_expands_to_the_published_parts(tmp_path: Path) -> None:
    data = _processed(tmp_path / "processed", survey({"DE": 12, "NL": 5, "AT": 4, "LU": 1}))
    notebook = str(batch_plan.paths.ROOT / "notebooks" / "00_data_quality.ipynb")
    spec = {"defaults": {"data_dir": str(data), "min_cell": MIN},
            "jobs": [{"notebook": notebook, "grid": {"segment": ["all", "country", "wave"]}}]}
    batch_file = tmp_path / "reports.yaml"
    batch_file.write_text(json.dumps(spec))
    jobs = {j.name: j.parameters["segment"] for j in batch_plan.load_batch(batch_file)}
    assert jobs == {"all": {}, "country-DE": {"country": "DE"}, "country-NL": {"country": "NL"},
                    "country-other": {"country": ["AT", "LU"]}}  # one wave: no wave grid
    for segment, message in (({"country": "LU"}, "segment-not-published"),
                             ("language", "not a column"), ("respondent_id", "not a segment")):
        spec["jobs"][0]["grid"]["segment"] = [segment]
        batch_file.write_text(json.dumps(spec))
        with pytest.raises(DataError, match=message) as err:
            batch_plan.load_batch(batch_file)
        assert "reports.yaml" in str(err.value)


# --------------------------------------------------------------------------- count tables
def reader_bounds(cube: privacy.CountCube, shown: pd.DataFrame, min_cell: int
                  ) -> dict[tuple[str, str], tuple[float, float]]:
    """What a reader bounds each withheld cell to, by linear programming over every published
    equation (the relaxation of what :func:`helpers.privacy.intervals` solves exactly)."""
    hidden = [(r, c) for r in shown.index for c in shown.columns
              if isinstance(shown.loc[r, c], str)]
    pos = {cell: i for i, cell in enumerate(hidden)}
    a_eq, b_eq = [], []
    rows, cols = list(cube.values.index), list(cube.values.columns)
    for eq in cube.equations():
        coef, rhs = np.zeros(len(hidden)), 0.0
        for (i, j), k in eq:
            cell = (rows[i], cols[j])
            if cell in pos:
                coef[pos[cell]] += k
            else:
                rhs -= k * float(shown.loc[cell])
        if coef.any():
            a_eq.append(coef)
            b_eq.append(rhs)
    bounds = [(0, None)] * len(hidden)  # a withheld cell says nothing of its size
    out = {}
    for cell, i in pos.items():
        c = np.zeros(len(hidden))
        c[i] = 1
        ends = [linprog(s * c, A_eq=np.array(a_eq) if a_eq else None, b_eq=b_eq or None,
                        bounds=bounds, method="highs") for s in (1, -1)]
        assert all(e.status == 0 for e in ends)
        out[cell] = (ends[0].fun, -ends[1].fun)
    return out


def dyad_cube(rows: dict[str, tuple[int, int, int]]) -> privacy.CountCube:
    """Rows (complete, cmo_only, cio_only) for countries, with the whole sample as margin."""
    values = pd.DataFrame({k: {"firms": sum(v), "complete_dyads": v[0], "cmo_only": v[1],
                               "cio_only": v[2]} for k, v in rows.items()}).T
    values.loc[privacy.WHOLE] = values.sum()
    return privacy.CountCube(values.astype(float), {"country": list(rows)},
                             [("firms", ["complete_dyads", "cmo_only", "cio_only"])],
                             known=["firms", "complete_dyads"])


@pytest.mark.parametrize("rows", [
    {"country: DE": (20, 3, 9), "country: NL": (9, 6, 7), "country: AT": (5, 0, 0)},
    {"country: DE": (20, 4, 0), "country: NL": (9, 6, 7), "country: AT": (5, 1, 5)},
    {"country: DE": (12, 3, 1), "country: NL": (12, 0, 2), "country: AT": (8, 9, 9)},
    {"country: DE": (5, 0, 0), "country: NL": (5, 1, 0), "country: AT": (30, 12, 10)},
])
def test_secondary_suppression_cannot_be_undone_by_the_margins(rows) -> None:
    cube = dyad_cube(rows)
    hidden = privacy.secondary_suppression(cube, MIN)
    shown = privacy.shown_cells(cube, hidden, MIN)
    small = (cube.values > 0) & (cube.values < MIN)
    assert hidden[small].fillna(True).all().all()  # every small count is withheld
    assert not hidden.attrs["derivable"]
    for cell, (lo, hi) in reader_bounds(cube, shown, MIN).items():
        assert hi - lo > 0.5, f"{cell} is pinned to {lo}"
        assert lo <= cube.values.loc[cell] <= hi
    labels_, cols = list(cube.values.index), list(cube.values.columns)
    for eq in cube.equations():  # no published equation holds exactly one withheld cell
        withheld = [(labels_[i], cols[j], k) for (i, j), k in eq if hidden.loc[labels_[i], cols[j]]]
        assert len(withheld) != 1
        if len({k for *_, k in withheld}) == 1:  # their total follows: never a small group,
            total = sum(cube.values.loc[r, c] for r, c, _ in withheld)  # unless it follows
            shown_cols = {cols[j] for (i, j), _ in eq if not hidden.loc[labels_[i], cols[j]]}
            assert total == 0 or total >= MIN or shown_cols <= set(cube.known), withheld


def test_a_union_row_shows_only_what_its_parts_show() -> None:
    cube = dyad_cube({"country: DE": (20, 3, 9), "country: NL": (9, 6, 7),
                      "country: AT": (5, 6, 5)})
    hidden = privacy.secondary_suppression(cube, MIN)
    row = privacy.union_row(cube, hidden, ["country: DE", "country: NL"], MIN)
    assert row["firms"] == 54
    assert isinstance(row["cmo_only"], str)  # DE's 3 is withheld, so the sum is too


def test_a_five_and_five_country_gives_nothing_back_in_the_quality_tables() -> None:
    """The issue's case: a 5/5 country beside others; its dyad row and its share complete."""
    df = survey({"DE": 12, "NL": 7, "AT": 5}, waves=2, cio_missing=3)
    parts = privacy.partitions(df, MIN)
    assert "AT" in labels(parts["country"])
    for segment in ({}, {"country": "DE"}, {"country": "AT"}, {"wave": 1}):
        view = privacy.segment_view(segment, parts)
        table = quality.dyad_table(df, parts, view, MIN)
        for v in table[["cmo_only", "cio_only"]].to_numpy().ravel():
            assert isinstance(v, str) or v == 0 or v >= MIN
        tables, elsewhere = quality.breakdowns(df, parts, view)
        assert (not tables) == bool(segment) and (bool(elsewhere) == bool(segment))


def test_missingness_withholds_small_counts_and_their_percentages() -> None:
    df = survey({"DE": 12, "NL": 7, "AT": 6})
    df.loc[df.index[df["country"] == "AT"][:2], "imp_1"] = np.nan  # 2 skipped in AT
    parts = privacy.partitions(df, MIN)
    by = {}
    for segment in ({}, {"country": "DE"}, {"country": "NL"}, {"country": "AT"}):
        table = quality.protected_missingness(df, parts, privacy.segment_view(segment, parts),
                                              min_cell=MIN).set_index("item")
        by[json.dumps(segment)] = table.loc["imp_1"]
    assert by['{"country": "AT"}']["n_skipped"] == privacy.WITHHELD
    assert pd.isna(by['{"country": "AT"}']["pct_missing"])
    assert by["{}"]["n_skipped"] == privacy.WITHHELD  # the whole sample's 2 are the same 2
    for row in by.values():
        for c in ("n_answered", "n_skipped"):  # "don't know" was not recorded here
            assert isinstance(row[c], str) or row[c] == 0 or row[c] >= MIN


# --------------------------------------------------------------------------- model terms
def test_pool_rare_other_meets_the_minimum_in_rows_and_firms() -> None:
    df = pd.DataFrame({"country": ["DE"] * 10 + ["NL"] * 6 + ["NO"] * 2 + ["LU"],
                       "firm_id": [f"d{i}" for i in range(10)] + [f"n{i}" for i in range(6)]
                       + ["o1", "o2", "l1"]})
    out = privacy.pool_rare(df, ["country"], MIN)
    assert out["country"].value_counts().to_dict() == {"DE": 10, "Other": 9}
    # four respondents of one firm are one firm: "Other" holds it with the next-smallest
    one_firm = pd.DataFrame({"country": ["DE"] * 10 + ["NL"] * 6 + ["LU"] * 4,
                             "firm_id": [f"d{i}" for i in range(10)]
                             + [f"n{i}" for i in range(6)] + ["l1"] * 4})
    out = privacy.pool_rare(one_firm, ["country"], MIN)
    assert out["country"].value_counts().to_dict() == {"DE": 10, "Other": 10}
    assert out.attrs["pooled"] == {"country": ["LU", "NL"]}
    for category, group in out.groupby("country"):
        assert len(group) >= MIN and group["firm_id"].nunique() >= MIN, category
    tiny = pd.DataFrame({"country": ["DE"] * 6 + ["NO"] * 2, "firm_id": list("abcdefgh")})
    assert privacy.pool_rare(tiny, ["country"], MIN)["country"].nunique() == 1  # constant


# --------------------------------------------------------------------------- firm-level figures
def test_spend_medians_need_twice_the_minimum_and_means_the_minimum() -> None:
    table = pd.DataFrame({"year": [2023] * 7 + [2024] * 12 + [2025] * 3,
                          "share": np.linspace(0.1, 0.5, 22)})
    t = spend_report.trend(table, "share", MIN, scale=100).set_index("year")
    assert pd.isna(t.loc[2023, "median"]) and pd.notna(t.loc[2023, "mean"])
    assert pd.notna(t.loc[2024, "median"])
    assert t.loc[2025, "n"] == "<5" and t.loc[2025, ["mean", "ci_low", "ci_high"]].isna().all()
    assert "Medians need at least 10 firms" in t.attrs["note"]
    hidden = spend_report.trend(table, "share", MIN, scale=100, years={2024}).set_index("year")
    assert hidden.loc[2023, "n"] == privacy.WITHHELD and pd.isna(hidden.loc[2023, "mean"])


def test_firm_years_lie_in_one_segment_each() -> None:
    df = survey({"DE": 6, "NL": 6}, waves=2)  # wave 1 = 2024, wave 2 = 2025
    df.loc[(df["firm_id"] == "F000") & (df["wave"] == 2), "country"] = "NL"
    spend = pd.DataFrame([(f, y) for f in df["firm_id"].unique()
                          for y in (2023, 2024, 2025, 2026)], columns=["firm_id", "year"])
    f0 = (spend["firm_id"] == "F000").to_numpy()
    country = privacy.firm_year_values(df, spend, "country")
    assert country[f0].tolist() == ["DE", "DE", "NL", "NL"]  # its own answer, else the nearest
    wave = privacy.firm_year_values(df, spend, "wave")
    assert wave[f0].isna().tolist() == [True, False, False, True]
    assert wave[f0].tolist()[1:3] == [1, 2]


def test_a_year_is_shown_in_segment_reports_only_when_segments_isolate_no_small_group() -> None:
    df = survey({"DE": 6, "NL": 6}, waves=2)  # wave 1 = 2024, wave 2 = 2025
    features = pd.DataFrame([(f, y, 0.1) for f in df["firm_id"].unique()
                             for y in (2024, 2025)], columns=["firm_id", "year", "shadow_it_share"])
    # in 2023 three firms have spend but no wave refers to 2023: wave segments would leave them
    features = pd.concat([features, pd.DataFrame({"firm_id": ["F000", "F001", "F002"],
                                                  "year": 2023, "shadow_it_share": 0.2})])
    parts = privacy.partitions(df, MIN)
    for segment, expected in (({"country": "DE"}, {2024, 2025}), ({"wave": 1}, {2024, 2025})):
        view = privacy.segment_view(segment, parts)
        assert spend_report.shown_years(features, df, parts, view, "shadow_it_share",
                                        MIN) == expected
    assert spend_report.shown_years(features, df, parts, privacy.segment_view({}, parts),
                                    "shadow_it_share", MIN) is None


# --------------------------------------------------------------------------- results files
def test_results_are_rounded_to_the_precision_reports_show() -> None:
    table = pd.DataFrame({"term": ["x"], "estimate": [0.1234567], "ci_low": [-1.98765],
                          "p_value": [0.000123456], "n": [12.0], "pct_missing": [12.345],
                          "mean_cmo": [3.14159], "n_cmo": ["<5"]})
    row = results.payload("key", table)["rows"][0]
    assert row == {"term": "x", "estimate": 0.123, "ci_low": -1.988, "p_value": 0.000123,
                   "n": 12, "pct_missing": 12.3, "mean_cmo": 3.142, "n_cmo": "<5"}
    value = results.payload("link", {"n": 40.0, "difference": 0.98765, "share_pct": 4.449})
    assert value["value"] == {"n": 40, "difference": 0.988, "share_pct": 4.4}
    assert isinstance(json.loads(json.dumps(value))["value"]["n"], int)


def test_ledger_quality_shows_no_small_count_and_no_vendor_amount() -> None:
    issues = pd.DataFrame({"rule": ["net-negative", None], "count": ["1", None],
                           "kind": ["bad_rows", "unmapped_vendor"], "vendor": [None, "Adly"],
                           "n_lines": [None, "717"], "amount_eur": [None, "4433093.57"]})
    out = spend_report.ledger_quality(issues, MIN)
    assert out.loc[0, "count"] == "<5" and out.loc[1, "n_lines"] == 717
    assert "amount_eur" not in out.columns and "Amounts are not shown" in out.attrs["note"]


def test_binned_means_count_firms_not_firm_waves() -> None:
    """A bin of five firm-waves from three firms describes three firms: bins are widened until
    each holds at least min_cell firms, and none is dropped."""
    import matplotlib

    matplotlib.use("Agg")
    from helpers import plots

    rng = np.random.default_rng(3)
    firms = np.repeat([f"F{i}" for i in range(12)], 2)  # 12 firms, two waves each
    x = pd.Series(np.repeat(rng.normal(size=12), 2) + rng.normal(0, 0.01, 24))
    y = pd.Series(rng.normal(size=24))
    fig = plots.binned_means(x, y, title="t", xlabel="x", ylabel="y", min_cell=5, bins=8,
                             units=pd.Series(firms))
    points = fig.axes[0].lines[0].get_xydata()
    assert 1 <= len(points) <= 2  # 12 firms hold at most two bins of five
    without = plots.binned_means(x, y, title="t", xlabel="x", ylabel="y", min_cell=5, bins=8)
    assert len(without.axes[0].lines[0].get_xydata()) > len(points)  # firm-waves: more bins
