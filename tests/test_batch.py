"""The report batch: grid planning, incremental reuse and invalidation, failure isolation, timeouts,
atomic output under interruption, concurrent runs, offline reports, the index, and the in-process
engine's identity with fresh-kernel runs.

Most tests render the tiny notebooks in ``tests/fixtures/notebooks`` on a tiny processed-data
folder; the identity test also runs the real data-quality notebook on a small synthetic sample.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import cli, paths, processing, simulate
from helpers.batch import jobs as batch_jobs, plan as batch_plan, run as batch_run
from helpers.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
TINY, FAILS, SLOW = (FIXTURES / f"{name}.ipynb" for name in ("tiny", "fails", "slow"))
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|@import|url\(\s*["']?(?:https?:)?//""",
                      re.IGNORECASE)


# --------------------------------------------------------------------------- fixtures
def make_processed(folder: Path, seed: int = 0, n: int = 80) -> Path:
    """A processed-data folder with a tiny survey and a manifest, as `make data` writes them.

    ``n // 2`` firms, each with a CMO and a CIO, spread evenly over the cells of country (DE,
    AT), size band (<250, 5000+) and wave (1, 2), so that every category is a published segment
    (at least 5 CMOs, CIOs, firms and pairs, also beside the other dimensions); FR and 250-999
    are empty categories. ``seed`` changes the scores only.
    """
    rng = np.random.default_rng(seed)
    firms = n // 2
    cells = [(c, s, w) for c in ("DE", "AT") for s in ("<250", "5000+") for w in (1, 2)]
    cell = [cells[i % len(cells)] for i in range(firms)]
    rows = [(f"F{i:03d}", role, *cell[i]) for i in range(firms) for role in ("CMO", "CIO")]
    frame = pd.DataFrame(rows, columns=["firm_id", "role", "country", "size_band", "wave"])
    survey = pd.DataFrame({
        "respondent_id": [f"R{i:04d}" for i in range(len(frame))],
        "firm_id": frame["firm_id"],
        "role": pd.Categorical(frame["role"], categories=["CMO", "CIO"]),
        "country": pd.Categorical(frame["country"], categories=["DE", "AT", "FR"]),
        "size_band": pd.Categorical(frame["size_band"], categories=["<250", "250-999", "5000+"],
                                    ordered=True),
        "wave": pd.array(frame["wave"], dtype="Int64"),
        "score": rng.normal(3.0, 1.0, len(frame)),
    })
    folder.mkdir(parents=True, exist_ok=True)
    survey.to_parquet(folder / "survey.parquet", index=False)
    pd.DataFrame({"rule": pd.Series(dtype=str), "severity": pd.Series(dtype=str),
                  "message": pd.Series(dtype=str)}).to_parquet(
        folder / "survey_validation.parquet", index=False)
    manifest = {"synthetic": True, "outputs": {
        "survey.parquet": {"sha256": processing.fingerprint(folder / "survey.parquet")}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="session")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_processed(tmp_path_factory.mktemp("data") / "processed")


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic sample built into processed data, for the real notebook."""
    root = tmp_path_factory.mktemp("sample")
    simulate.write_sample(root / "raw", firms=60, ledger_rows=5_000, seed=11)
    processing.build_processed(root / "raw" / "survey.parquet", out_dir=root / "processed")
    return root / "processed"


@pytest.fixture(scope="module", autouse=True)
def frozen_sources(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Fingerprint the helpers source and the constraints from copies taken once, so that edits
    to the real files while the tests run (colleagues at work) do not turn reports stale."""
    root = tmp_path_factory.mktemp("frozen")
    shutil.copytree(batch_plan.HELPERS_DIR, root / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "constraints.txt").write_bytes(batch_plan.CONSTRAINTS.read_bytes())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch_plan, "HELPERS_DIR", root / "helpers")
        patch.setattr(batch_plan, "CONSTRAINTS", root / "constraints.txt")
        yield root


def write_batch(path: Path, jobs: list[dict[str, Any]], data_dir: Path) -> Path:
    path.write_text(yaml.safe_dump({"defaults": {"data_dir": str(data_dir), "language": "EN",
                                                 "min_cell": 5}, "jobs": jobs}))
    return path


def options(root: Path, **kw: Any) -> batch_run.Options:
    return batch_run.Options(reports_dir=root / "reports", executed_dir=root / "executed",
                         engine=kw.pop("engine", "fork"), workers=kw.pop("workers", 2),
                         timeout=kw.pop("timeout", 120))


def run(batch_file: Path, root: Path, **kw: Any) -> dict[str, str]:
    """Run the batch in this process (workers are forked from it); job key -> status."""
    only, force = kw.pop("only", ()), kw.pop("force", False)
    outcomes = batch_run.run(batch_plan.load_batch(batch_file), options(root, **kw), only=only,
                         force=force, progress_stream=io.StringIO())
    return {o.job.key: o.status for o in outcomes}


def plan(batch_file: Path, root: Path) -> dict[str, list[str]]:
    """Job key -> reasons to render (empty when up to date)."""
    return {p.job.key: p.reasons
            for p in batch_plan.plan(batch_plan.load_batch(batch_file), root / "reports")}


def copy_notebook(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "helpers", "reports", *args]


# --------------------------------------------------------------------------- planning
def test_grid_expands_to_segments_present_in_the_data(tmp_path: Path, data: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [
        {"notebook": str(TINY), "grid": {"segment": ["all", "country", "size_band", "wave",
                                                     {"country": ["DE", "AT"]}]}},
        {"notebook": str(FAILS), "name": "german", "parameters": {"language": "DE"},
         "grid": {"min_cell": [3, 10]}},
    ], data)
    jobs = {j.key: j for j in batch_plan.load_batch(f)}
    assert list(jobs) == [
        "tiny/all", "tiny/country-DE", "tiny/country-AT", "tiny/size_band-lt250",
        "tiny/size_band-5000plus", "tiny/wave-1", "tiny/wave-2", "tiny/country-DE_AT",
        "fails/german__min_cell-3", "fails/german__min_cell-10"]  # FR and 250-999 are empty
    assert jobs["tiny/wave-2"].parameters == {"data_dir": str(data), "language": "EN",
                                              "min_cell": 5, "segment": {"wave": 2}}
    assert jobs["tiny/size_band-lt250"].parameters["segment"] == {"size_band": "<250"}
    assert jobs["fails/german__min_cell-10"].parameters["language"] == "DE"


def test_glob_skips_notebooks_listed_by_path(tmp_path: Path, data: Path) -> None:
    for notebook in (TINY, FAILS, SLOW):
        copy_notebook(notebook, tmp_path / "nb" / notebook.name)
    f = write_batch(tmp_path / "b.yaml", [
        {"notebook": str(tmp_path / "nb" / "*.ipynb")},
        {"notebook": str(tmp_path / "nb" / "slow.ipynb"), "parameters": {"seconds": 0.1},
         "grid": {"segment": ["wave"]}},
    ], data)
    assert sorted(j.key for j in batch_plan.load_batch(f)) == [
        "fails/all", "slow/wave-1", "slow/wave-2", "tiny/all"]


def test_batch_file_errors_are_clear(tmp_path: Path, data: Path) -> None:
    bad_column = write_batch(tmp_path / "a.yaml", [
        {"notebook": str(TINY), "grid": {"segment": ["continent"]}}], data)
    with pytest.raises(DataError, match="continent"):
        batch_plan.load_batch(bad_column)
    duplicate = write_batch(tmp_path / "b.yaml", [{"notebook": str(TINY)},
                                                  {"notebook": str(TINY), "name": "all"}], data)
    with pytest.raises(DataError, match="duplicate report names: tiny/all"):
        batch_plan.load_batch(duplicate)
    missing = write_batch(tmp_path / "c.yaml", [{"notebook": "notebooks/nope.ipynb"}], data)
    with pytest.raises(DataError, match="notebook not found"):
        batch_plan.load_batch(missing)


def test_default_batch_covers_every_notebook_for_the_sample_and_its_segments() -> None:
    if not (paths.PROCESSED / "survey.parquet").exists():
        pytest.skip("no processed data (run `make data`)")
    jobs = batch_plan.load_batch()
    survey = pd.read_parquet(paths.PROCESSED / "survey.parquet")
    notebooks = sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    segments = 1 + sum(survey[c].dropna().nunique() for c in ("country", "industry", "size_band",
                                                               "wave"))
    assert len(jobs) == len(notebooks) * segments
    assert {j.notebook for j in jobs} == set(notebooks)
    assert {"all", "country-DE", "wave-2"} <= {j.name for j in jobs}


# --------------------------------------------------------------------------- incremental
@pytest.fixture
def workspace(tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Two copies of the tiny notebook on two data folders, rendered once.

    The helpers source and the constraints are fingerprinted from copies of their own, which
    tests may edit.
    """
    helpers_copy = tmp_path / "helpers-src"
    shutil.copytree(batch_plan.HELPERS_DIR, helpers_copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(batch_plan, "HELPERS_DIR", helpers_copy)
    constraints = tmp_path / "constraints.txt"
    constraints.write_bytes(batch_plan.CONSTRAINTS.read_bytes())
    monkeypatch.setattr(batch_plan, "CONSTRAINTS", constraints)
    a = copy_notebook(TINY, tmp_path / "nb" / "a.ipynb")
    b = copy_notebook(TINY, tmp_path / "nb" / "b.ipynb")
    other = make_processed(tmp_path / "other", seed=1)
    f = write_batch(tmp_path / "b.yaml", [
        {"notebook": str(a), "grid": {"segment": ["all", "wave"]}},
        {"notebook": str(b), "parameters": {"data_dir": str(other)}},
    ], data)
    first = run(f, tmp_path)
    assert set(first.values()) == {"fresh"}, first
    return {"root": tmp_path, "batch": f, "a": a, "b": b, "data": data, "other": other,
            "helpers": helpers_copy, "constraints": constraints}


def test_nothing_changed_reuses_every_report(workspace: dict[str, Path]) -> None:
    root = workspace["root"]
    html = root / "reports" / "a" / "all.html"
    before = html.stat().st_mtime_ns
    assert all(not reasons for reasons in plan(workspace["batch"], root).values())
    assert set(run(workspace["batch"], root).values()) == {"reused"}
    assert html.stat().st_mtime_ns == before


def test_notebook_edit_reruns_that_notebook_only(workspace: dict[str, Path]) -> None:
    nb = nbformat.read(workspace["a"], as_version=4)
    nb.cells[0].source += "\n\nAn edited sentence."
    nbformat.write(nb, workspace["a"])
    assert plan(workspace["batch"], workspace["root"]) == {
        "a/all": ["notebook changed"], "a/wave-1": ["notebook changed"],
        "a/wave-2": ["notebook changed"], "b/all": []}
    statuses = run(workspace["batch"], workspace["root"])
    assert statuses == {"a/all": "fresh", "a/wave-1": "fresh", "a/wave-2": "fresh",
                        "b/all": "reused"}
    assert "An edited sentence." in (workspace["root"] / "reports/a/all.html").read_text()


def test_parameter_edit_reruns_that_job_only(workspace: dict[str, Path]) -> None:
    spec = yaml.safe_load(workspace["batch"].read_text())
    spec["jobs"][1]["parameters"]["shift"] = 10.0
    workspace["batch"].write_text(yaml.safe_dump(spec))
    reasons = plan(workspace["batch"], workspace["root"])
    assert reasons.pop("b/all") == ["parameters changed"]
    assert not any(reasons.values())
    statuses = run(workspace["batch"], workspace["root"])
    assert statuses == {"a/all": "reused", "a/wave-1": "reused", "a/wave-2": "reused",
                        "b/all": "fresh"}
    doc = json.loads((workspace["root"] / "reports/b/all.json").read_text())
    assert doc["parameters"]["shift"] == 10.0
    assert doc["results"]["key_estimates"]["rows"][0]["estimate"] > 10


def test_data_edit_reruns_the_jobs_on_that_data_only(workspace: dict[str, Path]) -> None:
    make_processed(workspace["other"], seed=2)  # `make data` on new raw data
    reasons = plan(workspace["batch"], workspace["root"])
    assert reasons.pop("b/all") == ["data changed"]
    assert not any(reasons.values())
    statuses = run(workspace["batch"], workspace["root"])
    assert statuses["b/all"] == "fresh"
    assert {k: v for k, v in statuses.items() if k != "b/all"} == {
        "a/all": "reused", "a/wave-1": "reused", "a/wave-2": "reused"}


def test_helpers_or_environment_edit_reruns_everything(workspace: dict[str, Path]) -> None:
    tables = workspace["helpers"] / "tables.py"
    original = tables.read_text()
    tables.write_text(original + "\n# an edit\n")
    assert set(map(tuple, plan(workspace["batch"], workspace["root"]).values())) == {
        ("helpers changed",)}
    tables.write_text(original)
    assert all(not r for r in plan(workspace["batch"], workspace["root"]).values())

    constraints = workspace["constraints"]
    constraints.write_text(constraints.read_text() + "newpackage==1.0\n")
    assert set(map(tuple, plan(workspace["batch"], workspace["root"]).values())) == {
        ("environment changed",)}


def test_force_and_only(workspace: dict[str, Path]) -> None:
    statuses = run(workspace["batch"], workspace["root"], only=["a/wave-*"], force=True)
    assert statuses == {"a/all": "reused", "a/wave-1": "fresh", "a/wave-2": "fresh",
                        "b/all": "reused"}


def test_dry_run_json_lists_the_plan(workspace: dict[str, Path],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    root = workspace["root"]
    (root / "reports/a/wave-2.json").unlink()
    code = cli.main(["reports", "--batch", str(workspace["batch"]), "--reports-dir",
                     str(root / "reports"), "--dry-run", "--json"])
    assert code == 0
    planned = {(p["notebook"], p["name"]): p for p in json.loads(capsys.readouterr().out)}
    assert len(planned) == 4
    entry = planned[(str(workspace["a"]), "wave-2")]
    assert entry["up_to_date"] is False and entry["reasons"] == ["no report yet"]
    assert entry["parameters"]["segment"] == {"wave": 2}
    assert entry["html"] == str(root / "reports/a/wave-2.html")
    assert planned[(str(workspace["a"]), "wave-1")]["up_to_date"] is True


# --------------------------------------------------------------------------- failures
def test_failure_is_isolated_reported_and_retried(tmp_path: Path, data: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    f = write_batch(tmp_path / "b.yaml", [
        {"notebook": str(FAILS), "grid": {"segment": ["wave"]}},
        {"notebook": str(TINY)},
    ], data)
    args = ["reports", "--batch", str(f), "--reports-dir", str(tmp_path / "reports"),
            "--executed-dir", str(tmp_path / "executed"), "-j", "2"]
    assert cli.main(args) == 1
    out = capsys.readouterr().out
    assert "3 reports: 2 fresh, 1 failed" in out
    assert "FAILED fails/wave-2: ValueError: wave 2 has no usable answers" in out

    assert not (tmp_path / "reports/fails/wave-2.html").exists()  # no good report to keep
    page = (tmp_path / "reports/fails/wave-2.error.html").read_text()
    assert "Report failed" in page and "Failing cell: In [4], cell 5 of the executed" in page
    assert "raise ValueError(&quot;wave 2 has no usable answers&quot;)" in page
    assert "ValueError: wave 2 has no usable answers" in page
    assert not EXTERNAL.search(page)
    doc = json.loads((tmp_path / "reports/fails/wave-2.json").read_text())
    assert doc["status"] == "failed" and doc["failing_cell"]["index"] == 4
    # the failed attempt's executed notebook, with the traceback, for analysts; named on the page
    assert (tmp_path / "executed/fails/wave-2.error.ipynb").exists()
    assert "wave-2.error.ipynb</code>" in page and str(tmp_path) not in page
    assert json.loads((tmp_path / "reports/tiny/all.json").read_text())["status"] == "ok"
    index = (tmp_path / "reports/index.html").read_text()
    assert re.search(r'<tr class="job st-failed dim d\d+"><td><a href="fails/wave-2.error.html">',
                     index)

    assert plan(f, tmp_path)["fails/wave-2"] == ["failed last time"]
    assert cli.main(args) == 1
    assert "3 reports: 2 reused, 1 failed" in capsys.readouterr().out


def test_timeout_stops_the_report_and_marks_it_failed(tmp_path: Path, data: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [
        {"notebook": str(SLOW), "parameters": {"seconds": 60}},
        {"notebook": str(TINY)},
    ], data)
    start = time.monotonic()
    statuses = run(f, tmp_path, timeout=3)
    assert time.monotonic() - start < 30
    assert statuses == {"slow/all": "failed", "tiny/all": "fresh"}
    doc = json.loads((tmp_path / "reports/slow/all.json").read_text())
    assert doc["error"].startswith(
        "Timed out: the report ran longer than 3 s while running cell 4 of the executed notebook")
    page = (tmp_path / "reports/slow/all.error.html").read_text()
    assert "time.sleep(seconds)" in page and "Timed out" in page


def wait_for(condition: Any, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie waiting for its parent counts as gone
        return fh.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs Linux /proc")
def test_interrupted_run_keeps_previous_report_and_leaves_no_partial_files(
        tmp_path: Path, data: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(SLOW)}], data)
    assert run(f, tmp_path) == {"slow/all": "fresh"}
    html, results = tmp_path / "reports/slow/all.html", tmp_path / "reports/slow/all.json"
    before = html.read_bytes(), results.read_bytes()
    marker = tmp_path / "worker.pid"
    write_batch(f, [{"notebook": str(SLOW), "parameters": {"seconds": 120, "marker": str(marker)}}],
                data)
    command = cli_command("--batch", str(f), "--reports-dir", str(tmp_path / "reports"),
                          "--executed-dir", str(tmp_path / "executed"), "-j", "1")
    for sig, code in ((signal.SIGINT, 130), (signal.SIGKILL, -signal.SIGKILL)):
        marker.unlink(missing_ok=True)
        driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(lambda: marker.exists() and marker.read_text())
        worker = int(marker.read_text())
        driver.send_signal(sig)
        assert driver.wait(timeout=30) == code, driver.stderr.read()
        wait_for(lambda w=worker: not alive(w), 10)  # the worker went down with the driver
        assert (html.read_bytes(), results.read_bytes()) == before
        leftovers = [p for p in tmp_path.rglob(".*") if "tmp" in p.name]
        assert not leftovers or sig == signal.SIGKILL
    assert plan(f, tmp_path)["slow/all"] == ["parameters changed"]  # still to do
    run(f, tmp_path, only=["nothing"])  # the next run sweeps what a killed run left
    assert not [p for p in tmp_path.rglob(".*") if "tmp" in p.name]


def test_two_runs_at_once_do_not_corrupt_each_other(tmp_path: Path, data: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(TINY), "grid": {"segment": ["all",
                                                                                      "wave"]}}],
                    data)
    command = cli_command("--batch", str(f), "--reports-dir", str(tmp_path / "reports"),
                          "--executed-dir", str(tmp_path / "executed"), "--json", "-j", "2")
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    finished = [(p.wait(timeout=300), *p.communicate()) for p in runs]
    assert [code for code, _, _ in finished] == [0, 0], finished
    waited = ["waiting for it to finish" in err for _, _, err in finished]
    assert sorted(waited) == [False, True], finished  # the second run waited for the first
    first = json.loads(finished[waited.index(False)][1])
    second = json.loads(finished[waited.index(True)][1])
    assert [o["status"] for o in first] == ["fresh"] * 3
    for outcome in second:  # reused, unless a colleague edited the helpers meanwhile
        assert outcome["status"] == "reused" or set(outcome["reasons"]) <= {
            "helpers changed", "data changed"}, second
    for page in (tmp_path / "reports").rglob("*.html"):
        assert page.read_text().rstrip().endswith("</html>")


# --------------------------------------------------------------------------- the outputs
def test_report_is_self_contained_with_toc_parameters_and_provenance(tmp_path: Path,
                                                                     data: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(TINY), "grid": {"segment": ["wave"]}}],
                    data)
    run(f, tmp_path, only=["*/wave-1"])
    page = (tmp_path / "reports/tiny/wave-1.html").read_text()
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert "<script" not in page
    assert page.count("SYNTHETIC DATA") == 1  # the notebook's own banner, not a second one
    assert re.search(r'<nav class="dl-box dl-toc".*href="#Counts".*href="#Figure".*href="#Scores-by-wave"',
                     page, re.DOTALL)
    box = re.search(r'<section[^>]*class="dl-box dl-parameters".*?</section>', page, re.DOTALL)
    assert box and "Wave: 2" not in box.group(0) and "Wave: 1" in box.group(0)
    assert "<dt>Minimum cell size</dt><dd>5</dd>" in box.group(0)
    assert "import matplotlib" not in page and "segment = {" not in page  # inputs hidden
    assert "data:image/png;base64," in page
    footer = re.search(r'<footer[^>]*class="dl-footer".*?</footer>', page, re.DOTALL).group(0)
    for field in ("Project commit", "Data fingerprint", "pandas ", "Rendered", "tiny/wave-1"):
        assert field in footer
    assert (tmp_path / "executed/tiny/wave-1.ipynb").exists()
    assert not (tmp_path / "reports/tiny/wave-1.ipynb").exists()


def test_index_lists_every_job_with_status_n_and_estimates_across_segments(
        tmp_path: Path, data: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [
        {"notebook": str(TINY), "grid": {"segment": ["all", "country", "wave"]}},
        {"notebook": str(FAILS), "grid": {"segment": ["wave"]}},
    ], data)
    run(f, tmp_path, only=["tiny/*", "fails/wave-2"])
    run(f, tmp_path, only=["tiny/wave-*"], force=True)
    index = (tmp_path / "reports/index.html").read_text()
    assert not EXTERNAL.search(index) and "<script" not in index and "<img" not in index
    rows = re.findall(r'<tr class="job st-([\w-]+)[^"]*"><td>(?:<a href="([^"]+)">)?([^<]+)'
                      r'.*?<td class="num">([^<]*)</td>', index)
    by_link = {(link or name): status for status, link, name, _ in rows}
    assert by_link == {
        "tiny/all.html": "reused", "tiny/country-DE.html": "reused",
        "tiny/country-AT.html": "reused", "tiny/wave-1.html": "fresh",
        "tiny/wave-2.html": "fresh", "Wave: 1": "missing", "fails/wave-2.error.html": "failed"}
    # the n each report used: its own respondents, not the whole survey's
    used = {link: n for _, link, _, n in rows if link.startswith("tiny/")}
    assert used["tiny/all.html"] == "80 respondents" and used["tiny/wave-1.html"] == "40 respondents"
    # the key estimates across segments: whole-sample value, a column per segment by dimension
    doc = json.loads((tmp_path / "reports/tiny/all.json").read_text())
    mean = next(r for r in doc["results"]["key_estimates"]["rows"] if r["term"] == "mean_score")
    groups = dict(re.findall(r'<tbody class="dim d\d+"><tr class="dimhead"><th scope="colgroup" '
                             r'class="dimname">([^<]+)</th>(.*?)</tbody>', index, re.DOTALL))
    assert list(groups) == ["Country", "Wave"]
    assert re.findall(r'class="seg"><a href="([^"]+)"', groups["Wave"]) == \
        ["tiny/wave-1.html", "tiny/wave-2.html"]
    assert f"<strong>{mean['estimate']:.2f}</strong>" in groups["Country"]
    assert len(re.findall(r'<td class="cell ', groups["Country"])) == 4  # 2 terms x 2 countries


# --------------------------------------------------------------------------- identity
def normalised_outputs(executed: Path, import_warnings: list[str]) -> list[Any]:
    """Each code cell's outputs, with what legitimately differs between runs taken out.

    Streams are compared per stream (kernels flush them in chunks); Styler table ids are random;
    warnings that libraries raise on import (which the fork engine's driver absorbed, and lists
    in the results file) appear only in a fresh kernel's first import cell.
    """
    nb = nbformat.read(executed, as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        streams: dict[str, str] = {}
        outputs = []
        for out in cell.outputs:
            if out.output_type == "stream":
                streams[out.name] = streams.get(out.name, "") + out.text
            elif out.output_type == "error":
                outputs.append(("error", out.ename, out.evalue))
            else:
                data = {k: re.sub(r"T_[0-9a-f]{5}", "T_uuid", v) if isinstance(v, str) else v
                        for k, v in out.data.items()}
                outputs.append((out.output_type, data, dict(out.metadata),
                                out.get("execution_count")))
        streams = {k: batch_jobs.scrub(v) for k, v in streams.items()}  # as the results file
        for warning in import_warnings:
            streams["stderr"] = re.sub(re.escape(warning) + r"\n(  .*\n)?", "",
                                       streams.get("stderr", ""))
        streams = {k: re.sub(r"ipykernel_\d+", "ipykernel_PID", v) for k, v in streams.items()}
        cells.append((cell.execution_count, sorted((k, v) for k, v in streams.items() if v),
                      outputs))
    return cells


def normalised_html(page: Path) -> str:
    """The report without its provenance footer (times, engine), random table ids and stderr
    blocks (compared, import warnings aside, by :func:`normalised_outputs`)."""
    text = re.sub(r'<footer[^>]*class="dl-footer".*?</footer>', "", page.read_text(),
                  flags=re.DOTALL)
    text = re.sub(r'<div class="jp-OutputArea-child">\s*<div [^>]*data-mime-type="application/'
                  r'vnd.jupyter.stderr"[^>]*>\s*<pre>.*?</pre>\s*</div>\s*</div>', "", text,
                  flags=re.DOTALL)
    return re.sub(r">\s+<", "><", re.sub(r"T_[0-9a-f]{5}", "T_uuid", text))


@pytest.mark.slow
def test_fork_engine_reports_equal_fresh_kernel_reports(tmp_path: Path, data: Path,
                                                        sample: Path) -> None:
    """The production path (``python -m helpers reports``), fork engine against kernel engine,
    on the tiny fixture (every kind of output) and on the real data-quality notebook."""
    f = write_batch(tmp_path / "b.yaml", [
        {"notebook": str(TINY), "name": "identity", "parameters": {"segment": {"wave": 1}}},
        {"notebook": str(paths.NOTEBOOKS / "00_data_quality.ipynb"), "name": "identity",
         "parameters": {"data_dir": str(sample), "segment": {"wave": 2}}},
    ], data)
    for engine in ("fork", "kernel"):
        done = subprocess.run(cli_command("--batch", str(f), "--engine", engine, "-j", "2",
                                          "--reports-dir", str(tmp_path / engine / "reports"),
                                          "--executed-dir", str(tmp_path / engine / "executed")),
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    for stem in ("tiny", "00_data_quality"):
        fork, kernel = (tmp_path / engine / "reports" / stem / "identity.json"
                        for engine in ("fork", "kernel"))
        docs = [json.loads(p.read_text()) for p in (fork, kernel)]
        assert docs[0]["results"] == docs[1]["results"] and docs[0]["n"] == docs[1]["n"]
        assert [d["engine"] for d in docs] == ["inprocess", "kernel"]
        absorbed = docs[0]["import_warnings"]
        outputs = [normalised_outputs(tmp_path / engine / "executed" / stem / "identity.ipynb",
                                      absorbed) for engine in ("fork", "kernel")]
        assert outputs[0] == outputs[1], stem
        if stem == "tiny":  # figures compared too (a segment's data-quality report has none)
            assert any("image/png" in o[1] for c in outputs[0] for o in c[2] if o[0] != "error")
        pages = [normalised_html(p.with_suffix(".html")) for p in (fork, kernel)]
        assert pages[0] == pages[1], stem


# --------------------------------------------------------------------------- no-op rebuilds
def test_a_run_that_changes_nothing_leaves_the_index_alone(tmp_path: Path, data: Path) -> None:
    """A no-op rebuild neither renders nor rewrites the index (it would cost a second of reading
    every results file); a changed report, or a changed status, writes it again."""
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(TINY), "grid": {
        "segment": ["all", "wave"]}}], data)
    assert set(run(f, tmp_path).values()) == {"fresh"}
    index = tmp_path / "reports" / "index.html"
    before = (index.stat().st_mtime_ns, index.read_bytes())
    assert batch_plan.INDEX_STATE_META in before[1].decode()
    assert set(run(f, tmp_path).values()) == {"reused"}
    assert (index.stat().st_mtime_ns, index.read_bytes()) == before
    # a report rendered again (forced): its results file changed, the index is written anew
    run(f, tmp_path, only=["tiny/wave-1"], force=True)
    assert index.stat().st_mtime_ns != before[0]
    after = index.stat().st_mtime_ns
    # the index deleted by hand: written again though nothing else changed
    index.unlink()
    run(f, tmp_path)
    assert index.exists() and index.stat().st_mtime_ns != after


def test_a_run_records_where_the_time_went(tmp_path: Path, data: Path) -> None:
    """Each rendered report's time split into preparing, running cells, the rest of executing,
    collecting results, exporting and writing, plus the worker's whole life as the driver saw
    it; the parts add up to no more than the whole."""
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(TINY)}], data)
    run(f, tmp_path)
    doc = json.loads((tmp_path / "executed" / batch_run.TIMINGS_FILE).read_text())
    (row,) = doc["reports"]
    assert row["report"] == "tiny/all" and row["status"] == "fresh"
    parts = [row[p] for p in batch_jobs.PHASES]
    assert all(p >= 0 for p in parts) and row["cells"] > 0
    assert sum(parts) <= row["seconds"] + 1e-6 <= row["worker"] + 1e-6


def test_segment_grids_are_worked_out_once_per_data(tmp_path: Path, data: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The grid's segments come from the cache on the second planning pass (no pandas read),
    and new data (another manifest) is worked out again."""
    monkeypatch.setattr(batch_plan, "SEGMENT_CACHE", tmp_path / "cache")
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(TINY), "grid": {
        "segment": ["all", "country", "wave"]}}], data)
    first = [j.key for j in batch_plan.load_batch(f)]
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1

    def no_reading(*args: Any, **kw: Any) -> None:
        raise AssertionError("the data was read although the grid was cached")

    monkeypatch.setattr(batch_plan, "_GridData", no_reading)
    assert [j.key for j in batch_plan.load_batch(f)] == first
    other = make_processed(tmp_path / "other", seed=3, n=40)
    g = write_batch(tmp_path / "g.yaml", [{"notebook": str(TINY), "grid": {
        "segment": ["all", "country"]}}], other)
    with pytest.raises(AssertionError, match="grid was cached"):
        batch_plan.load_batch(g)
