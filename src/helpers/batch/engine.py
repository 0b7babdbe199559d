"""Run a notebook inside the current Python process, behind papermill's engine interface.

A fresh Jupyter kernel per report costs seconds of start-up and imports (pandas, statsmodels,
seaborn, nbconvert) before the report's own work begins. The batch runner (:mod:`helpers.batch`)
instead imports those once in a driver process (:func:`preload`) and forks a clean child per report;
the child executes the notebook with this engine: each code cell runs in IPython's
``InteractiveShell`` with the inline matplotlib backend, and its outputs (streams, rich displays,
execute results, errors) are captured as nbformat outputs the way a kernel and nbclient would
record them. ``tests/test_batch.py`` checks that the outputs equal those of a fresh-kernel run.

Run this engine only in a process that exists for one notebook (a forked child): the notebook's
code shares the process with everything else in it.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import importlib
import io
import json
import os
import pkgutil
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from papermill.engines import Engine, papermill_engines

from helpers.batch.jobs import notebook_imports

ENGINE_NAME = "disconnect-inprocess"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
# Modules every report needs; importing them in the driver keeps them off each report's clock.
BASE_MODULES = (
    "numpy", "pandas", "scipy.stats", "statsmodels.api", "statsmodels.formula.api", "seaborn",
    "matplotlib.pyplot", "matplotlib_inline.backend_inline", "IPython.core.interactiveshell",
    "IPython.display", "ipykernel.compiler", "nbformat", "papermill", "nbconvert.exporters.html",
)
# The driver's own modules, not imported by notebooks.
NOT_PRELOADED = {"helpers.__main__", "helpers.cli", "helpers.batch"}
#: Libraries the helpers load on first use that reports never need (raw-data validation, Spark).
NOT_PRELOADED_LIBRARIES = {"pandera", "pyspark", "polars"}
LANGUAGE_INFO = {
    "name": "python", "version": sys.version.split()[0], "mimetype": "text/x-python",
    "codemirror_mode": {"name": "ipython", "version": 3}, "pygments_lexer": "ipython3",
    "nbconvert_exporter": "python", "file_extension": ".py",
}

CellHook = Callable[..., Any]
IMPORT_WARNINGS: list[str] = []  # "file:line: Category: message" raised while preloading


# --------------------------------------------------------------------------- capture
class CellOutputs:
    """The outputs of one cell, in nbformat v4 form, in the order they were produced."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._clear_pending = False

    def _add(self, output: dict[str, Any]) -> None:
        if self._clear_pending:
            self.items.clear()
            self._clear_pending = False
        self.items.append(output)

    def stream(self, name: str, text: str) -> None:
        """Append text to stdout/stderr; consecutive writes to one stream form one output."""
        if not text:
            return
        last = self.items[-1] if self.items and not self._clear_pending else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self._add({"output_type": "stream", "name": name, "text": text})

    def display(self, data: dict[str, Any], metadata: dict[str, Any] | None) -> None:
        self._add({"output_type": "display_data", "data": _json_bundle(data),
                   "metadata": _json_bundle(metadata or {})})

    def result(self, data: dict[str, Any], metadata: dict[str, Any] | None, count: int) -> None:
        self._add({"output_type": "execute_result", "data": _json_bundle(data),
                   "metadata": _json_bundle(metadata or {}), "execution_count": count})

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        self._add({"output_type": "error", "ename": ename, "evalue": evalue,
                   "traceback": list(traceback)})

    def clear(self, wait: bool = False) -> None:
        if wait:
            self._clear_pending = True
        else:
            self.items.clear()


def _json_bundle(bundle: dict[str, Any]) -> dict[str, Any]:
    """A MIME bundle as a kernel would send it: bytes base64-encoded, everything plain JSON."""
    encoded = {k: base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v
               for k, v in bundle.items()}
    return json.loads(json.dumps(encoded, default=str))


class _Stream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while a cell runs: text goes into the cell's outputs."""

    def __init__(self, name: str, outputs: CellOutputs) -> None:
        super().__init__()
        self.name_ = name
        self.outputs = outputs

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        self.outputs.stream(self.name_, str(text))
        return len(text)


def _shell_class() -> type:
    """The shell class (built lazily: IPython is imported by the driver, not at module import)."""
    from ipykernel.compiler import XCachingCompiler
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    class Publisher(DisplayPublisher):
        """Rich displays (``display()``, figures) become display_data outputs."""

        def publish(self, data: dict, metadata: dict | None = None, source: Any = None, *,
                    transient: dict | None = None, update: bool = False, **kwargs: Any) -> None:
            self.shell.outputs.display(data, metadata)

        def clear_output(self, wait: bool = False) -> None:
            self.shell.outputs.clear(wait)

    class Hook(DisplayHook):
        """The value of a cell's last expression becomes an execute_result output."""

        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: dict, md_dict: dict | None = None) -> None:
            self.shell.outputs.result(format_dict, md_dict, self.prompt_count)

        def finish_displayhook(self) -> None:
            pass

    class Shell(InteractiveShell):
        """An InteractiveShell whose outputs go to ``self.outputs`` instead of the terminal."""

        displayhook_class = Hook
        display_pub_class = Publisher
        compiler_class = XCachingCompiler  # cells named as in ipykernel (warnings show the name)
        outputs = CellOutputs()
        # Code that asks whether it runs in a notebook kernel checks for this attribute (as
        # helpers.plots.publish does); there is no kernel object (no comms, so no widgets).
        kernel = None

        def _showtraceback(self, etype: type, evalue: BaseException, stb: list[str]) -> None:
            self.outputs.error(etype.__name__, str(evalue), stb)

        def enable_gui(self, gui: str | None = None) -> None:
            """Inline figures need no GUI event loop (as in ipykernel)."""

    return Shell


def new_shell() -> Any:
    """The process's InteractiveShell, set up like a kernel's: inline figures, no history file."""
    from IPython.core.pylabtools import activate_matplotlib
    from matplotlib_inline.backend_inline import configure_inline_support
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = _shell_class().instance(config=config)
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    activate_matplotlib(INLINE_BACKEND)
    configure_inline_support(shell, INLINE_BACKEND)
    return shell


@contextlib.contextmanager
def _capturing(shell: Any, outputs: CellOutputs) -> Iterator[None]:
    """Route the shell's displays and the process's stdout/stderr to ``outputs``."""
    saved = sys.stdout, sys.stderr
    shell.outputs = outputs
    sys.stdout, sys.stderr = _Stream("stdout", outputs), _Stream("stderr", outputs)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def run_cell(shell: Any, cell: Any) -> bool:
    """Execute one code cell and store its outputs and execution count; False when it failed.

    Empty cells are skipped, as nbclient does. A cell tagged ``raises-exception`` may fail.
    """
    if cell.get("cell_type") != "code" or not cell.source.strip():
        return True
    import nbformat

    outputs = CellOutputs()
    count = shell.execution_count
    with _capturing(shell, outputs):
        result = shell.run_cell(cell.source, store_history=True)
    cell.execution_count = count
    cell.outputs = [nbformat.from_dict(o) for o in outputs.items]
    return result.success or "raises-exception" in cell.metadata.get("tags", [])


# --------------------------------------------------------------------------- engine
class InProcessEngine(Engine):
    """papermill engine: execute the cells in this process (see the module docstring)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str,
                                 on_cell_start: CellHook | None = None, **kwargs: Any) -> Any:
        # papermill saves the whole notebook (serialised and schema-validated) at every cell's
        # start and end — about a tenth of a report's time once figures pile up; the executed
        # notebook is written once, when papermill.execute_notebook returns (a worker that is
        # killed leaves no partial notebook either way: the runner removes it)
        nb_man.output_path = None
        shell = new_shell()
        for index, cell in enumerate(nb_man.nb.cells):
            try:
                nb_man.cell_start(cell, index)
                if on_cell_start is not None and cell.get("cell_type") == "code":
                    on_cell_start(cell=cell, cell_index=index)
                if not run_cell(shell, cell):
                    nb_man.cell_exception(cell, cell_index=index)
                    break
            finally:
                nb_man.cell_complete(cell, cell_index=index)
        nb_man.nb.metadata["language_info"] = dict(LANGUAGE_INFO)
        return nb_man.nb


papermill_engines.register(ENGINE_NAME, InProcessEngine)


# --------------------------------------------------------------------------- preloading
def _helpers_modules() -> set[str]:
    import helpers

    return {f"helpers.{m.name}" for m in pkgutil.iter_modules(helpers.__path__)} - NOT_PRELOADED


def preload(notebooks: Iterable[Path] = ()) -> list[str]:
    """Import what reports need once, in the driver, before children are forked.

    Imports the common scientific stack, every helpers module and whatever the notebooks import,
    warms the HTML exporter, then freezes the heap so forked children share it copy-on-write.
    Nothing here touches state a notebook can observe (no figures, no options, no random draws).
    Warnings that libraries raise while being imported are kept in :data:`IMPORT_WARNINGS`
    instead of being printed: a fresh kernel would show them under the notebook's first import
    cell, a forked worker does not (the results file lists them). Returns the modules that
    failed to import (a notebook will then report the error itself).
    """
    # jsonschema imports this optional IRI checker (~3 s) at import; nbformat never uses it
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
    wanted = set(BASE_MODULES) | _helpers_modules()
    for nb in notebooks:
        wanted |= notebook_imports(Path(nb))
    failed = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in sorted(wanted):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 -- a notebook reports its own failing import
                if name.rpartition(".")[0] not in wanted:  # `from x import f` also lists x.f
                    failed.append(name)
        # what the helpers bind lazily (imported on first use in a notebook) is imported here,
        # once, rather than by every forked report (pandera only validates raw data: not here)
        import helpers

        for name in sorted(helpers.lazy_imports() - set(wanted)):
            if name.split(".")[0] not in NOT_PRELOADED_LIBRARIES:
                with contextlib.suppress(Exception):
                    importlib.import_module(name)
    IMPORT_WARNINGS[:] = sorted({f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}"
                                 for w in caught})

    gc.collect()
    gc.freeze()
    return failed

