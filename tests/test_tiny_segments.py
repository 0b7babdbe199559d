"""Every report on tiny segments: it finishes, and a model that cannot be fitted says why.

Issue 10 ("every report handles tiny segments without an unhandled exception"): the drivers
report crashed with statsmodels' ``ZeroDivisionError`` on a country of exactly 5 CMOs and 5
CIOs. Here the real batch (``python -m helpers reports``, fork engine) renders the notebooks
once, in one module-scoped run, on small data built for the purpose:

- ``lu``: the synthetic sample with one country (LU) of exactly 5 firms, 5 CMOs, 5 CIOs and 5
  complete pairs in one wave, rendered as the segment ``{"country": "LU"}`` by every notebook;
  one of its items is constant (trust_1) and its respondents are flagged as speeders, so
  ``exclude=["speeder"]`` empties it;
- ``one_firm``: one firm answering in five waves (5 CMOs, 5 CIOs, one cluster);
- ``flat``: 5 pairs in one wave, one category of every control, a constant outcome (joint
  project success), no failed project, one answer to "relationship improved" and a yes/no
  driver everyone answered "yes";
- ``four_firms``: 8 pairs from 4 firms (two waves): a surface, but too few clusters for its
  joint test;
- ``no_pairs``: 5 CMOs and 5 CIOs from 10 different firms.

Each report must finish (a report, a "too few" or a "not applicable" page; the command exits 0)
and carry the "not estimable" reason where a model was not fitted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import paths, processing, simulate
from report_variants import visible_text

NOTEBOOKS = {nb.stem[:2]: nb for nb in sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))}
LU = {"country": "LU"}
RSA_BELOW_DEFAULT = {"min_pairs": 5}  # let 04 try a surface on fewer pairs than its default


def _pairs(survey: pd.DataFrame) -> list[tuple[str, int]]:
    """Firm-waves with exactly one CMO and one CIO, in the data's own row order."""
    roles = survey.groupby(["firm_id", "wave"], sort=False)["role"].agg(
        lambda r: tuple(sorted(map(str, r))))
    return list(roles[roles == ("CIO", "CMO")].index)


def _rows(survey: pd.DataFrame, keys: list[tuple[str, int]]) -> pd.DataFrame:
    index = pd.MultiIndex.from_frame(survey[["firm_id", "wave"]].astype(object))
    return survey[index.isin(keys)].copy()


def _write(base: Path, dest: Path, survey: pd.DataFrame) -> Path:
    """A copy of the processed folder ``base`` with ``survey`` as its survey (and manifest)."""
    shutil.copytree(base, dest)
    survey.reset_index(drop=True).to_parquet(dest / processing.SURVEY_FILE, index=False)
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["outputs"][processing.SURVEY_FILE]["sha256"] = processing.fingerprint(
        dest / processing.SURVEY_FILE)
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return dest


def _one_category(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("country", "industry", "size_band"):
        frame[column] = frame[column].iloc[0]
    return frame.astype({"country": "category", "industry": "category", "size_band": "category"})


def _build(root: Path) -> dict[str, Path]:
    """The processed data folders of the module docstring."""
    raw = root / "raw"
    simulate.write_sample(raw, firms=30, ledger_rows=3000, seed=3, waves=2)
    built = root / "built"
    processing.build_processed(raw / "survey.parquet", budgets=raw / "budgets.parquet",
                               ledger=raw / "ledger.parquet", fx=raw / "fx_rates.parquet",
                               vendors=raw / "vendors.csv", out_dir=built, force=True)
    survey = pd.read_parquet(built / processing.SURVEY_FILE)
    pairs = _pairs(survey)
    rows_per_firm = survey.groupby("firm_id").size()
    once = [key for key in pairs if rows_per_firm[key[0]] == 2]  # one pair, no other answer
    assert len(once) >= 5 + 5 + 5, "the sample has too few firms answering once as a pair"
    lu = survey["firm_id"].isin([firm for firm, _ in once[:5]])
    country = survey["country"].astype(str).replace("LU", "DE").where(~lu, "LU")
    survey["country"] = pd.Categorical(country, categories=survey["country"].cat.categories)
    survey["flag_speeder"] = lu  # exclude=["speeder"] leaves the LU segment empty
    survey.loc[lu & survey["trust_1"].notna(), "trust_1"] = 3.0  # a constant item
    folders = {"lu": _write(built, root / "lu", survey)}

    one = _rows(survey, once[5:10])
    one["wave"] = one.groupby("role", observed=True).cumcount() + 1  # five waves of one firm
    one["year"] = pd.NA
    one["firm_id"] = one["firm_id"].iloc[0]
    folders["one_firm"] = _write(built, root / "one_firm", _one_category(one))

    flat = _one_category(_rows(survey, once[10:15]))
    for item, value in (("trust_1", 3.0), ("success_1", 4.0), ("success_2", 4.0),
                        ("fail_1", 0.0), ("improved_1", 3.0), ("cofund_1", 1.0)):
        flat[item] = flat[item].where(flat[item].isna(), value)
    folders["flat"] = _write(built, root / "flat", flat)

    twice = [firm for firm in dict.fromkeys(f for f, _ in pairs)
             if (firm, 1) in pairs and (firm, 2) in pairs][:4]
    assert len(twice) == 4, "the sample has too few firms answering as a pair in both waves"
    folders["four_firms"] = _write(built, root / "four_firms",
                                   _rows(survey, [(f, w) for f in twice for w in (1, 2)]))

    wave1 = survey[survey["wave"] == 1]
    cmos = wave1[wave1["role"].astype(str) == "CMO"].head(5)
    cios = wave1[(wave1["role"].astype(str) == "CIO")
                 & ~wave1["firm_id"].isin(cmos["firm_id"])].head(5)
    folders["no_pairs"] = _write(built, root / "no_pairs", pd.concat([cmos, cios]))
    return folders


# name: (notebook, data folder, parameters)
JOBS = {
    "00-lu": ("00", "lu", {"segment": LU}),
    "01-lu": ("01", "lu", {"segment": LU}),
    "02-lu": ("02", "lu", {"segment": LU}),
    "03-lu": ("03", "lu", {"segment": LU}),
    "04-lu": ("04", "lu", {"segment": LU}),
    "04-lu-5": ("04", "lu", {"segment": LU, **RSA_BELOW_DEFAULT}),
    "05-lu": ("05", "lu", {"segment": LU}),
    "03-lu-flagged": ("03", "lu", {"segment": LU, "exclude": ["speeder"]}),
    "03-one_firm": ("03", "one_firm", {}),
    "04-one_firm": ("04", "one_firm", RSA_BELOW_DEFAULT),
    "03-flat": ("03", "flat", {}),
    "04-flat": ("04", "flat", RSA_BELOW_DEFAULT),
    "04-four_firms": ("04", "four_firms", RSA_BELOW_DEFAULT),
    "02-no_pairs": ("02", "no_pairs", {}),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every job of :data:`JOBS` rendered by one batch run: name -> results file, with the
    report's visible text under ``"text"``."""
    root = tmp_path_factory.mktemp("tiny")
    folders = _build(root)
    jobs = [{"notebook": str(NOTEBOOKS[nb]), "name": name,
             "parameters": {"data_dir": str(folders[data]), **params}}
            for name, (nb, data, params) in JOBS.items()]
    batch = root / "batch.yaml"
    batch.write_text(yaml.safe_dump({"defaults": {"language": "EN", "min_cell": 5},
                                     "jobs": jobs}, allow_unicode=True), encoding="utf-8")
    reports = root / "reports"
    run = subprocess.run(
        [sys.executable, "-m", "helpers", "reports", "--batch", str(batch), "--jobs", "2",
         "--reports-dir", str(reports), "--executed-dir", str(root / "executed")],
        capture_output=True, text=True, timeout=600, cwd=paths.ROOT)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    out = {}
    for name, (nb, _, _) in JOBS.items():
        folder = reports / NOTEBOOKS[nb].stem
        doc = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        doc["text"] = visible_text((folder / f"{name}.html").read_text(encoding="utf-8"))
        out[name] = doc
    return out


def _report(rendered: dict[str, dict], name: str) -> dict:
    """The results file of a job that rendered as a full report (not a short page)."""
    doc = rendered[name]
    assert doc["status"] == "ok" and not doc.get("too_few") and not doc.get("not_applicable"), \
        {k: doc.get(k) for k in ("status", "too_few", "not_applicable", "error")}
    return doc


def _not_estimable(doc: dict) -> str:
    return ((doc.get("results") or {}).get("not_estimable") or {}).get("value", "")


@pytest.mark.parametrize("name", list(JOBS))
def test_every_report_finishes_without_an_exception(rendered: dict[str, dict], name: str) -> None:
    doc = rendered[name]
    assert doc["status"] == "ok", doc.get("error")
    for trace in ("Traceback", "ZeroDivisionError", "LinAlgError", "Exception", " nan "):
        assert trace not in doc["text"], f"{name}: {trace!r} in the report"


def test_the_five_and_five_country_renders_every_report(rendered: dict[str, dict]) -> None:
    """The reported crash: a country of exactly 5 CMOs and 5 CIOs. Every report renders; the
    driver report either estimates its model or says why not, never a bare failure."""
    for name in ("00-lu", "01-lu", "02-lu", "03-lu", "05-lu"):
        assert rendered[name]["status"] == "ok"
        assert not rendered[name].get("too_few"), name
    drivers = _report(rendered, "03-lu")
    if _not_estimable(drivers):
        assert "Not estimable in this segment: the driver model" in drivers["text"]
    else:
        assert drivers["results"]["respondent_level"]["rows"]  # the exploratory OLS
    assert drivers["results"]["headlines"]["rows"]  # firm-level headlines, not estimable here
    assert "too few CMO–CIO pairs" in rendered["04-lu"]["too_few"]  # below min_pairs = 20
    surface = _report(rendered, "04-lu-5")  # min_pairs lowered: 5 pairs for 6 coefficients
    assert "too few complete cases (5) for 6 coefficients" in _not_estimable(surface)
    assert "Not estimable in this segment: the polynomial regression" in surface["text"]
    assert "No corrected surface in this segment: " in surface["text"]
    assert "the corrected response surface needs at least 20" in surface["text"]


def test_all_respondents_excluded_is_a_too_few_page(rendered: dict[str, dict]) -> None:
    assert "too few responses" in rendered["03-lu-flagged"]["too_few"]


def test_one_cluster_is_not_estimable_with_the_reason(rendered: dict[str, dict]) -> None:
    drivers = _report(rendered, "03-one_firm")
    assert "1 cluster of 'Firm'" in _not_estimable(drivers)  # the cluster's label
    assert "cluster-robust standard errors need at least 2" in drivers["text"]
    assert "No reading: the driver model is not estimable" in drivers["text"]
    assert "key_estimates" not in drivers["results"]
    surface = _report(rendered, "04-one_firm")
    assert "come from 1 cluster" in _not_estimable(surface)


def test_constant_items_outcomes_and_drivers_say_why(rendered: dict[str, dict]) -> None:
    measurement = _report(rendered, "01-lu")["text"]
    assert "not estimable: Mutual trust, item 1 has no variance" in measurement
    drivers = _report(rendered, "03-flat")["text"]
    assert ("left out of the models: Co-funded joint projects (one value in all 10 complete "
            "cases)") in drivers
    # the headlines (drivers and consequences) need 20 firms with both executives; 5 here
    assert drivers.count("Not estimable: fewer than 20 firms with both executives") >= 10
    surface = _report(rendered, "04-flat")
    assert "the outcome Z has one value in all 5 complete cases" in _not_estimable(surface)


def test_joint_test_needs_more_clusters_than_restrictions(rendered: dict[str, dict]) -> None:
    surface = _report(rendered, "04-four_firms")
    assert not _not_estimable(surface)
    assert surface["results"]["observed_surface"]["rows"]  # a1..a5 of the uncorrected surface
    assert ("joint test of the five polynomial terms: not reported: a cluster-robust joint test "
            "of the 5 polynomial terms needs at least 6 clusters; these data have 4") \
        in surface["text"]


def test_no_pairs_gives_no_paired_verdict(rendered: dict[str, dict]) -> None:
    profile = _report(rendered, "02-no_pairs")["text"]
    assert "not estimable: a paired test needs at least 2 complete pairs" in profile
    assert "On within-firm pairs, no comparison can be reported in this segment" in profile
    assert "On within-firm pairs, no indicator differs" not in profile
