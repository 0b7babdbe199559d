"""Strangers' survey exports taken through the README's commands exactly as written.

For each export built by ``tests/exports/build.py`` (a German two-wave Qualtrics export with a
budget sheet, an SPSS file with numeric codes, a LimeSurvey CSV that asked half the constructs,
a one-wave English Qualtrics export with budgets and a ledger), a copy of the project runs

    make data SURVEY=… MAPPING=… [BUDGETS=… LEDGER=… FX=… VENDORS=…]
    make reports

and the tests check what issue 9 asks: both commands succeed, no report fails, no report says
"synthetic", every whole-sample report counts the export's valid responses, the processed data
equals the export value for value (after the mapping's documented recodes), "don't know" and
every exclusion reason are counted and shown, and no personal value reaches any output.

The batch in the copy renders every notebook for the whole sample (and each wave of the German
two-wave export) only, to keep the four runs to about three minutes on two cores; with
``DISCONNECT_LAB_E2E_FULL_GRID=1`` the copy keeps the project's ``reports.yaml`` (every country,
industry, size band and wave: several times slower).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from exports import build, harness
from exports.build import Export

from helpers.codebook import load_codebook
from helpers.io import read_raw

NOTEBOOKS = sorted(p.stem for p in (harness.paths.ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOT_APPLICABLE = ("not applicable", "not_applicable", "n/a")
FULL_GRID_ENV = "DISCONNECT_LAB_E2E_FULL_GRID"
WITHHELD = "·"  # a count withheld by the data-quality report's linked suppression
MIN_CELL = int(yaml.safe_load((harness.paths.ROOT / "reports.yaml").read_text(
    encoding="utf-8")).get("defaults", {}).get("min_cell", 5))


@dataclass
class Run:
    """An export taken through ``make data`` and ``make reports`` in a project copy."""

    root: Path
    export: Export
    data: harness.Ran
    reports: harness.Ran | None

    @property
    def processed(self) -> Path:
        return self.root / "data" / "processed"


@pytest.fixture(scope="module", params=list(build.BUILDERS))
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp(request.param)
    export = build.build(request.param, root)
    full = os.environ.get(FULL_GRID_ENV) == "1"  # the project's own reports.yaml, every segment
    harness.project_copy(root, segments=None if full else export.segments)
    harness.leave_stale_sample_report(root)  # as an earlier `make reports` on the sample would
    data = harness.make(root, "data", export.make_args)
    reports = harness.make(root, "reports") if data.returncode == 0 else None
    (root / "timings.json").write_text(json.dumps(  # for whoever tunes the suite's run time
        {"make data": round(data.seconds, 1),
         "make reports": reports and round(reports.seconds, 1)}) + "\n", encoding="utf-8")
    return Run(root, export, data, reports)


def _built(run: Run) -> None:
    """Stop a test that needs processed data when make data failed (the first test says why)."""
    if run.data.returncode != 0:
        pytest.fail("make data failed, nothing to check:\n" + run.data.describe(2000))


def _rendered(run: Run) -> None:
    _built(run)
    if run.reports is None or not (run.root / "reports" / "index.html").exists():
        pytest.fail("make reports did not render the batch:\n"
                    + (run.reports.describe(2000) if run.reports else "not run"))


def _applicable(doc: dict) -> bool:
    status = str(doc.get("status", "")).lower().replace("_", " ")
    return (not any(word in status for word in NOT_APPLICABLE) and not doc.get("too_few")
            and not doc.get("not_applicable"))


def _pseudonyms(run: Run, raw: pd.Series, processed: pd.Series, prefix: str
                ) -> tuple[pd.Series, str | None]:
    """The pseudonyms of the export's ids with the copy's key; when none of them is in the
    processed data but those of the ids' float text ("21.0" for 21) are, those, and a problem."""
    exact = harness.pseudonyms(run.root, raw, prefix)
    if set(exact) & set(processed.astype(str)) or not raw.str.fullmatch(r"\d+").all():
        return exact, None
    as_float = harness.pseudonyms(run.root, raw.map(lambda v: f"{float(v)}"), prefix)
    if set(as_float) & set(processed.astype(str)):
        return as_float, (f"{processed.name}: numeric ids were pseudonymised from their float "
                          f"text ({raw.iloc[0]!r} as '{float(raw.iloc[0])}'), so they do not "
                          "join with the same ids read as integers (e.g. from a CSV)")
    return exact, None


# --------------------------------------------------------------------------- the commands
@pytest.mark.slow
def test_make_data_then_make_reports_succeed(run: Run) -> None:
    assert run.data.returncode == 0, run.data.describe()
    assert run.reports is not None and run.reports.returncode == 0, run.reports.describe()


@pytest.mark.slow
def test_make_data_records_the_inputs_and_make_reports_reuses_them(run: Run) -> None:
    _rendered(run)
    inputs = json.loads((run.root / "data" / "inputs.json").read_text(encoding="utf-8"))
    recorded = {k: str(v) for k, v in inputs["inputs"].items()}
    given = {k.lower(): v for k, v in run.export.make_args.items()}
    assert recorded == given and inputs.get("sample") is False
    assert not (run.root / "data" / "raw" / "sample").exists(), \
        "plain make reports generated the synthetic sample although the user built their own"
    manifest = json.loads((run.processed / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["synthetic"] is False
    assert manifest["inputs"]["survey"]["path"].endswith(run.export.make_args["SURVEY"])


@pytest.mark.slow
def test_no_report_failed(run: Run) -> None:
    _rendered(run)
    docs = harness.results_files(run.root)
    expected = {f"{nb}/all" for nb in NOTEBOOKS}
    if "wave" in run.export.segments or os.environ.get(FULL_GRID_ENV) == "1":
        expected |= {f"{nb}/wave-{w}" for nb in NOTEBOOKS for w in run.export.truth.waves}
    assert expected <= set(docs), f"reports not rendered: {sorted(expected - set(docs))}"
    failed = {key: (doc.get("error") or "")[-600:] for key, doc in docs.items()
              if doc.get("status") == "failed"}
    assert not failed, "failed reports:\n" + "\n\n".join(f"{k}:\n{v}" for k, v in failed.items())


@pytest.mark.slow
def test_reports_of_an_earlier_sample_run_are_removed(run: Run) -> None:
    _rendered(run)
    left = [p for p in (run.root / "reports" / harness.STALE).parent.glob("country-DK.*")]
    assert not left, f"stale reports of the synthetic sample left in reports/: {left}"
    index = (run.root / "reports" / "index.html").read_text(encoding="utf-8")
    assert "country-DK" not in index


@pytest.mark.slow
def test_no_report_says_synthetic(run: Run) -> None:
    _rendered(run)
    pages = harness.html_pages(run.root)
    assert pages
    banner = [name for name, page in pages.items() if harness.has_banner(page)]
    assert not banner, f"synthetic-data banner on {banner[:5]}"
    flagged = [key for key, doc in harness.results_files(run.root).items() if doc.get("synthetic")]
    assert not flagged, f"results files marked synthetic: {flagged[:5]}"


@pytest.mark.slow
def test_whole_sample_reports_count_the_valid_responses(run: Run) -> None:
    _rendered(run)
    docs = harness.results_files(run.root)
    n = run.export.truth.n_valid
    wrong = {}
    for nb in NOTEBOOKS:
        doc = docs.get(f"{nb}/all")
        if doc is None or not _applicable(doc) or doc.get("status") == "failed":
            continue
        if doc.get("n") != n:
            wrong[nb] = doc.get("n")
    assert not wrong, f"n in the whole-sample results should be {n}: {wrong}"
    counted = [nb for nb in NOTEBOOKS if f"{nb}/all" in docs and _applicable(docs[f"{nb}/all"])]
    assert "00_data_quality" in counted


@pytest.mark.slow
def test_no_third_party_warning_reaches_the_terminal_or_a_report(run: Run) -> None:
    _rendered(run)
    raw_warning = re.compile(r"\.py:\d+: [A-Z]\w*Warning:")
    outputs = {"make data": run.data.stdout + run.data.stderr,
               "make reports": run.reports.stdout + run.reports.stderr}
    outputs |= {f"reports/{name}": page for name, page in harness.html_pages(run.root).items()}
    outputs |= {f"reports/{key}.json": json.dumps(doc)
                for key, doc in harness.results_files(run.root).items()}
    found = {where: raw_warning.search(text) for where, text in outputs.items()}
    shown = [f"{where}: …{text[m.start() - 60:m.end() + 80]}…" for where, m in found.items()
             if m for text in [outputs[where]]]
    assert not shown, "raw Python warnings shown to the user:\n" + "\n".join(shown[:8])


@pytest.mark.slow
def test_index_shows_every_whole_sample_report_with_its_n(run: Run) -> None:
    _rendered(run)
    rows = harness.table_rows((run.root / "reports" / "index.html").read_text(encoding="utf-8"))
    at = next(i for i, r in enumerate(rows) if "Status" in r and "n used" in r)
    header = rows[at]  # the table of every report closes the page: its rows follow its header
    whole = [r for r in rows[at + 1:] if len(r) == len(header) and r[0] == "Whole sample"]
    assert len(whole) == len(NOTEBOOKS), whole
    respondents = f"{run.export.truth.n_valid:,} respondents"
    for stem, row in zip(NOTEBOOKS, whole, strict=True):  # the index lists notebooks in order
        status, n = row[header.index("Status")].lower(), row[header.index("n used")]
        assert "fail" not in status, row
        if "not applicable" in status:
            continue
        assert n, row  # the n that report used, with its unit
        if str(stem).startswith(("00", "01")):  # these count every valid respondent
            assert n.startswith(respondents), (row, respondents)


# --------------------------------------------------------------------------- processed data
@pytest.mark.slow
def test_processed_survey_equals_the_export(run: Run) -> None:
    _built(run)
    truth = run.export.truth
    survey = pd.read_parquet(run.processed / "survey.parquet")
    expected = truth.expected.copy()
    problems = []
    for column, prefix in (("respondent_id", "R"), ("firm_id", "F")):
        expected[column], problem = _pseudonyms(run, expected[column], survey[column], prefix)
        problems += [problem] if problem else []
    assert len(survey) == truth.n_valid, f"{len(survey)} processed rows, {truth.n_valid} valid"
    columns = [c for c in expected.columns if c != "respondent_id"]
    problems += harness.compare_frames(survey, expected, "respondent_id", columns)
    assert not problems, "processed survey differs from the export:\n" + "\n".join(problems)
    not_asked = [i for i in truth.absent_items
                 if i in survey.columns and survey[i].notna().any()]
    assert not not_asked, f"items the survey did not ask hold values: {not_asked}"


@pytest.mark.slow
def test_dont_know_is_counted_apart_from_skipped_items(run: Run) -> None:
    _built(run)
    truth = run.export.truth
    path = run.processed / "dont_know.parquet"
    assert path.exists(), "no dont_know.parquet: 'don't know' answers are not counted"
    got = pd.read_parquet(path)
    survey = pd.read_parquet(run.processed / "survey.parquet")
    want = truth.dont_know.assign(respondent_id=lambda d: _pseudonyms(
        run, d["respondent_id"], survey["respondent_id"], "R")[0])
    got_set = set(zip(got["respondent_id"].astype(str), got["item"].astype(str), strict=True))
    want_set = set(zip(want["respondent_id"].astype(str), want["item"], strict=True))
    assert len(got) == len(truth.dont_know), \
        f"{len(got)} don't-know cells recorded, {len(truth.dont_know)} in the export"
    assert got_set == want_set, (f"{len(want_set - got_set)} don't-know cells not recorded, "
                                 f"{len(got_set - want_set)} recorded that are not")


@pytest.mark.slow
def test_exclusions_are_counted_by_reason(run: Run) -> None:
    _built(run)
    truth = run.export.truth
    path = run.processed / "exclusions.parquet"
    assert path.exists(), "no exclusions.parquet"
    table = pd.read_parquet(path)
    found = {}
    for exclusion in truth.exclusions:
        rows = table[table["reason"].astype(str).str.contains(exclusion.pattern, case=False,
                                                              regex=True)]
        found[exclusion.key] = int(rows["n_rows"].sum())
    want = {e.key: e.count for e in truth.exclusions}
    assert found == want, f"exclusion counts {found}, expected {want}\n{table.to_string()}"
    assert int(table["n_rows"].sum()) == truth.rows_read - truth.n_valid, table.to_string()
    manifest = json.loads((run.processed / "manifest.json").read_text(encoding="utf-8"))
    selection = manifest.get("row_selection") or {}
    assert selection.get("rows_read") == truth.rows_read, selection
    assert selection.get("rows_kept") == truth.n_valid, selection
    if truth.unfinished:
        assert selection.get("unfinished") == truth.unfinished, selection


@pytest.mark.slow
def test_year_comes_from_the_mapping(run: Run) -> None:
    _built(run)
    truth = run.export.truth
    survey = pd.read_parquet(run.processed / "survey.parquet")
    assert "year" in survey.columns, "survey.parquet has no year column"
    pairs = survey[["wave", "year"]].drop_duplicates().astype(int)
    assert dict(zip(pairs["wave"], pairs["year"], strict=True)) == truth.wave_years


@pytest.mark.slow
def test_processed_budgets_equal_the_sheet(run: Run) -> None:
    truth = run.export.truth
    if truth.budgets is None:
        assert not (run.processed / "budgets.parquet").exists() or run.data.returncode != 0
        return
    _built(run)
    got = pd.read_parquet(run.processed / "budgets.parquet")
    want = truth.budgets.copy()
    want["firm_id"] = harness.pseudonyms(run.root, want["firm_id"], "F")
    key = "key"
    got = got.assign(key=got["firm_id"].astype(str) + "/" + got["year"].astype(str))
    want = want.assign(key=want["firm_id"].astype(str) + "/" + want["year"].astype(str))
    columns = ["currency", "revenue", "it_budget", "marketing_budget", "martech_budget"]
    problems = harness.compare_frames(got, want, key, columns)
    assert not problems, "processed budgets differ from the sheet:\n" + "\n".join(problems)
    survey = pd.read_parquet(run.processed / "survey.parquet")
    assert set(survey["firm_id"].astype(str)) <= set(got["firm_id"].astype(str)), \
        "survey firms and budget firms do not join"


# --------------------------------------------------------------------------- reports
@pytest.mark.slow
def test_data_quality_report_lists_the_exclusions(run: Run) -> None:
    _rendered(run)
    page = (run.root / "reports" / "00_data_quality" / "all.html").read_text(encoding="utf-8")
    rows = harness.table_rows(page)
    missing = []
    for exclusion in run.export.truth.exclusions:
        # counts of excluded respondents below the minimum cell size may show as "<5"
        shown = {str(exclusion.count)} | ({f"<{MIN_CELL}"} if exclusion.count < MIN_CELL else set())
        hit = [r for r in rows if any(re.search(exclusion.pattern, c, re.I) for c in r)
               and any(c in shown for c in r)]
        if not hit:
            missing.append(f"{exclusion.key} ({exclusion.count})")
    assert not missing, f"exclusions not shown with their counts: {missing}"
    text = harness.visible_text(page).lower()
    if run.export.truth.unfinished:
        assert "unfinished" in text, "the report does not say how unfinished responses were treated"


@pytest.mark.slow
def test_data_quality_report_counts_skipped_and_dont_know_per_item(run: Run) -> None:
    _rendered(run)
    truth = run.export.truth
    cb = load_codebook()
    page = (run.root / "reports" / "00_data_quality" / "all.html").read_text(encoding="utf-8")
    rows = harness.table_rows(page)
    header = next((r for r in rows if {"Item wording", "Asked", "Don't know"} <= set(r)), None)
    if header is None and "Nothing is missing" in harness.visible_text(page):
        header = []  # no table: every item answered by everyone asked
    assert header is not None, "no per-item table of skipped and don't-know answers"
    shown = {r[header.index("Item wording")]: r for r in rows if header and len(r) == len(header)}
    columns = {"n_asked": "Asked", "n_answered": "Answered", "n_dont_know": "Don't know",
               "n_skipped": "Skipped"}
    dk = truth.dont_know["item"].value_counts()
    wrong = []
    for item in [i for i in cb.items if i not in truth.absent_items]:
        asked = truth.expected["role"].isin(cb.items[item].roles)
        answered = int(truth.expected.loc[asked, item].notna().sum())
        want = {"n_asked": int(asked.sum()), "n_answered": answered,
                "n_dont_know": int(dk.get(item, 0)),
                "n_skipped": int(asked.sum()) - answered - int(dk.get(item, 0))}
        row = shown.get(cb.label(item, "EN"))
        if row is None:
            if want["n_asked"] == want["n_answered"]:
                continue  # nothing missing: the table lists only items with missing answers
            wrong.append(f"{item}: not in the table")
            continue
        got = {k: row[header.index(columns[k])] for k in want if columns[k] in header}
        # a count is shown as it is in the export or withheld (privacy.secondary_suppression:
        # "·"); a count of 1 to min_cell - 1 is always withheld, and n_asked is always shown
        bad = [k for k, v in got.items()
               if (v != WITHHELD and v != str(want[k])) or (v != WITHHELD and 0 < want[k] < MIN_CELL)
               or (k == "n_asked" and v == WITHHELD)]
        if bad:
            wrong.append(f"{item}: report {got}, export {want}")
    assert not wrong, "per-item counts differ from the export:\n" + "\n".join(wrong[:12])


@pytest.mark.slow
def test_no_personal_value_reaches_any_output(run: Run) -> None:
    _built(run)
    truth = run.export.truth
    assert len(truth.personal) > 100
    hits = harness.find_values(run.root, truth.personal)
    assert not hits, "personal values in outputs:\n" + "\n".join(hits[:20])


@pytest.mark.slow
def test_no_raw_id_reaches_any_output(run: Run) -> None:
    """Response ids and firm codes of the export are pseudonymised everywhere."""
    _built(run)
    ids = run.export.truth.raw_ids
    if not ids:  # numeric ids (SPSS, LimeSurvey): too short to search for without false hits
        return
    hits = harness.find_values(run.root, ids)
    assert not hits, "raw ids in outputs:\n" + "\n".join(hits[:20])


# --------------------------------------------------------------------------- the exports
@pytest.mark.parametrize("name", list(build.BUILDERS))
def test_export_is_what_its_truth_says(name: str, tmp_path: Path) -> None:
    """The generator's own consistency: the file reads back with the rows and columns the truth
    counts, values and labels differ from the codebook's, and the truth is self-consistent."""
    export = build.build(name, tmp_path)
    truth = export.truth
    raw = read_raw(export.files["SURVEY"])
    assert len(raw) == truth.rows_read
    assert truth.rows_read - truth.n_valid == sum(e.count for e in truth.exclusions)
    assert truth.expected["respondent_id"].is_unique
    cb = load_codebook()
    items = [i for i in cb.items if i not in truth.absent_items]
    assert list(truth.expected.columns[-len(items):]) == items
    assert not set(raw.columns) & set(cb.items), "exports use their own column names"
    assert set(truth.dont_know["item"]) <= set(items) and len(truth.dont_know) > 20
    dk = truth.dont_know.merge(truth.expected, on="respondent_id")
    assert all(np.isnan(v) for v in (dk.apply(lambda r: r[r["item"]], axis=1)))
    assert set(truth.expected["role"]) == {"CMO", "CIO"}
    assert 100 <= truth.n_valid <= 260


# --------------------------------------------------------------------------- last: runs again
@pytest.mark.slow
def test_plain_make_data_and_make_reports_afterwards_reuse_the_users_data(run: Run) -> None:
    """A second plain `make data` / `make reports` (no variables) keeps describing the export:
    nothing is rebuilt from the sample, unchanged reports are reused."""
    if run.export.name != "qualtrics_de":
        pytest.skip("checked on the German Qualtrics export only, to keep the suite short")
    _rendered(run)
    manifest = (run.processed / "manifest.json").read_text(encoding="utf-8")
    before = harness.results_files(run.root)
    data = harness.make(run.root, "data")
    assert data.returncode == 0, data.describe()
    assert "your data" in data.stdout and "synthetic sample" not in data.stdout, data.stdout
    assert (run.processed / "manifest.json").read_text(encoding="utf-8") == manifest
    reports = harness.make(run.root, "reports")
    assert reports.returncode == 0, reports.describe()
    after = harness.results_files(run.root)
    assert set(after) == set(before)
    moved = [k for k in before if after[k]["fingerprint"]["data"] != before[k]["fingerprint"]["data"]]
    assert not moved, f"the data of {moved[:5]} changed although the user's data did not"
    # src/helpers/ is the live checkout: a report is only expected to be reused when its whole
    # fingerprint (helpers included) is unchanged
    same = [k for k in before if after[k]["fingerprint"] == before[k]["fingerprint"]]
    again = [k for k in same if after[k]["rendered_at"] != before[k]["rendered_at"]]
    assert not again, f"unchanged reports rendered again: {again[:5]}"
    assert not (run.root / "data" / "raw" / "sample").exists()
