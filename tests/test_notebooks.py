"""End to end: every notebook in reports.yaml runs on a small synthetic sample and renders clean HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from helpers import paths
from helpers.batch import jobs as batch_jobs, plan as batch_plan, render as batch_render

NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_notebooks_are_committed_without_outputs() -> None:
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name
                assert "def " not in cell.source, f"{path.name}: define functions in helpers"
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one parameters cell"


def test_every_notebook_is_in_the_batch() -> None:
    batch = {job.notebook.name for job in batch_plan.load_batch()}
    assert {p.name for p in NOTEBOOKS} <= batch


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_renders_on_sample(notebook: Path, sample_processed: Path) -> None:
    job = batch_jobs.Job(notebook=notebook, name="test",
                        parameters={"data_dir": str(sample_processed / "processed")})
    result = batch_render.render(job, timeout=300, reports_dir=sample_processed / "reports",
                              executed_dir=sample_processed / "executed")
    assert result.status == "ok", result.error
    html = result.html.read_text(encoding="utf-8")
    assert "SYNTHETIC DATA" in html
    assert "Traceback" not in html and "Error" not in re.sub(r"<style.*?</style>", "", html, flags=re.S)
    assert not re.search(r"(?:src|href)=\"https?://", html), "reports must not load remote resources"
    assert "<img" in html and "data:image/png;base64" in html
    assert "from helpers import" not in html, "code must be hidden"
    doc = json.loads(result.html.with_suffix(".json").read_text())
    assert doc["notebook"] == notebook.name and doc["synthetic"] is True
    assert doc["n"] > 0 and doc["data_fingerprint"]
