"""Disclosure control end to end: a differencing attacker over every output recovers nothing.

A survey built to be awkward (from the simulator, 120 firms, then countries and an industry
reassigned firm by firm) goes through the README's commands in a project copy:

* country ``LU``: one firm (its CMO and CIO, one wave): a segment of 1;
* country ``IE``: four CMOs (and their CIOs where the firm had one);
* country ``FI``: exactly five CMOs and five CIOs (five firms, one wave each);
* industry ``Health``: one firm (the others moved to Retail);
* then the data are corrected: one ``FI`` CMO withdraws (5 -> 4) and the reports are rebuilt.

After each ``make reports`` the attacker of ``tests/attacker.py`` runs over ``reports/`` (every
HTML page, every results file, the index) with the processed data in hand, and must recover
nothing: no small count, no small group left over by whole-minus-segments, no small group
behind a results row by differencing, no suppressed cell given back by a table's totals. After
the withdrawal, no file of a segment that no longer exists may stay in ``reports/`` or
``build/``.

The batch renders the notebooks that publish counts, means by role and firm-level spend (00, 02,
05) for the whole sample and every country and industry segment, to keep the two runs to about
two minutes on two cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from attacker import attack, reports
from exports import harness

from helpers import processing

MIN_CELL = 5
NOTEBOOKS = ("00_data_quality", "02_disconnect_profile", "05_spend_shadow_it")
SEGMENTS = ["all", "country", "industry"]


def _one_wave_dyads(survey: pd.DataFrame) -> list[str]:
    """Firms that answered in one wave only, with both a CMO and a CIO."""
    per_firm = survey.groupby("firm_id").agg(waves=("wave", "nunique"),
                                             roles=("role", "nunique"), rows=("role", "size"))
    return list(per_firm[(per_firm.waves == 1) & (per_firm.roles == 2)
                         & (per_firm.rows == 2)].index)


def awkward_survey(source: pd.DataFrame) -> pd.DataFrame:
    """The simulated survey with the tricky countries and industry of the module docstring."""
    survey = source.copy()
    dyads = _one_wave_dyads(survey)
    cmo_only = [f for f, g in survey.groupby("firm_id")
                if set(g["role"]) == {"CMO"} and len(g) == 1]
    assert len(dyads) >= 7 and len(cmo_only) >= 3, "the simulated sample is too small"
    assign = {dyads[0]: "LU"}
    assign.update({f: "FI" for f in dyads[1:6]})
    assign.update({dyads[6]: "IE"})
    assign.update({f: "IE" for f in cmo_only[:3]})
    for firm, country in assign.items():
        survey.loc[survey["firm_id"] == firm, "country"] = country
    health = survey["industry"] == "Health"
    keep = survey.loc[health, "firm_id"].iloc[0]
    survey.loc[health & (survey["firm_id"] != keep), "industry"] = "Retail"
    counts = survey.groupby(["country", "role"]).size().unstack(fill_value=0)
    assert counts.loc["LU", "CMO"] == 1 and counts.loc["IE", "CMO"] == 4
    assert counts.loc["FI", "CMO"] == 5 and counts.loc["FI", "CIO"] == 5
    return survey


def _batch(root: Path) -> None:
    spec = {"defaults": {"data_dir": "data/processed", "language": "EN", "min_cell": MIN_CELL},
            "jobs": [{"notebook": f"notebooks/{nb}.ipynb", "grid": {"segment": SEGMENTS}}
                     for nb in NOTEBOOKS]}
    (root / "reports.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")


def _processed_survey(root: Path) -> pd.DataFrame:
    return pd.read_parquet(root / "data" / "processed" / "survey.parquet")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("disclosure")
    harness.project_copy(root, segments=None)
    _batch(root)
    raw = root / "raw"
    done = harness.make(root, "sample", {"SAMPLE_FIRMS": "120", "SAMPLE_LEDGER_ROWS": "30000"})
    assert done.returncode == 0, done.describe()
    sample = root / "data" / "raw" / "sample"
    raw.mkdir()
    for name in ("budgets.parquet", "ledger.parquet", "fx_rates.parquet", "vendors.csv"):
        (raw / name).write_bytes((sample / name).read_bytes())
    awkward_survey(pd.read_parquet(sample / "survey.parquet")).to_parquet(raw / "survey.parquet")
    return root


def _make_data_and_reports(root: Path) -> None:
    raw = root / "raw"
    data = harness.make(root, "data", {
        "SURVEY": str(raw / "survey.parquet"), "BUDGETS": str(raw / "budgets.parquet"),
        "LEDGER": str(raw / "ledger.parquet"), "FX": str(raw / "fx_rates.parquet"),
        "VENDORS": str(raw / "vendors.csv")})
    assert data.returncode == 0, data.describe()
    made = harness.make(root, "reports")
    assert made.returncode == 0, made.describe()


@pytest.fixture(scope="module")
def first_run(project: Path) -> Path:
    _make_data_and_reports(project)
    return project


def _check(root: Path) -> None:
    survey = _processed_survey(root)
    findings = attack(root, survey, MIN_CELL, processing.select_segment)
    assert findings.total == 0, "the attacker recovered:\n" + findings.describe()


def test_attacker_recovers_nothing(first_run: Path) -> None:
    published = [r for r in reports(first_run) if r.shows_numbers]
    assert len(published) >= 3 * len(NOTEBOOKS), "too few reports to attack: the test is void"
    _check(first_run)


def test_every_small_country_is_covered_by_a_published_segment(first_run: Path) -> None:
    """The small countries are not simply dropped: some published segment holds them (else
    the whole sample minus the published countries is the small group — the attacker checks
    that too, this says where they went)."""
    survey = _processed_survey(first_run)
    for country in ("LU", "IE", "FI"):
        ids = set(survey.index[survey["country"].astype(str) == country])
        holders = [r.name for r in reports(first_run) if r.notebook == "02_disconnect_profile"
                   and r.shows_numbers and r.segment and "country" in r.segment
                   and ids <= set(processing.select_segment(survey, r.segment).index)]
        assert holders, f"no published country segment holds {country}"


def test_a_withdrawal_leaves_no_stale_segment_and_nothing_recoverable(first_run: Path) -> None:
    root = first_run
    before = {p.relative_to(root) for folder in ("reports", "build") if (root / folder).exists()
              for p in (root / folder).rglob("*") if p.is_file()}
    raw = pd.read_parquet(root / "raw" / "survey.parquet")
    fi_cmo = raw.index[(raw["country"] == "FI") & (raw["role"] == "CMO")]
    raw.drop(index=fi_cmo[:1]).to_parquet(root / "raw" / "survey.parquet")
    _make_data_and_reports(root)
    _check(root)
    jobs = {(r.notebook, r.name) for r in reports(root)}
    index = (root / "reports" / "index.html").read_text(encoding="utf-8")
    after = {p.relative_to(root) for folder in ("reports", "build") if (root / folder).exists()
             for p in (root / folder).rglob("*") if p.is_file()}
    for path in after:
        if path.parts[0] == "reports" and len(path.parts) == 3 and path.suffix in (".html",
                                                                                    ".json"):
            stem = path.name.split(".")[0]
            assert (path.parts[1], stem) in jobs, f"{path} has no results file"
    gone = sorted(str(p) for p in before - after)
    names = {r.name for r in reports(root)}
    for path in after:
        if path.parts[0] == "build" and path.suffix == ".ipynb":
            assert path.stem in names, f"stale executed notebook {path} kept"
    for name in {r.name for r in reports(root)}:
        assert name in index or json.dumps(name)[1:-1] in index, f"{name} not in the index"
    assert np.all([not g.endswith(".tmp") for g in gone])


# --------------------------------------------------------------------------- the attacker itself
def _write_report(root: Path, notebook: str, name: str, segment: dict, tables: dict,
                  n: int | None = None, page: str = "") -> None:
    folder = root / "reports" / notebook
    folder.mkdir(parents=True, exist_ok=True)
    results = {k: {"kind": "table", "columns": list(rows[0]), "rows": rows}
               for k, rows in tables.items()}
    doc = {"notebook": f"{notebook}.ipynb", "name": name, "status": "ok", "n": n,
           "parameters": {"segment": segment}, "results": results}
    (folder / f"{name}.json").write_text(json.dumps(doc), encoding="utf-8")
    (folder / f"{name}.html").write_text(page or "<html><body></body></html>", encoding="utf-8")


def test_the_attacker_finds_planted_leaks(tmp_path: Path) -> None:
    """Each attack fires on outputs built to leak (so a clean run means something)."""
    survey = pd.DataFrame({"firm_id": [f"F{i // 2}" for i in range(24)],
                           "role": ["CMO", "CIO"] * 12,
                           "country": ["DE"] * 20 + ["LU"] * 4})
    row = {"variable": "trust", "method": "welch"}
    _write_report(tmp_path, "02", "all", {}, {"t": [
        {**row, "n_cmo": 12, "mean_cmo": 3.5},
        {**row, "method": "paired", "n_cmo": 10, "mean_cmo": 3.4}]}, n=24,
        page="<table><tr><th>country</th><th>CMO</th><th>CIO</th><th>Total</th></tr>"
             "<tr><td>DE</td><td>10</td><td>10</td><td>20</td></tr>"
             "<tr><td>LU</td><td>&lt;5</td><td>&lt;5</td><td>4</td></tr>"
             "<tr><td>Total</td><td>12</td><td>12</td><td>24</td></tr></table>"
             "<table><tr><th>reason</th><th>n</th></tr><tr><td>x</td><td>3</td></tr></table>")
    _write_report(tmp_path, "02", "country-DE", {"country": "DE"},
                  {"t": [{**row, "n_cmo": 10, "mean_cmo": 3.6}]}, n=20)
    found = attack(tmp_path, survey, MIN_CELL, processing.select_segment)
    assert found.items["small count"], found.describe()
    assert any("whole sample minus its country segments leaves CMO 2" in f
               for f in found.items["segment complement"]), found.describe()
    assert any("leaves 2" in f for f in found.items["results differencing"]), found.describe()
    assert len(found.items["table margins"]) >= 2, found.describe()
    assert found.items["within a table"], found.describe()


def test_nested_rows_are_withheld_when_they_differ_by_a_few() -> None:
    from helpers import privacy

    table = pd.DataFrame({"variable": ["a", "a", "b", "b"],
                          "method": ["paired", "welch", "paired", "welch"],
                          "n_cmo": [7, 8, 7, 20], "n_cio": [7, 12, 7, 20],
                          "mean_cmo": [3.1, 3.2, 3.3, 3.4], "note": ""})
    out = privacy.withhold_nested_rows(table, "variable", ["n_cmo", "n_cio"], ["mean_cmo"], 5)
    assert out["mean_cmo"].isna().tolist() == [False, True, False, False]
    assert out.loc[1, "note"].startswith("withheld") and out.attrs["withheld"] == 1
