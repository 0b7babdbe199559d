"""Disconnect Lab helpers: everything the notebooks do beyond narrative glue.

Modules, in the direction data flows (nothing low imports anything higher):
ingest ``errors`` · ``atomic`` · ``paths`` · ``inputs`` · ``safe_yaml`` · ``io`` · ``ledger_types`` ·
``codebook`` · ``mapping`` · ``selection`` · ``validate`` · ``simulate`` · ``processing``;
measure and analyse ``quality`` · ``scales`` · ``measurement/`` · ``indicators`` · ``perception`` ·
``benchmarks`` · ``models`` · ``rsa`` · ``headlines`` · ``role_gaps`` · ``drivers`` · ``congruence`` ·
``heterogeneity`` · ``truth/`` · ``validity``; spend ``spend`` · ``spend_spark`` · ``shadow`` ·
``spend_report``; present ``i18n`` · ``catalogs`` · ``labels`` · ``privacy`` · ``markup`` ·
``tables`` · ``plots`` · ``results`` · ``summary`` · ``methods``; the batch ``batch/`` (``jobs`` →
``plan`` → ``run`` → ``render`` (``engine``) → ``index``, and ``pdf``); ``cli``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__version__ = "0.1.0"

#: Every module that a helper binds lazily (LazyModule, lazy_function): what a process that
#: forks workers (the batch driver) imports up front to keep it off each report's clock.
_LAZY_TARGETS: set[str] = set()


def lazy_imports() -> frozenset[str]:
    """Names of the modules that the helpers imported so far bind lazily (see LazyModule)."""
    return frozenset(_LAZY_TARGETS)


class LazyModule:
    """A module imported on first attribute access, not when the importing module loads.

    Why: a notebook's first cell imports most helper modules, and scipy, statsmodels,
    matplotlib/seaborn or openpyxl would cost it seconds before any analysis runs, although
    many of its functions never touch them. A module binds ``stats = LazyModule("scipy.stats")``
    and writes ``stats.norm`` as before; type hints name the real module under ``TYPE_CHECKING``.
    Nothing is put in ``sys.modules`` until the first use, so the import graph shows what a
    notebook really loaded. ``"package.module:Name"`` stands for the object ``Name`` of that
    module (a class used as ``Name.from_formula(...)``, say).
    """

    __slots__ = ("_lazy_name", "_lazy_module")

    def __init__(self, name: str) -> None:
        self._lazy_name = name
        _LAZY_TARGETS.add(name.partition(":")[0])
        self._lazy_module: Any = None

    def __getattr__(self, attr: str) -> Any:
        module = self._lazy_module
        if module is None:
            import importlib

            name, _, obj = self._lazy_name.partition(":")
            module = importlib.import_module(name)
            if obj:
                module = getattr(module, obj)
            self._lazy_module = module
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "imported" if self._lazy_module is not None else "not imported yet"
        return f"<lazy module {self._lazy_name!r} ({state})>"


def lazy_function(module: str, name: str) -> Callable[..., Any]:
    """``module.name`` as a function that imports ``module`` on its first call (see LazyModule)."""
    import importlib

    _LAZY_TARGETS.add(module)

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, imported on the first call."
    return call
