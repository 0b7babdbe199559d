"""pyproject.toml is the one dependency list; constraints pin it; environment.yml installs the same."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _constraints() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = list(req.specifier)
            assert spec.operator == "==", f"constraint not pinned exactly: {line}"
            pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def _requirements() -> list[Requirement]:
    project = _pyproject()["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def test_every_dependency_is_pinned_within_its_range() -> None:
    pins = _constraints()
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not pinned in constraints.txt"
        assert pins[name] in req.specifier, f"{req.name}=={pins[name]} violates {req.specifier}"


def test_required_stack_is_declared() -> None:
    names = {canonicalize_name(r.name) for r in _requirements()}
    for required in ("jupyterlab", "pandas", "seaborn", "statsmodels", "nbconvert", "papermill"):
        assert required in names


def test_environment_yml_installs_the_project_with_the_same_pins() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    # conda provides only the interpreter and pip: the package list lives in pyproject.toml alone
    assert {d.split("=")[0] for d in conda} == {"python", "pip"}
    python = next(d for d in conda if d.startswith("python"))
    requires = SpecifierSet(_pyproject()["project"]["requires-python"])
    assert Version(python.split("=")[1] + ".0") in requires
    assert "-c requirements/constraints.txt" in pip
    assert "-e .[dev,spark]" in pip
    assert len(pip) == 2, "environment.yml must not list packages of its own"


def test_makefile_installs_from_the_same_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "-c requirements/constraints.txt -e '.[dev,spark]'" in makefile


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci
    assert "make reports" in readme and "make reports" in ci


def test_notebooks_stay_clean_in_git_however_they_are_run(tmp_path: Path) -> None:
    """`make setup` installs nbstripout as the git filter for notebooks: a notebook saved with
    outputs (as JupyterLab does after running it) is committed, and compared, without them."""
    import subprocess
    import sys

    import nbformat

    assert "*.ipynb filter=nbstripout" in (ROOT / ".gitattributes").read_text()
    assert "nbstripout --install" in (ROOT / "Makefile").read_text()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "1 + 1", execution_count=3, outputs=[nbformat.v4.new_output(
            "execute_result", data={"text/plain": "2"}, execution_count=3)])])
    path = tmp_path / "ran.ipynb"
    nbformat.write(nb, path)
    subprocess.run([sys.executable, "-m", "nbstripout", str(path)], check=True, timeout=60)
    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.outputs == [] and cell.execution_count is None and cell.source == "1 + 1"
