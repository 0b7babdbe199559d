"""Outputs are safe to write and safe to share: names from ``reports.yaml`` and the data become
file names only after sanitising, no output lands outside its folder, a failed render keeps the
previous good report, published outputs show no local path, and the folders and the index agree
when segments disappear. (Full disks and unwritable folders: test_batch_resilience.py.)

The batch runs render the tiny fixture notebooks on the tiny processed data of test_batch.py.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
import test_batch
from test_batch import FAILS, SLOW, TINY, make_processed, options, run, write_batch

from helpers import cli, paths
from helpers.batch import index as batch_index, jobs as batch_jobs, plan as batch_plan, run as batch_run
from helpers.errors import DataError
from helpers.batch.jobs import file_stem, public_path, scrub

data = test_batch.data  # shared fixtures: the tiny processed data, frozen sources
frozen_sources = test_batch.frozen_sources

HOSTILE_NAMES = {
    "traversal": "../../../../tmp/x",
    "absolute": "/etc/cron.d/report",
    "control": "a\0b\nc\rd",
    "long": "Ü" * 400,
    "reserved": "CON",
    "windows": "C:\\Users\\alice\\report",
}


# --------------------------------------------------------------------------- file names
@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values()) + [
    "..", ".", "", "-", ".hidden", "x.error", "nul.txt", "com1", "a/b", "e\u0301", "x" * 300,
    "country-DE__wave-2", "size_band-lt250"])
def test_file_stems_are_safe_idempotent_and_short(name: str) -> None:
    stem = file_stem(name)
    assert stem == file_stem(stem)
    assert re.fullmatch(r"[\w.-]+", stem) and not stem.startswith((".", "-"))
    assert not stem.endswith((".", "-", ".error"))
    assert len(stem.encode()) <= batch_jobs.MAX_STEM_BYTES
    assert len(f".{stem}.error.html.abcdefgh.tmp".encode()) <= 255
    assert stem.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}


def test_file_stems_keep_ordinary_names_and_a_readable_prefix_of_long_ones() -> None:
    for ordinary in ("all", "country-DE__wave-2", "german__min_cell-3", "wave-1.5", "Übersicht"):
        assert file_stem(ordinary) == ordinary
    assert file_stem("../../../../tmp/x") == "tmp-x"
    assert file_stem("e\u0301") == "\u00e9"  # one spelling on every disk (NFC)
    long_a, long_b = file_stem("Ü" * 400), file_stem("Ü" * 401)
    assert long_a.startswith("Ü" * 50) and long_a != long_b  # a hash of the whole name


def test_names_that_collide_as_file_names_are_refused(tmp_path: Path, data: Path) -> None:
    for first, second in (("Report", "report"), ("a/b", "a-b"), ("x y", "x:y")):
        f = write_batch(tmp_path / "reports.yaml", [{"notebook": str(TINY), "name": first},
                                                    {"notebook": str(TINY), "name": second}], data)
        with pytest.raises(DataError) as caught:
            batch_plan.load_batch(f)
        text = str(caught.value)
        assert "reports.yaml" in text and repr(f"tiny/{first}") in text
        assert repr(f"tiny/{second}") in text and caught.value.rule == "batch-duplicate"


@pytest.mark.parametrize("folder", ["reports", "executed"])
def test_an_output_folder_reached_through_a_link_is_refused(tmp_path: Path, data: Path,
                                                            folder: str,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "tiny").symlink_to(elsewhere, target_is_directory=True)
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(TINY)}], data)
    code = cli.main(["reports", "--batch", str(f), "--reports-dir", str(tmp_path / "reports"),
                     "--executed-dir", str(tmp_path / "executed")])
    err = capsys.readouterr().err
    assert code == 2 and "outside its output folder" in err and "Traceback" not in err
    assert list(elsewhere.iterdir()) == []


def hostile_data(folder: Path) -> Path:
    """The tiny processed data with country values that are paths: ``../../../../tmp/y`` and a
    Windows path with a newline."""
    import pandas as pd

    from helpers import processing

    make_processed(folder)
    survey = pd.read_parquet(folder / "survey.parquet")
    survey["country"] = survey["country"].cat.rename_categories(
        {"DE": "../../../../tmp/y", "AT": "C:\\Users\\x\nAT"})
    survey.to_parquet(folder / "survey.parquet", index=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["outputs"]["survey.parquet"]["sha256"] = processing.fingerprint(
        folder / "survey.parquet")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_hostile_names_stay_inside_the_output_folders_and_the_index(tmp_path: Path) -> None:
    hostile = hostile_data(tmp_path / "hostile")
    jobs = [{"notebook": str(TINY), "name": name} for name in HOSTILE_NAMES.values()]
    jobs.append({"notebook": str(TINY), "grid": {"segment": ["country"]}})
    f = write_batch(tmp_path / "b.yaml", jobs, hostile)
    work = tmp_path / "work"
    statuses = run(f, work)
    assert len(statuses) == len(jobs) + 1 and set(statuses.values()) == {"fresh"}, statuses
    assert {"tiny/country-..-..-..-..-tmp-y", "tiny/country-C-Users-x-AT"} <= set(statuses)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    for path in written:
        assert path.is_relative_to(work) or path == f or path.is_relative_to(hostile), path
        assert all(len(part.encode()) <= 255 for part in path.parts)
    index = (work / "reports" / "index.html").read_text()
    links = re.findall(r'<a href="([^"#]+)"', index)
    assert len(set(links)) == len(statuses)  # each report (linked from its row and column)
    for link in links:
        from urllib.parse import unquote

        assert (work / "reports" / unquote(link)).resolve().is_relative_to(work / "reports")
        assert (work / "reports" / unquote(link)).is_file(), link
    assert not Path("/etc/cron.d/report.html").exists()


# --------------------------------------------------------------------------- a failed render
def test_a_failed_render_keeps_the_previous_good_report(tmp_path: Path, data: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(FAILS), "name": "x"}], data)
    assert run(f, tmp_path) == {"fails/x": "fresh"}
    report, results = tmp_path / "reports/fails/x.html", tmp_path / "reports/fails/x.json"
    executed = tmp_path / "executed/fails/x.ipynb"
    good = report.read_bytes(), json.loads(results.read_text()), executed.read_bytes()

    # the same report now fails (its segment lost the answers it needs)
    write_batch(f, [{"notebook": str(FAILS), "name": "x",
                     "parameters": {"segment": {"wave": 2}}}], data)
    stream = io.StringIO()
    outcomes = batch_run.run(batch_plan.load_batch(f), options(tmp_path), progress_stream=stream)
    assert [o.status for o in outcomes] == ["failed"]
    assert report.read_bytes() == good[0] and executed.read_bytes() == good[2]
    doc = json.loads(results.read_text())
    assert {k: v for k, v in doc.items() if k != "failure"} == good[1]
    failure = doc["failure"]
    assert failure["error"].endswith("ValueError: wave 2 has no usable answers")
    assert failure["page"] == "x.error.html" and failure["failing_cell"]["index"] == 4
    page = (tmp_path / "reports/fails/x.error.html").read_text()
    when = batch_jobs.time_label(good[1]["rendered_at"])
    assert f"The previous good report, rendered {when}, is kept" in page
    assert (tmp_path / "executed/fails/x.error.ipynb").exists()
    index = (tmp_path / "reports/index.html").read_text()
    row = re.search(r'<tr class="job st-failed[^"]*">.*?</tr>', index).group(0)
    assert re.match(r'<tr class="job st-failed[^"]*"><td><a href="fails/x.html">Wave: 2</a>', row)
    assert 'href="fails/x.error.html">error page</a>' in row
    assert f"previous good report from {batch_index.time_text(good[1]['rendered_at'])} kept" \
        in row
    summary = batch_plan.summary(outcomes, tmp_path / "reports", 1.0)
    assert "x.error.html" in summary and f"previous good report from {when} is kept" in summary
    assert batch_plan.plan(batch_plan.load_batch(f), tmp_path / "reports")[0].reasons == [
        "failed last time"]

    # fixed again: a fresh report, and the error outputs of the failed attempt are gone
    write_batch(f, [{"notebook": str(FAILS), "name": "x"}], data)
    assert run(f, tmp_path) == {"fails/x": "fresh"}
    assert "failure" not in json.loads(results.read_text())
    assert not (tmp_path / "reports/fails/x.error.html").exists()
    assert not (tmp_path / "executed/fails/x.error.ipynb").exists()
    assert '<tr class="job st-failed' not in (tmp_path / "reports/index.html").read_text()


def test_a_report_stopped_at_its_time_limit_keeps_the_previous_good_report(
        tmp_path: Path, data: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(SLOW),
                                           "parameters": {"seconds": 0.1}}], data)
    assert run(f, tmp_path) == {"slow/all": "fresh"}
    report = tmp_path / "reports/slow/all.html"
    before = report.read_bytes()
    write_batch(f, [{"notebook": str(SLOW), "parameters": {"seconds": 60}}], data)
    assert run(f, tmp_path, timeout=3) == {"slow/all": "failed"}  # the worker is killed
    assert report.read_bytes() == before
    doc = json.loads((tmp_path / "reports/slow/all.json").read_text())
    assert doc["status"] == "ok" and doc["parameters"]["seconds"] == 0.1
    assert doc["failure"]["error"].startswith("Timed out")
    page = (tmp_path / "reports/slow/all.error.html").read_text()
    assert "Timed out" in page and "The previous good report" in page
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


# --------------------------------------------------------------------------- local paths
def _paths_notebook(folder: Path) -> Path:
    """A notebook that prints, warns and (when asked) fails with paths in the project and home."""
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell("# Paths"),
        v4.new_code_cell('data_dir = "data/processed"\nsegment = {}\nnote = ""\nfail = False',
                         metadata={"tags": ["parameters"]}),
        v4.new_code_cell("import pathlib\nimport warnings\n\nfrom helpers import paths\n\n"
                         "raw = paths.ROOT / 'data' / 'raw' / 'export.csv'\n"
                         "print('reading', raw)\nwarnings.warn(f'slow read of {raw}')"),
        v4.new_code_cell("if fail:\n    raise RuntimeError(f'cannot read {raw} nor '\n"
                         "                       f\"{pathlib.Path.home() / 'survey.sav'}\")"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}, "language_info": {"name": "python"}})
    path = folder / "paths.ipynb"
    nbformat.write(nb, path)
    return path


def _local(text: str) -> list[str]:
    """Local absolute paths in a published text: the project root or the home folder."""
    home = str(Path.home())
    found = [str(paths.ROOT)] if str(paths.ROOT) in text else []
    return found + ([home] if re.search(re.escape(home) + r"(?=/)", text) else [])


def test_published_outputs_show_paths_relative_to_the_project(tmp_path: Path,
                                                               data: Path) -> None:
    notebook = _paths_notebook(tmp_path)
    note = str(paths.ROOT / "data" / "processed")
    f = write_batch(tmp_path / "b.yaml", [
        {"notebook": str(notebook), "name": "ok", "parameters": {"note": note}},
        {"notebook": str(notebook), "name": "bad", "parameters": {"note": note, "fail": True}},
    ], data)
    assert run(f, tmp_path) == {"paths/ok": "fresh", "paths/bad": "failed"}
    reports = tmp_path / "reports"
    published = {p.relative_to(reports).as_posix(): p.read_text() for p in reports.rglob("*")
                 if p.is_file() and p.suffix in (".html", ".json")}
    assert set(published) == {"index.html", "paths/ok.html", "paths/ok.json",
                              "paths/bad.error.html", "paths/bad.json"}
    for name, text in published.items():
        assert not _local(text), (name, _local(text))
    assert "./data/raw/export.csv" in published["paths/ok.html"]  # printed and warned
    assert json.loads(published["paths/ok.json"])["parameters"]["note"] == "./data/processed"
    for name in ("paths/bad.error.html", "paths/bad.json", "index.html"):
        assert "./data/raw/export.csv" in published[name] and "~/survey.sav" in published[name]
    assert "…/executed/paths/bad.error.ipynb" in published["paths/bad.error.html"]
    executed = json.loads((tmp_path / "executed/paths/ok.ipynb").read_text())
    recorded = executed["metadata"]["papermill"]
    assert recorded["input_path"] == public_path(notebook)  # the parameters stay as they ran
    assert recorded["output_path"] == "…/executed/paths/ok.ipynb"


def test_public_path_and_scrub() -> None:
    home = Path.home()
    assert public_path(paths.ROOT / "reports" / "a.html") == "reports/a.html"
    assert public_path(paths.ROOT) == "."
    if not paths.ROOT.is_relative_to(home):
        assert public_path(home / "x" / "y.csv") == "~/x/y.csv"
    assert public_path(Path("/srv/data/shared/reports/a.html")) == "…/shared/reports/a.html"
    assert public_path("reports/a.html") == "reports/a.html"
    text = f'File "{paths.ROOT}/src/helpers/io.py", line 3; {home}/survey.sav; {paths.ROOT}x'
    assert scrub(text) == f'File "./src/helpers/io.py", line 3; ~/survey.sav; {paths.ROOT}x'


# --------------------------------------------------------------------------- stale segments
def test_segments_that_disappear_leave_no_file_behind(tmp_path: Path, data: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [
        {"notebook": str(TINY), "grid": {"segment": ["all", "wave"]}},
        {"notebook": str(FAILS), "grid": {"segment": ["wave"]}},
    ], data)
    assert run(f, tmp_path) == {"tiny/all": "fresh", "tiny/wave-1": "fresh",
                                "tiny/wave-2": "fresh", "fails/wave-1": "fresh",
                                "fails/wave-2": "failed"}
    reports, executed = tmp_path / "reports", tmp_path / "executed"
    (executed / "fails" / "wave-2.log").write_text("output a killed worker left\n")
    mine = reports / "tiny" / "notes.html"
    mine.write_text("<p>my notes</p>")
    expected: dict[str, Any] = {
        "tiny/wave-1": {reports / "tiny/wave-1.html", reports / "tiny/wave-1.json",
                        executed / "tiny/wave-1.ipynb"},
        "tiny/wave-2": {reports / "tiny/wave-2.html", reports / "tiny/wave-2.json",
                        executed / "tiny/wave-2.ipynb"},
        "fails/wave-1": {reports / "fails/wave-1.html", reports / "fails/wave-1.json",
                         executed / "fails/wave-1.ipynb"},
        "fails/wave-2": {reports / "fails/wave-2.error.html", reports / "fails/wave-2.json",
                         executed / "fails/wave-2.error.ipynb", executed / "fails/wave-2.log"},
    }
    # a data correction empties the waves (as a withdrawn respondent empties a segment)
    write_batch(f, [{"notebook": str(TINY), "grid": {"segment": ["all"]}}], data)
    jobs = batch_plan.load_batch(f)
    listed = batch_plan.stale_reports(jobs, reports, executed)
    assert {k: set(v) for k, v in listed.items()} == expected
    stream = io.StringIO()
    outcomes = batch_run.run(jobs, options(tmp_path), progress_stream=stream)
    assert [(o.job.key, o.status) for o in outcomes] == [("tiny/all", "reused")]
    assert "removed 4 report(s) no longer in the batch" in stream.getvalue()
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
                  if p.is_file() and p.is_relative_to(reports) | p.is_relative_to(executed))
    assert left == ["executed/timings.json", "executed/tiny/all.ipynb", "reports/.lock",
                    "reports/index.html",
                    "reports/tiny/all.html", "reports/tiny/all.json", "reports/tiny/notes.html"]
    index = (reports / "index.html").read_text()
    assert "wave-" not in index and "fails" not in index
