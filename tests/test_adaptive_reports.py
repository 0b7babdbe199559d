"""Reports adapt to the survey that was asked.

- The real notebooks 01–04 run on processed data built (as `make data` builds it) from a survey that
  left items and whole constructs out and has one wave only: they render, say what was not asked,
  and a report whose inputs are absent renders a "not applicable" page, not a failure.
- The batch: a "not applicable" page and results file, the index marking it so, exit status 0;
  reports of jobs no longer in the plan removed (and nothing else); parameters keep their types
  (integer dict keys) through both engines.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
import yaml

from helpers import paths, processing, simulate
from helpers.batch import jobs as batch_jobs, plan as batch_plan, render as batch_render, run as batch_run
from helpers.codebook import load_codebook

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
ADAPTIVE = FIXTURES / "adaptive.ipynb"
NOTEBOOKS = {stem: paths.NOTEBOOKS / f"{stem}.ipynb" for stem in (
    "01_measurement", "02_disconnect_profile", "03_drivers", "04_dyadic_congruence")}


# --------------------------------------------------------------------------- helpers
def write_batch(path: Path, jobs: list[dict[str, Any]], data_dir: Path) -> Path:
    path.write_text(yaml.safe_dump({"defaults": {"data_dir": str(data_dir), "language": "EN",
                                                 "min_cell": 5}, "jobs": jobs}))
    return path


def run_batch(batch_file: Path, root: Path, *, engine: str = "fork") -> list[batch_plan.Outcome]:
    options = batch_run.Options(reports_dir=root / "reports", executed_dir=root / "executed",
                            engine=engine, workers=2, timeout=300)
    return batch_run.run(batch_plan.load_batch(batch_file), options, progress_stream=io.StringIO())


def visible_text(page: str) -> str:
    """The text a reader sees: no styles, scripts or tags."""
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def shaped_processed(root: Path, drop: list[str], *, firms: int = 40, seed: int = 5) -> Path:
    """Processed data, built by `make data`'s code, from a one-wave simulated survey without
    the ``drop`` columns (a survey that shortened scales and skipped constructs)."""
    raw = root / "raw"
    simulate.write_sample(raw, firms=firms, ledger_rows=1000, seed=seed, waves=1)
    survey = pd.read_parquet(raw / "survey.parquet").drop(columns=drop)
    survey.to_parquet(raw / "shaped.parquet", index=False)
    out = root / "processed"
    processing.build_processed(raw / "shaped.parquet", out_dir=out, force=True)
    return out


# --------------------------------------------------------------------------- real notebooks
CB = load_codebook()
SALES, READY_3 = ["sales_1", "sales_2"], ["ready_3"]
SHARED_UNDERSTANDING = list(CB.constructs["shared_understanding_own"].items)
TRUST = list(CB.constructs["mutual_trust"].items)
OUTCOME_ITEMS = ["improved_1", "fail_1"]
ALL_OUTCOMES = [i for c in CB.constructs_of_kind("outcome") for i in CB.constructs[c].items]
ALL_INDICATORS = [i for c in CB.constructs_of_kind("indicator") for i in CB.constructs[c].items]


@pytest.fixture(scope="module")
def shortened(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One wave; no sales involvement, ready_3, shared understanding (own), mutual trust or the
    two single-item outcomes of the drivers report."""
    return shaped_processed(tmp_path_factory.mktemp("shortened"),
                            SALES + READY_3 + SHARED_UNDERSTANDING + TRUST + OUTCOME_ITEMS)


@pytest.mark.slow
def test_notebooks_adapt_to_a_shortened_one_wave_survey(shortened: Path, tmp_path: Path) -> None:
    survey = pd.read_parquet(shortened / "survey.parquet")
    assert "sales_1" not in survey and "ready_3" not in survey and survey["wave"].nunique() == 1
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(nb)} for nb in NOTEBOOKS.values()],
                    shortened)
    outcomes = {o.job.stem: o for o in run_batch(f, tmp_path)}
    assert {s: o.status for s, o in outcomes.items()} == dict.fromkeys(NOTEBOOKS, "fresh"), {
        s: o.error for s, o in outcomes.items()}
    assert not any(o.not_applicable for o in outcomes.values())
    pages = {s: visible_text((tmp_path / "reports" / s / "all.html").read_text())
             for s in NOTEBOOKS}
    docs = {s: json.loads((tmp_path / "reports" / s / "all.json").read_text()) for s in NOTEBOOKS}
    for stem, page in pages.items():
        assert "Traceback" not in page and "Error" not in page, stem

    # 01: the shortened scale is scored from what is there, and the report says so
    assert "Data readiness: scored from ready_1, ready_2 (ready_3 not asked)" in pages[
        "01_measurement"]
    coverage = {r["construct"]: r for r in docs["01_measurement"]["results"]["coverage"]["rows"]}
    assert coverage["data_readiness"]["status"] == "partial"
    assert coverage["sales_involvement"]["status"] == "not asked"
    alphas = {r["term"]: r for r in docs["01_measurement"]["results"]["key_estimates"]["rows"]}
    assert "sales_involvement" not in alphas and "mutual_trust" not in alphas
    assert alphas["data_readiness"]["estimate"] is not None  # alpha of ready_1 and ready_2

    # 02: the indicators asked, no trust; the note names what was not asked
    terms = {r["term"] for r in docs["02_disconnect_profile"]["results"]["key_estimates"]["rows"]}
    assert "mutual_trust" not in terms and "disconnect_index" in terms
    assert "Not asked in this survey, so not analysed: Mutual trust" in pages[
        "02_disconnect_profile"]

    # 03: every driver asked (sales involvement not), outcomes not asked are not estimable
    verdicts = {r["key"]: r["verdict"] for r in docs["03_drivers"]["results"]["headlines"]["rows"]}
    drivers = {k.removeprefix("drivers.") for k in verdicts if k.startswith("drivers.")}
    assert drivers == set(CB.constructs_present(survey, kind="driver"))
    assert "sales_involvement" not in drivers and "data_readiness" in drivers
    assert verdicts["consequences.project_failure"] == "not estimable"
    assert verdicts["consequences.relationship_improved"] == "not estimable"
    assert verdicts["consequences.customer_insight"] != "not estimable"
    assert "Not estimable: needs Failed or late joint project asked of both executives" in pages[
        "03_drivers"]
    assert "Sales involvement" in pages["03_drivers"]  # listed as not asked

    # 04: shared understanding not asked -> the documented rule picks the first indicator asked
    # of both executives
    chosen = docs["04_dyadic_congruence"]["results"]["constructs"]["value"]
    assert chosen == {"predictor": "importance_alignment", "outcome": "joint_project_success"}
    assert "chosen by the default rule" in pages["04_dyadic_congruence"]


@pytest.mark.slow
def test_reports_whose_inputs_are_absent_are_not_applicable(tmp_path_factory, tmp_path) -> None:
    """A survey with neither indicators nor outcomes: the profile, drivers and congruence
    reports are not applicable (not failed); the measurement report still renders."""
    data = shaped_processed(tmp_path_factory.mktemp("drivers_only"),
                            ALL_INDICATORS + ALL_OUTCOMES, firms=30)
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(nb)} for nb in NOTEBOOKS.values()],
                    data)
    outcomes = {o.job.stem: o for o in run_batch(f, tmp_path)}
    assert {s: o.label for s, o in outcomes.items()} == {
        "01_measurement": "fresh", "02_disconnect_profile": "not applicable",
        "03_drivers": "not applicable", "04_dyadic_congruence": "not applicable"}, {
        s: o.error for s, o in outcomes.items()}
    assert outcomes["02_disconnect_profile"].not_applicable.startswith(
        "needs the disconnect indicators")
    assert outcomes["04_dyadic_congruence"].not_applicable.startswith("needs an indicator")
    doc = json.loads((tmp_path / "reports" / "03_drivers" / "all.json").read_text())
    assert doc["status"] == "ok" and doc["not_applicable"].startswith("needs the disconnect")
    assert doc["n"] == len(pd.read_parquet(data / "survey.parquet"))
    index = (tmp_path / "reports" / "index.html").read_text()
    assert index.count('<span class="status st-not-applicable">') == 3
    assert "3 not applicable" in index and "failed" not in visible_text(index)


# --------------------------------------------------------------------------- the batch
@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny") / "processed"
    folder.mkdir()
    # 20 firms (CMO and CIO), 5 in each country and wave: every category is a published segment
    firms = [f"F{i:02d}" for i in range(20) for _ in ("CMO", "CIO")]
    survey = pd.DataFrame({"firm_id": firms, "role": ["CMO", "CIO"] * 20,
                           "wave": pd.array([1 + (i // 4) % 2 for i in range(40)], dtype="Int64"),
                           "country": ["DE", "DE", "AT", "AT"] * 10})
    survey.to_parquet(folder / "survey.parquet", index=False)
    manifest = {"synthetic": False, "outputs": {
        "survey.parquet": {"sha256": processing.fingerprint(folder / "survey.parquet")}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_not_applicable_page_results_index_and_exit_status(tiny_data: Path,
                                                           tmp_path: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(ADAPTIVE),
                                           "grid": {"segment": ["all", "wave"]}}], tiny_data)
    result = subprocess.run(
        [sys.executable, "-m", "helpers", "reports", "--batch", str(f), "--reports-dir",
         str(tmp_path / "reports"), "--executed-dir", str(tmp_path / "executed"), "-j", "2"],
        capture_output=True, text=True, timeout=300, cwd=paths.ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 reports: 2 fresh, 1 not applicable" in result.stdout
    page = (tmp_path / "reports" / "adaptive" / "wave-2.html").read_text()
    # what is needed, HTML-escaped (the reason carries markup characters)
    assert "Not applicable: adaptive/wave-2" in page
    assert "Needs &lt;b&gt;wave 2&lt;/b&gt; items &amp; a ledger" in page
    assert "<b>" not in page and "Traceback" not in page
    doc = json.loads((tmp_path / "reports" / "adaptive" / "wave-2.json").read_text())
    assert doc["status"] == "ok" and doc["not_applicable"] == "needs <b>wave 2</b> items & a ledger"
    assert doc["results"] == {} and doc["n"] == 20
    index = (tmp_path / "reports" / "index.html").read_text()
    row = re.search(r'<tr class="job st-not-applicable[^"]*">.*?</tr>', index, re.S).group(0)
    assert "wave-2" in row and "not applicable" in row and "&lt;b&gt;wave 2" in row
    assert "1 not applicable" in index
    # a second run reuses it and still calls it not applicable
    outcomes = {o.job.key: o for o in run_batch(f, tmp_path)}
    assert outcomes["adaptive/wave-2"].status == "reused"
    assert outcomes["adaptive/wave-2"].label == "not applicable"
    assert outcomes["adaptive/all"].label == "reused"


def test_not_applicable_in_a_fresh_kernel(tiny_data: Path, tmp_path: Path) -> None:
    job = batch_jobs.Job(ADAPTIVE, "wave-2", {"data_dir": str(tiny_data), "segment": {"wave": 2}})
    result = batch_render.render(job, timeout=120, reports_dir=tmp_path / "reports",
                              executed_dir=tmp_path / "executed", engine="kernel")
    assert result.status == "ok" and result.not_applicable.startswith("needs <b>wave 2")


@pytest.mark.parametrize("engine", ["fork", "kernel"])
def test_parameters_keep_their_types(tiny_data: Path, tmp_path: Path, engine: str) -> None:
    """Integer dict keys from reports.yaml arrive as integers (papermill would quote them)."""
    f = tmp_path / "b.yaml"
    f.write_text(f"""
defaults: {{data_dir: {tiny_data}, min_cell: 5}}
jobs:
  - notebook: {ADAPTIVE}
    parameters:
      wave_years: {{1: 2023, 2: 2024}}
      nested: {{labels: {{1: one, "2": two}}, flags: [1, 2.5, true, null]}}
""")
    outcomes = run_batch(f, tmp_path, engine=engine)
    assert [o.status for o in outcomes] == ["fresh"], outcomes[0].error
    doc = json.loads((tmp_path / "reports" / "adaptive" / "all.json").read_text())
    seen = doc["results"]["types"]["value"]
    assert seen["wave_years"] == "{1: 2023, 2: 2024}"
    assert seen["key_types"] == ["int", "int"]
    assert seen["nested"] == "{'labels': {1: 'one', '2': 'two'}, 'flags': [1, 2.5, True, None]}"
    # the two spellings are different parameters, so different fingerprints
    assert batch_plan.parameters_fingerprint({"w": {1: 2023}}) != \
        batch_plan.parameters_fingerprint({"w": {"1": 2023}})
    page = (tmp_path / "reports" / "adaptive" / "all.html").read_text()
    assert "{1: 2023, 2: 2024}" in page  # the parameters box shows the literal that was used


# --------------------------------------------------------------------------- stale reports
def test_reports_no_longer_in_the_plan_are_removed(tiny_data: Path, tmp_path: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(ADAPTIVE),
                                           "grid": {"segment": ["all", "country"]}}], tiny_data)
    first = {o.job.key for o in run_batch(f, tmp_path)}
    assert first == {"adaptive/all", "adaptive/country-DE", "adaptive/country-AT"}
    reports, executed = tmp_path / "reports" / "adaptive", tmp_path / "executed" / "adaptive"
    assert (reports / "country-AT.html").exists() and (executed / "country-AT.ipynb").exists()
    # files the batch did not write, beside and among the reports: never touched
    keep = {
        reports / "notes.txt": "my notes",
        reports / "handmade.html": "<p>mine</p>",
        reports / "handmade.json": json.dumps({"mine": True}),
        reports / "other.json": json.dumps({"notebook": "other.ipynb", "name": "other",
                                            "status": "ok", "provenance": {}}),
        reports / "other.html": "<p>html beside a results file of another notebook</p>",
        executed / "scratch.ipynb": nbformat.writes(nbformat.v4.new_notebook()),
        tmp_path / "reports" / "elsewhere" / "x.json": json.dumps({"notebook": "x.ipynb"}),
    }
    for path, text in keep.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    # Austria leaves the plan (as a synthetic country does when the user's data lacks it)
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(ADAPTIVE), "grid": {"segment": [
        "all", {"country": "DE"}]}}], tiny_data)
    stream = io.StringIO()
    options = batch_run.Options(reports_dir=tmp_path / "reports", executed_dir=tmp_path / "executed",
                            workers=1, timeout=300)
    outcomes = batch_run.run(batch_plan.load_batch(f), options, progress_stream=stream)
    assert {o.job.key: o.status for o in outcomes} == {"adaptive/all": "reused",
                                                       "adaptive/country-DE": "reused"}
    assert "removed 1 report(s) no longer in the batch: adaptive/country-AT" in stream.getvalue()
    for gone in (reports / "country-AT.html", reports / "country-AT.json",
                 executed / "country-AT.ipynb"):
        assert not gone.exists(), gone
    for path, text in keep.items():
        assert path.read_text() == text, path
    assert sorted(p.name for p in reports.glob("*.html")) == [
        "all.html", "country-DE.html", "handmade.html", "other.html"]
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "country-AT" not in index and "country-DE" in index
    # a notebook dropped from the batch entirely: its folder goes when nothing else is in it
    only_tiny = write_batch(tmp_path / "b.yaml", [{"notebook": str(FIXTURES / "tiny.ipynb")}],
                            tiny_data)
    listed = batch_plan.stale_outputs(batch_plan.load_batch(only_tiny), tmp_path / "reports",
                                 tmp_path / "executed")  # what a dry run can show
    removed = batch_plan.remove_stale_reports(batch_plan.load_batch(only_tiny), tmp_path / "reports",
                                         tmp_path / "executed")
    assert removed == listed
    assert {p.name for p in removed} == {"all.html", "all.json", "all.ipynb", "country-DE.html",
                                         "country-DE.json", "country-DE.ipynb"}
    assert reports.is_dir() and executed.is_dir()  # the files we did not write are still there
    for path, text in keep.items():
        assert path.read_text() == text, path


def test_controls_absent_from_the_data_are_dropped_like_constant_ones() -> None:
    from helpers import models

    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "x": [0.0, 1.0, 0.0, 1.0],
                          "country": ["DE", "DE", "DE", "DE"], "role": ["CMO", "CIO"] * 2})
    assert models.build_formula("y", ["x"], ["size_band", "country", "role"], frame) == \
        "y ~ x + C(role)"
