"""Dependency tracking: a report's "helpers" fingerprint covers exactly the files its notebook
reaches — the helper modules it imports, transitively, the renderer, the folders those read, and
the catalogs of its language (``helpers.batch.plan.Dependencies``).

The ground truth is independent of the tracker: a fresh Python process runs the notebook's own
import statements and lists the helpers modules that Python actually loaded. Every one of them
must be tracked (an edit to it reruns the report); every module that no notebook loads and that
no tracked module imports must rerun nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import paths
from helpers.batch import plan as batch_plan
from helpers.batch.jobs import Job, notebook_imports

NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def loaded_modules(notebook: Path) -> set[str]:
    """The helpers modules Python loads for the notebook's imports, in a fresh process."""
    imports = sorted(m for m in notebook_imports(notebook) if m.split(".")[0] == "helpers")
    code = ("import importlib, json, sys\n"
            f"for name in {imports!r}:\n"
            "    try:\n        importlib.import_module(name)\n"
            "    except ImportError:\n        pass  # `from helpers import f` lists helpers.f\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'helpers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=paths.ROOT)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def loaded() -> dict[str, set[str]]:
    """Each notebook's loaded helpers modules (one fresh process per notebook)."""
    return {nb.stem: loaded_modules(nb) for nb in NOTEBOOKS}


@pytest.fixture(scope="module")
def jobs() -> list[Job]:
    """Every notebook in English and in German."""
    return [Job(nb, f"all-{lang}", {"language": lang}) for nb in NOTEBOOKS for lang in ("EN", "DE")]


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the helpers source that the tests edit (the fingerprint reads it)."""
    root = tmp_path / "helpers"
    shutil.copytree(batch_plan.HELPERS_DIR, root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(batch_plan, "HELPERS_DIR", root)
    return root


def helpers_fingerprints(jobs: list[Job]) -> dict[str, str]:
    deps = batch_plan.Dependencies(batch_plan.HELPERS_DIR)
    return {j.name + j.stem: deps.fingerprint(j) for j in jobs}


def rerun_after_edit(path: Path, jobs: list[Job]) -> set[str]:
    """The jobs whose helpers fingerprint changes when ``path`` changes."""
    before = helpers_fingerprints(jobs)
    original = path.read_bytes()
    path.write_bytes(original + b"\n# an edit\n")
    try:
        after = helpers_fingerprints(jobs)
    finally:
        path.write_bytes(original)
    return {key for key in before if before[key] != after[key]}


def test_the_plan_compares_the_tracked_files(copy: Path, jobs: list[Job]) -> None:
    fingerprints = batch_plan.Fingerprints()
    assert {j.name + j.stem: fingerprints(j)["helpers"] for j in jobs} == helpers_fingerprints(jobs)
    validity = copy / "validity.py"  # no notebook reaches it
    validity.write_text(validity.read_text() + "\n# an edit\n")
    assert {j.name + j.stem: batch_plan.Fingerprints()(j)["helpers"] for j in jobs} == \
        helpers_fingerprints(jobs)


def module_file(root: Path, module: str) -> Path:
    base = root.joinpath(*module.split(".")[1:])
    return base / "__init__.py" if (base / "__init__.py").exists() else base.with_suffix(".py")


def test_every_module_a_notebook_loads_is_tracked(loaded: dict[str, set[str]]) -> None:
    deps = batch_plan.Dependencies(batch_plan.HELPERS_DIR)
    for notebook in NOTEBOOKS:
        tracked = {f.resolve() for f in deps.files(Job(notebook, "all"))}
        modules = loaded[notebook.stem] - {"helpers"}
        assert modules, notebook
        missing = sorted(m for m in modules if module_file(batch_plan.HELPERS_DIR, m).resolve()
                         not in tracked)
        assert not missing, f"{notebook.name} loads {missing}, not tracked"


@pytest.mark.slow
def test_an_edit_reruns_exactly_the_reports_that_reach_the_file(
        copy: Path, jobs: list[Job], loaded: dict[str, set[str]]) -> None:
    deps = batch_plan.Dependencies(copy)
    tracked = {j.name + j.stem: {f.relative_to(copy) for f in deps.files(j)} for j in jobs}
    for source in sorted(copy.rglob("*.py")):
        rel = source.relative_to(copy)
        module = "helpers." + ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        rerun = rerun_after_edit(source, jobs)
        # the tracker's own claim, checked through the fingerprint the plan compares
        assert rerun == {k for k, files in tracked.items() if rel in files}, rel
        # the ground truth: a notebook that loads the module reruns, in every language
        for job in jobs:
            if module in loaded[job.stem] and module != "helpers":
                assert job.name + job.stem in rerun, (rel, job.stem)
    # modules that no report reaches rerun nothing
    for unused in ("validity.py", "cli.py", "catalogs.py", "simulate.py", "batch/run.py"):
        assert rerun_after_edit(copy / unused, jobs) == set(), unused


def test_resources_and_catalogs_rerun_whom_they_concern(
        copy: Path, jobs: list[Job], loaded: dict[str, set[str]]) -> None:
    everyone = {j.name + j.stem for j in jobs}
    german = {j.name + j.stem for j in jobs if j.parameters["language"] == "DE"}
    template = copy / "templates" / "report" / "index.html.j2"
    assert rerun_after_edit(template, jobs) == everyone
    catalog = next((copy / "locale" / "de" / "LC_MESSAGES").glob("*.po"))
    assert rerun_after_edit(catalog, jobs) == german  # English reports read no catalog
    deps = batch_plan.Dependencies(copy)
    reaching = {j.name + j.stem for j in jobs if copy / "spend.py" in deps.files(j)}
    loading = {j.name + j.stem for j in jobs if "helpers.spend" in loaded[j.stem]}
    assert loading and loading <= reaching
    assert rerun_after_edit(copy / "sql" / "ledger_features.sql", jobs) == reaching


def test_every_resource_folder_is_claimed(copy: Path) -> None:
    """A file under src/helpers that is not Python, a catalog or the type marker must be read by
    a module listed in RESOURCES — else an edit to it would rerun nothing."""
    claimed = {folder for folders in batch_plan.RESOURCES.values() for folder in folders}
    for f in copy.rglob("*"):
        rel = f.relative_to(copy)
        if f.is_file() and f.suffix not in (".py", ".pyc") and rel.parts[0] != "locale" \
                and rel.name != "py.typed":
            assert rel.parts[0] in claimed, rel
