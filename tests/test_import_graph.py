"""What a notebook's first cell imports: the import graph, not the clock (issue 14).

A notebook's setup cell should start at once in JupyterLab, so importing the helpers must not
load the heavy libraries that only some functions use (pandera and, through it, pyspark; polars;
statsmodels, seaborn and pyplot; openpyxl, ...): those are imported on first use. Each check runs
in a fresh interpreter and reads ``sys.modules`` -- timing lives in benchmarks/bench_imports.py.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: Never imported by a notebook's import lines: optional engines, validation, export and browser
#: stacks, and libraries the helpers use only inside some functions.
NEVER = ("pyspark", "pandera", "polars", "nbconvert", "papermill", "playwright", "hypothesis",
         "scipy", "statsmodels", "seaborn", "matplotlib.pyplot", "openpyxl", "pyreadstat", "babel",
         "jinja2")
#: Imported only by notebooks that read the spend ledger (``helpers.spend`` runs on DuckDB).
LEDGER_ONLY = ("duckdb",)
#: Known imports at module load that the modules' owners have not made lazy yet, with the module
#: that needs them: the library is allowed only when that module was imported.
KNOWN: dict[str, str] = {}  # library -> the helpers module that may load it at import
WATCHED = NEVER + LEDGER_ONLY + tuple(KNOWN)


def import_lines(notebook: Path) -> str:
    """The ``import``/``from ... import`` statements of the notebook's code cells, in order."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    statements = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        # IPython magics and shell escapes are not Python: blank them out before parsing
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                           for line in source.splitlines())
        tree = ast.parse(source)
        statements += [ast.unparse(node) for node in tree.body
                       if isinstance(node, ast.Import | ast.ImportFrom)]
    return "\n".join(statements)


def loaded_after(code: str) -> set[str]:
    """Top-level and dotted module names in ``sys.modules`` after running ``code`` afresh."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps(sorted(m for m in sys.modules if m in {list(WATCHED)!r} "
             f"or m.startswith('helpers'))))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_notebooks_found():
    assert len(NOTEBOOKS) >= 6
    assert all("from helpers" in import_lines(nb) for nb in NOTEBOOKS)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_imports_nothing_heavy_it_does_not_need(notebook: Path):
    code = import_lines(notebook)
    loaded = loaded_after(code)
    assert "helpers.processing" in loaded  # the probe really ran the notebook's imports
    unwanted = {name for name in NEVER if name in loaded}
    if "helpers.spend" not in loaded:
        unwanted |= {name for name in LEDGER_ONLY if name in loaded}
    unwanted |= {name for name, needer in KNOWN.items() if name in loaded and needer not in loaded}
    assert not unwanted, f"{notebook.name}'s import lines load {sorted(unwanted)}"


def test_processing_and_validate_import_neither_pandera_nor_pyspark():
    loaded = loaded_after("import helpers.processing, helpers.validate")
    assert {"helpers.processing", "helpers.validate"} <= loaded
    assert not loaded & {"pandera", "pyspark", "polars", "duckdb"}


def test_validation_imports_pandera_on_first_use():
    loaded = loaded_after(
        "import sys, pandas as pd\n"
        "from helpers import validate\n"
        "assert 'pandera' not in sys.modules\n"
        "report = validate.validate_survey(pd.DataFrame({'respondent_id': ['r1'], "
        "'role': ['nobody']}))\n"
        "assert any(issue.rule == 'unknown-role' for issue in report.errors), report\n"
    )
    assert "pandera" in loaded


def test_lazy_modules_import_on_first_use():
    loaded = loaded_after(
        "import sys\n"
        "from helpers import indicators\n"
        "assert 'statsmodels' not in sys.modules\n"
        "reject, p, *_ = indicators.multipletests([0.01, 0.04], method='holm')\n"
        "assert list(reject) == [True, True] and abs(p[1] - 0.04) < 1e-12\n"
        "assert abs(indicators.stats.norm.ppf(0.5)) < 1e-12\n"
    )
    assert {"statsmodels", "scipy"} <= loaded
