"""Tests of helpers.simulate: determinism, structure, calibration and recovery of the known truth."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm
import yaml
from statsmodels.regression.linear_model import RegressionResultsWrapper

from helpers import paths
from helpers import simulate as sim
from helpers.codebook import load_codebook
from helpers.errors import DataError

CB = load_codebook()
SMALL = sim.SimulationConfig(firms=120, ledger_rows=20_000, seed=7)
BLOCK = sim.BLOCK_ROWS


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    return sim.simulate_survey(SMALL)


@pytest.fixture(scope="module")
def large() -> tuple[pd.DataFrame, pd.DataFrame]:
    """~1500 firms: enough respondents per role to check calibration within 4 points."""
    return sim.simulate_survey(sim.SimulationConfig(firms=1500))


@pytest.fixture(scope="module")
def continuous() -> tuple[pd.DataFrame, pd.DataFrame]:
    return sim.simulate_survey(sim.SimulationConfig(firms=3000, seed=11), discrete=False)


@pytest.fixture(scope="module")
def budgets() -> pd.DataFrame:
    return sim.simulate_budgets(sim.SimulationConfig())


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, sim.SimulationConfig]:
    config = sim.SimulationConfig(ledger_rows=200_000)
    path = sim.write_ledger(tmp_path_factory.mktemp("ledger") / "ledger.parquet", config)
    return path, config


def disconnect_index(survey: pd.DataFrame) -> pd.Series:
    """The disconnect index as documented in simulate_survey (defined here, not in the module)."""
    scores = []
    for item in CB.items.values():
        construct = CB.constructs[item.construct]
        if construct.kind != "indicator":
            continue
        score = item.score(survey[item.id])
        if construct.disconnect == "higher_is_better":
            score = item.scale.min + item.scale.max - score
        scores.append(score)
    return pd.concat(scores, axis=1).mean(axis=1)


def with_truth(survey: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    ids = pd.concat([truth.rename(columns={f"{r}_respondent_id": "respondent_id"})
                     .dropna(subset=["respondent_id"])[["respondent_id", *sim.DRIVERS]]
                     for r in ("cmo", "cio")])
    return survey.merge(ids, on="respondent_id", validate="one_to_one")


def cluster_ols(y: pd.Series, x: pd.DataFrame, groups: pd.Series) -> RegressionResultsWrapper:
    return sm.OLS(y, sm.add_constant(x.astype(float))).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(groups)[0]})


# --------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_data_and_another_seed_does_not(small):
    survey, truth = small
    again_survey, again_truth = sim.simulate_survey(SMALL)
    pd.testing.assert_frame_equal(survey, again_survey)
    pd.testing.assert_frame_equal(truth, again_truth)
    pd.testing.assert_frame_equal(sim.simulate_budgets(SMALL), sim.simulate_budgets(SMALL))
    other, _ = sim.simulate_survey(dataclasses.replace(SMALL, seed=8))
    assert not survey.equals(other)


# --------------------------------------------------------------------------- survey structure
def test_columns_are_the_codebook_fields_then_items(small):
    survey, _ = small
    assert list(survey.columns) == list(CB.fields) + list(CB.items)
    assert survey["respondent_id"].is_unique
    assert survey["respondent_id"].str.fullmatch(r"R\d{5}").all()
    assert survey["firm_id"].str.fullmatch(r"F\d{4}").all()


def test_values_are_within_scale_ranges_and_role_specific_items_are_missing(small):
    survey, _ = small
    for item in CB.items.values():
        asked = survey["role"].isin(item.roles)
        values = survey.loc[asked, item.id]
        assert values.notna().all(), item.id
        assert values.isin(item.scale.values).all(), item.id
        assert survey.loc[~asked, item.id].isna().all(), item.id


def test_dyads_waves_and_segments(small):
    survey, truth = small
    per_role = survey.groupby(["firm_id", "wave", "role"]).size()
    assert per_role.max() == 1
    per_firm_wave = survey.groupby(["firm_id", "wave"])["role"].nunique()
    assert (per_firm_wave == 1).any() and (per_firm_wave == 2).any()
    assert survey["wave"].nunique() >= 2
    assert set(survey["country"]) <= set(CB.fields["country"].values)
    assert set(survey["industry"]) <= set(CB.fields["industry"].values)
    assert set(survey["size_band"]) <= set(CB.fields["size_band"].values)
    language = survey["country"].map({"DE": "DE", "AT": "DE", "CH": "DE", "NL": "NL",
                                      "BE": "NL", "DK": "DA"}).fillna("EN")
    assert (survey["language"] == language).all()
    assert len(truth) == len(per_firm_wave)
    assert set(truth["year"]) == {2024, 2025}


def test_personal_fields_are_clearly_synthetic(small):
    survey, _ = small
    assert survey["email"].str.fullmatch(r"[a-z0-9]+\.[a-z0-9]+@[a-z0-9-]+\.example").all()
    prefixes = survey["ip_address"].str.rsplit(".", n=1).str[0]
    assert prefixes.isin(["192.0.2", "198.51.100", "203.0.113"]).all()
    assert survey["name"].str.contains(r"[äöüßøåÄÖÜØÅ]").any()
    filled = survey["comment"].notna().mean()
    assert 0.2 < filled < 0.4
    first = survey["name"].str.split(" ").str[0]
    mentions = [f in c for f, c in zip(first, survey["comment"], strict=True) if isinstance(c, str)]
    assert any(mentions)


def test_speeders_and_straightliners_are_injected(large):
    survey, _ = large
    duration = survey["duration_seconds"]
    speeders = (duration < duration.median() / 3).mean()
    assert 0.015 < speeders < 0.045
    assert abs(duration.median() - 600) < 30
    likert = [i.id for i in CB.items.values() if i.scale.type == "likert"]
    straight = (survey[likert].nunique(axis=1) == 1).mean()
    assert 0.01 < straight < 0.03


# --------------------------------------------------------------------------- calibration
def test_benchmark_targets_come_from_codebook_and_published_figures():
    targets = sim.benchmark_targets()
    got = {(r.item, r.role): r.target for r in targets.itertuples()}
    assert got[("imp_1", "CIO")] == pytest.approx(0.77)
    assert got[("imp_1", "CMO")] == pytest.approx(0.57)
    assert got[("collab_1", "all")] == pytest.approx(0.10)
    assert got[("ready_1", "CMO")] == pytest.approx(0.71)
    links = sum(len(i.benchmark) for i in CB.items.values())
    assert len(targets) == links


def test_benchmark_targets_name_the_file_for_an_unknown_figure(tmp_path):
    source = paths.REFERENCE / "published_figures.csv"
    figures = pd.read_csv(source, dtype=str)
    broken = tmp_path / "figures.csv"
    figures[figures["figure_id"] != "accenture2013_alignment_important_cio"].to_csv(broken,
                                                                                    index=False)
    with pytest.raises(DataError) as err:
        sim.benchmark_targets(reference_path=broken)
    assert err.value.file == str(broken) and err.value.column == "figure_id"


def test_top_box_shares_match_targets(large):
    """Every calibrated item and role (benchmarked or assumed) within 4 points of its target."""
    survey, _ = large
    calib = sim.calibration_table(sim.SimulationConfig(firms=1500))
    assert set(calib.loc[calib["source"].str.startswith("benchmark"), "figure_id"]) == set(
        sim.benchmark_targets()["figure_id"])
    misses = []
    for row in calib.itertuples():
        answers = survey.loc[survey["role"] == row.role, row.item]
        share = answers.isin(CB.items[row.item].scale.top_box).mean()
        if abs(share - row.target) > 0.04:
            misses.append((row.item, row.role, row.target, round(share, 3)))
    assert not misses
    pooled = survey["collab_1"].isin([4, 5]).mean()  # the "all" benchmark, both roles pooled
    assert abs(pooled - 0.10) < 0.03


def test_budgets_follow_gartner(budgets):
    figures = pd.read_csv(paths.REFERENCE / "published_figures.csv").set_index("figure_id")
    b = budgets.assign(marketing=budgets["marketing_budget"] / budgets["revenue"],
                       martech=budgets["martech_budget"] / budgets["marketing_budget"],
                       it=budgets["it_budget"] / budgets["revenue"],
                       tech=budgets["martech_budget"]
                       / (budgets["martech_budget"] + budgets["it_budget"]))
    by_year = b.groupby("year")[["marketing", "martech", "it", "tech"]].mean()
    assert list(by_year.index) == [2022, 2023, 2024, 2025]
    for year, row in by_year.iterrows():
        published = figures.at[f"gartner_cmo_spend_{year}_budget_pct_revenue", "value"]
        assert abs(100 * row["marketing"] - published) < 1.0, year
        assert 0.21 <= row["martech"] <= 0.30, year
        assert 0.029 <= row["it"] <= 0.035, year
    assert by_year["tech"].is_monotonic_increasing
    assert budgets["synthetic"].all() and budgets["year"].dtype == np.int64
    currency = budgets.groupby("firm_id")["currency"].first()
    assert set(currency) <= {"EUR", "DKK", "CHF", "GBP", "SEK", "NOK"}


# --------------------------------------------------------------------------- known truth
def test_continuous_index_recovers_the_betas(continuous):
    survey, truth = continuous
    data = with_truth(survey, truth)
    fit = cluster_ols(disconnect_index(data), data[list(sim.DRIVERS)], data["firm_id"])
    betas = sim.SimulationConfig().betas
    for driver, beta in betas.items():
        z = (fit.params[driver] - beta) / fit.bse[driver]
        assert abs(z) < 3, (driver, fit.params[driver], beta)


def test_discrete_reports_give_the_right_signs(large):
    survey, _ = large
    reported = pd.DataFrame({
        "cofunded_projects": survey["cofund_1"], "shared_kpis": survey["kpi_1"],
        "joint_agile_teams": survey["agile_1"],
        "it_service_orientation": pd.concat(
            [survey["itso_1"], survey["itso_2"], CB.items["itso_3"].score(survey["itso_3"])],
            axis=1).mean(axis=1),
        "data_ownership": survey[["own_1", "own_2"]].mean(axis=1),
        "sales_involvement": survey[["sales_1", "sales_2"]].mean(axis=1),
    })
    fit = cluster_ols(disconnect_index(survey), reported, survey["firm_id"])
    assert (fit.params.drop("const") < 0).all()
    assert (fit.pvalues.drop("const") < 0.01).all()


def test_response_surface_truth_is_recovered_from_the_latents(continuous):
    _, truth = continuous
    x, y = truth["su_cmo"], truth["su_cio"]
    terms = pd.DataFrame({"x": x, "y": y, "x2": x**2, "xy": x * y, "y2": y**2,
                          "d": truth["disconnect"]})
    fit = sm.OLS(truth["project_success"], sm.add_constant(terms)).fit()
    truth_doc = sim.truth_document(sim.SimulationConfig())["outcomes"]["joint_project_success"]
    for term, key in (("x", "b1"), ("y", "b2"), ("x2", "b3"), ("xy", "b4"), ("y2", "b5")):
        assert abs(fit.params[term] - truth_doc[key]) < 3 * fit.bse[term], term
    assert truth_doc["a4"] == pytest.approx(-0.6) and truth_doc["a1"] == pytest.approx(0.5)


def test_shadow_it_share_rises_with_the_disconnect(small, ledger):
    _, truth = small
    assert np.corrcoef(truth["disconnect"], truth["shadow_it_share"])[0, 1] > 0.5
    path, config = ledger
    data = pd.read_parquet(path)
    fx = sim.fx_rates(config)
    data["month"] = pd.to_datetime(data["booking_date"]).dt.to_period("M")
    fx["month"] = pd.to_datetime(fx["date"]).dt.to_period("M")
    data = data.merge(fx[["month", "currency", "rate_to_eur"]], on=["month", "currency"])
    data["eur"] = data["amount"] * data["rate_to_eur"]
    data["year"] = data["month"].dt.year
    tech = data[data["vendor_category"].isin(sim.TECH_CATEGORIES)]
    shadow = tech["eur"].where(sim.shadow_it_mask(tech), 0.0)
    sums = tech.assign(shadow=shadow).groupby(["firm_id", "year"])[["shadow", "eur"]].sum()
    share = (sums["shadow"] / sums["eur"]).rename("realised")
    joined = sim.ledger_truth(config).set_index(["firm_id", "year"]).join(share, how="inner")
    assert joined["realised"].corr(joined["disconnect"]) > 0.2
    assert joined["realised"].corr(joined["shadow_it_share"]) > 0.3


# --------------------------------------------------------------------------- ledger
def test_ledger_columns_refunds_and_dates(ledger):
    path, config = ledger
    table = pq.read_table(path)
    assert table.schema.equals(sim.LEDGER_SCHEMA)
    assert table.num_rows == config.ledger_rows
    data = table.to_pandas()
    assert set(data["cost_center"]) == set(sim.COST_CENTERS)
    assert set(data["vendor_category"]) == set(sim.CATEGORIES)
    assert set(data["payment_method"]) == set(sim.PAYMENTS)
    assert data["firm_id"].notna().all() and (data["currency"] != "XXX").all()
    dates = pd.to_datetime(data["booking_date"])
    assert dates.min() >= pd.Timestamp("2022-01-01") and dates.max() <= pd.Timestamp("2025-12-31")
    refunds = data[data["amount"] < 0]
    assert 0.005 < len(refunds) / len(data) < 0.015
    purchases = set(zip(data["firm_id"], data["vendor"], data["amount"], strict=True))
    assert all((f, v, -a) in purchases for f, v, a in zip(
        refunds["firm_id"], refunds["vendor"], refunds["amount"], strict=True))
    assert set(sim.UNMAPPED_VENDORS) <= set(data["vendor"])


def test_ledger_content_does_not_depend_on_chunk_size(tmp_path):
    config = dataclasses.replace(SMALL, ledger_rows=150_000)
    a = sim.write_ledger(tmp_path / "a.parquet", config, chunk_rows=BLOCK)
    b = sim.write_ledger(tmp_path / "b.parquet", config, chunk_rows=1_000_000)
    assert pq.ParquetFile(a).metadata.num_row_groups == 3
    assert pq.read_table(a).equals(pq.read_table(b))


def test_bad_rows_are_injected_only_on_request(tmp_path):
    config = dataclasses.replace(SMALL, ledger_rows=50_000, bad_rows=0.02)
    data = pq.read_table(sim.write_ledger(tmp_path / "bad.parquet", config)).to_pandas()
    assert 0.003 < (data["currency"] == "XXX").mean() < 0.02
    assert 0.003 < data["firm_id"].isna().mean() < 0.02


def test_ledger_memory_is_bounded(tmp_path):
    """2M rows in chunks of 250k: peak memory grows little beyond a 250k-row write."""
    script = textwrap.dedent("""
        import resource, sys
        from helpers import simulate as sim
        rows = int(sys.argv[1])
        config = sim.SimulationConfig(ledger_rows=rows)
        sim.write_ledger(sys.argv[2], config, chunk_rows=250_000)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    peaks = {}
    for rows in (250_000, 2_000_000):
        out = subprocess.run([sys.executable, "-c", script, str(rows), str(tmp_path / "l.parquet")],
                             capture_output=True, text=True, check=True)
        peaks[rows] = int(out.stdout.strip()) / 1024  # MB (Linux reports kB)
    assert pq.ParquetFile(tmp_path / "l.parquet").metadata.num_rows == 2_000_000
    assert peaks[2_000_000] - peaks[250_000] < 150, peaks


# --------------------------------------------------------------------------- the sample
def test_write_sample_writes_every_file(tmp_path):
    written = sim.write_sample(tmp_path / "sample", firms=60, ledger_rows=5_000, seed=3)
    assert {p.name for p in (tmp_path / "sample").iterdir()} == {
        "survey.parquet", "budgets.parquet", "ledger.parquet", "fx_rates.parquet", "vendors.csv",
        "truth.yaml", "README.md"}
    config = sim.SimulationConfig(firms=60, ledger_rows=5_000, seed=3)
    survey, _ = sim.simulate_survey(config)
    pd.testing.assert_frame_equal(pd.read_parquet(written["survey"]), survey,
                                  check_dtype=False)
    truth = yaml.safe_load(written["truth"].read_text(encoding="utf-8"))
    assert truth["seed"] == 3 and truth["sizes"]["firms"] == 60
    assert truth["disconnect"]["betas"]["cofunded_projects"] == -0.4
    assert truth["ledger"]["shadow_on_disconnect"] == 0.05
    assert truth["wave_years"] == {"1": 2024, "2": 2025}
    assert {t["figure_id"] for t in truth["benchmark_targets"]} == set(
        sim.benchmark_targets()["figure_id"])
    readme = written["readme"].read_text(encoding="utf-8")
    assert "SYNTHETIC DATA — not real respondents" in readme
    assert readme == sim.render_readme(config)
    vendors = pd.read_csv(written["vendors"])
    assert not set(sim.UNMAPPED_VENDORS) & set(vendors["vendor"])
    fx = pq.read_table(written["fx_rates"])
    assert fx.schema.field("date").type == pa.date32()
    assert fx.num_rows == 48 * 7
    eur = fx.to_pandas().query("currency == 'EUR'")["rate_to_eur"]
    assert (eur == 1.0).all()


def test_sample_data_doc_is_current():
    doc = paths.DATA / "SAMPLE_DATA.md"
    assert doc.read_text(encoding="utf-8") == sim.render_readme(), (
        "data/SAMPLE_DATA.md is out of date: run `python -m helpers.simulate`")
