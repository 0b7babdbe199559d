"""Differently shaped processed data for end-to-end report tests (imported by test modules).

``base_processed`` builds a small synthetic sample the way ``make data`` does; ``variant`` copies
it and reshapes it to what a stranger's survey produces: no budgets, no ledger, no fiscal year per
wave, other years, flags, recorded exclusions and "don't know" answers, or processed data from
before those existed. The processed-data contract (``year``, ``flag_*``, ``exclusions.parquet``,
``dont_know.parquet``, ``manifest["row_selection"]``) is written explicitly, so each test knows
the exact numbers it put in, whatever ``make data`` itself adds.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd

from helpers import paths, processing, simulate
from helpers.batch import jobs as batch_jobs, render as batch_render
from helpers.codebook import load_codebook

FLAG_COLUMNS = {"speeder": "flag_speeder", "straight_lining": "flag_straight_lining"}
UNSET: Any = object()  # "leave as make data wrote it"


def base_processed(root: Path, *, firms: int = 40, waves: int = 2, seed: int = 3) -> Path:
    """A small synthetic sample (budgets, ledger, FX, vendors) built into ``root/processed``."""
    raw = root / "raw"
    simulate.write_sample(raw, firms=firms, ledger_rows=3000, seed=seed, waves=waves)
    out = root / "processed"
    processing.build_processed(raw / "survey.parquet", budgets=raw / "budgets.parquet",
                               ledger=raw / "ledger.parquet", fx=raw / "fx_rates.parquet",
                               vendors=raw / "vendors.csv", out_dir=out, force=True)
    return out


def variant(base: Path, dest: Path, *, budgets: bool = True, ledger: bool = True,
            wave_years: dict[int, int] | None = UNSET, flags: dict[str, int] | None = UNSET,
            exclusions: pd.DataFrame | None = UNSET, dont_know: dict[str, int] | None = UNSET,
            row_selection: dict[str, Any] | None = UNSET, drop_columns: tuple[str, ...] = (),
            fill_missing: bool = False) -> Path:
    """A copy of ``base`` reshaped; ``None`` removes a part, ``UNSET`` keeps it as built.

    ``flags``: reason -> how many respondents to flag (the CMO and CIO of whole complete pairs,
    :func:`flagged`; each reason takes the next pairs, so the groups do not overlap).
    ``dont_know``: item -> how many respondents asked it answered "don't know" (their cells
    become missing, as ``make data`` writes them). ``fill_missing``: every item a respondent was
    asked gets an answer (no missingness at all).
    """
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(base, dest)
    manifest = json.loads((dest / "manifest.json").read_text())
    survey = pd.read_parquet(dest / processing.SURVEY_FILE)
    if not budgets:
        _remove(dest, manifest, processing.BUDGETS_FILE)
    if not ledger:
        _remove(dest, manifest, processing.SPEND_FILE)
        _remove(dest, manifest, processing.LEDGER_ISSUES_FILE)
    if wave_years is None:
        survey = survey.drop(columns="year", errors="ignore")
    elif wave_years is not UNSET:
        survey["year"] = survey["wave"].astype(int).map(wave_years).astype("Int64")
    if flags is None:
        survey = survey.drop(columns=list(FLAG_COLUMNS.values()), errors="ignore")
    elif flags is not UNSET:
        start = 0
        for reason in FLAG_COLUMNS:
            n = flags.get(reason, 0)
            survey[FLAG_COLUMNS[reason]] = flagged(survey, n, start)
            start += n
    if fill_missing:
        cb = load_codebook()
        for item in cb.items.values():
            if item.id in survey.columns:
                asked = survey["role"].astype(str).isin(item.roles)
                survey.loc[asked & survey[item.id].isna(), item.id] = float(item.scale.min)
    if dont_know is None:
        (dest / "dont_know.parquet").unlink(missing_ok=True)
    elif dont_know is not UNSET:
        rows = []
        cb = load_codebook()
        for item, n in dont_know.items():
            asked = survey["role"].astype(str).isin(cb.items[item].roles) & survey[item].notna()
            ids = survey.loc[asked, "respondent_id"].iloc[:n]
            survey.loc[ids.index, item] = np.nan
            rows += [{"respondent_id": rid, "item": item} for rid in ids]
        pd.DataFrame(rows, columns=["respondent_id", "item"]).to_parquet(
            dest / "dont_know.parquet", index=False)
    if exclusions is None:
        (dest / "exclusions.parquet").unlink(missing_ok=True)
    elif exclusions is not UNSET:
        exclusions.to_parquet(dest / "exclusions.parquet", index=False)
    if row_selection is None:
        manifest.pop("row_selection", None)
    elif row_selection is not UNSET:
        manifest["row_selection"] = row_selection
    survey = survey.drop(columns=list(drop_columns))
    survey.to_parquet(dest / processing.SURVEY_FILE, index=False)
    manifest["outputs"][processing.SURVEY_FILE]["sha256"] = processing.fingerprint(
        dest / processing.SURVEY_FILE)
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return dest


def flagged(survey: pd.DataFrame, n: int, start: int = 0) -> pd.Series:
    """True for ``n`` respondents from the ``start``-th on, taken as whole complete pairs.

    Respondents are ordered CMO then CIO of each complete pair (firm-wave with both roles, in
    firm and wave order), so an even ``n`` breaks exactly ``n / 2`` pairs and takes ``n / 2``
    of each role, whatever the simulated sample looks like on this machine (a CMO and CIO of
    different firms would break a data-dependent number of pairs).
    """
    roles = survey["role"].astype(str)
    key = survey["firm_id"].astype(str) + "|" + survey["wave"].astype(str)
    cmos = dict(zip(key[roles == "CMO"], survey.index[roles == "CMO"], strict=True))
    cios = dict(zip(key[roles == "CIO"], survey.index[roles == "CIO"], strict=True))
    order = [i for k in sorted(set(cmos) & set(cios)) for i in (cmos[k], cios[k])]
    if start + n > len(order):
        raise ValueError(f"only {len(order) // 2} complete pairs to flag, asked for {start + n} rows")
    out = pd.Series(False, index=survey.index)
    out.loc[order[start:start + n]] = True
    return out


def _remove(dest: Path, manifest: dict, name: str) -> None:
    (dest / name).unlink(missing_ok=True)
    manifest.get("outputs", {}).pop(name, None)


# --------------------------------------------------------------------------- running reports
@dataclass
class Run:
    """A rendered report: its status, visible text (no markup) and recorded results."""

    status: str
    text: str
    results: dict[str, Any]
    html: str
    n: int | None


def run(notebook: str, data_dir: Path, work: Path, name: str = "test", **parameters: Any) -> Run:
    """Render ``notebooks/<notebook>.ipynb`` on ``data_dir`` in a fresh kernel."""
    job = batch_jobs.Job(notebook=paths.NOTEBOOKS / f"{notebook}.ipynb", name=name,
                        parameters={"data_dir": str(data_dir), **parameters})
    result = batch_render.render(job, timeout=300, reports_dir=work / "reports",
                              executed_dir=work / "executed")
    html = result.html.read_text(encoding="utf-8")
    doc = json.loads(job.json_path(work / "reports").read_text(encoding="utf-8"))
    return Run(result.status, visible_text(html), doc.get("results", {}), html, doc.get("n"))


def run_expecting_error(notebook: str, data_dir: Path, work: Path, **parameters: Any
                        ) -> tuple[str, str]:
    """Execute a notebook that must stop; returns (exception class name, message)."""
    from papermill.exceptions import PapermillExecutionError

    job = batch_jobs.Job(notebook=paths.NOTEBOOKS / f"{notebook}.ipynb", name="stops",
                        parameters={"data_dir": str(data_dir), **parameters})
    try:
        batch_render.execute(job, timeout=300, executed_dir=work / "executed")
    except PapermillExecutionError as exc:
        return exc.ename, exc.evalue
    raise AssertionError(f"{notebook} ran to the end on {data_dir}")


def visible_text(html: str) -> str:
    """The text a reader sees: no styles, scripts or tags, whitespace collapsed."""
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") \
        .replace("&quot;", '"').replace("&#x27;", "'").replace("&#39;", "'")
    return re.sub(r"\s+", " ", text)


def table(results: dict[str, Any], key: str) -> pd.DataFrame:
    """A table recorded with ``results.record`` as a DataFrame."""
    entry = results[key]
    return pd.DataFrame(entry["rows"], columns=entry["columns"])


def executed_outputs(work: Path, notebook: str, name: str = "test") -> str:
    """All text outputs of the executed notebook (to check what a cell printed)."""
    nb = nbformat.read(work / "executed" / notebook / f"{name}.ipynb", as_version=4)
    return "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/markdown", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
