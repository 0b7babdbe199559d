"""Plan a batch: expand ``reports.yaml`` into jobs, fingerprint each, decide what to render.

:func:`load_batch` expands the batch file — notebooks times parameter sets, with a ``grid`` that
turns ``segment: [all, country, wave]`` into one job per value present in the processed data —
into :class:`~helpers.batch.jobs.Job` objects (names made safe by :func:`safe_names`). Each job's
fingerprint (:class:`Fingerprints`) has five parts: the notebook's cells, the parameters, the
input data (the processed files' hashes in ``manifest.json``, plus the codebook and the reference
figures), the helpers source and the locked environment. :func:`plan` marks a job up to date when
its results file carries the same fingerprint with its HTML present and not failed, and says
which parts changed for the others. :class:`Outcome` is what a run did with a job;
:func:`stale_reports` finds the outputs of jobs no longer in the batch.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import hashlib
import itertools
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import paths
from helpers.batch.jobs import (
    ERROR_PAGE_MARKER,
    ERROR_SUFFIX,
    Job,
    canonical_json,
    data_manifest,
    display_path,
    file_stem,
    kept_report,
    last_failure,
    read_results,
    time_label,
)
from helpers.errors import DataError
from helpers.safe_yaml import load_yaml

BATCH_FILE = paths.ROOT / "reports.yaml"
HELPERS_DIR = Path(__file__).parent.parent
#: The segment grids worked out from processed data (:meth:`_SegmentValues.grid`).
SEGMENT_CACHE = paths.ROOT / "build" / "cache" / "segments"
CONSTRAINTS = paths.ROOT / "requirements" / "constraints.txt"
SURVEY_FILE = "survey.parquet"
ENTRY_KEYS = {"notebook", "name", "parameters", "grid"}
FINGERPRINT_PARTS = ("notebook", "parameters", "data", "helpers", "environment")


# --------------------------------------------------------------------------- the batch file
def slug(value: Any) -> str:
    """A value as a file-name part: ``<250`` -> ``lt250``, ``5000+`` -> ``5000plus``."""
    text = str(value)
    for old, new in (("<", "lt"), (">", "gt"), ("+", "plus"), ("&", "and")):
        text = text.replace(old, new)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def segment_name(segment: dict[str, Any]) -> str:
    """``{}`` -> ``all``; ``{"country": "DE", "wave": 2}`` -> ``country-DE__wave-2``."""
    if not segment:
        return "all"
    parts = []
    for column, value in segment.items():
        values = value if isinstance(value, list | tuple) else [value]
        parts.append(f"{column}-{'_'.join(slug(v) for v in values)}")
    return "__".join(parts)


def _resolve(path: str | Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else paths.ROOT / p


class _GridData:
    """What the grid reads of a processed-data folder: the survey and the firm-year tables."""

    def __init__(self, folder: Path) -> None:
        import pandas as pd

        def read(name: str) -> Any:
            return pd.read_parquet(folder / name) if (folder / name).exists() else None

        self.survey = read(SURVEY_FILE)
        self.budgets, self.spend = read("budgets.parquet"), read("spend_features.parquet")


class _SegmentValues:
    """The published parts of each segment dimension (:func:`helpers.privacy.published_parts`),
    computed once per data folder, minimum cell size and exclusion."""

    def __init__(self, batch_file: Path) -> None:
        self.batch_file = batch_file
        self.cache: dict[tuple[Path, int, tuple[str, ...]], dict[str, Any]] = {}
        self.columns: dict[Path, list[str]] = {}
        self.grids: dict[tuple[Any, ...], dict[str, Any]] = {}

    def parts(self, params: dict[str, Any]) -> dict[str, Any]:
        from helpers import privacy

        folder = _resolve(params.get("data_dir") or paths.PROCESSED)
        min_cell = int(params.get("min_cell", privacy.DEFAULT_MIN_CELL))
        exclude = params.get("exclude") or ()
        key = (folder, min_cell, tuple([exclude] if isinstance(exclude, str) else exclude))
        if key not in self.cache:
            if not (folder / SURVEY_FILE).exists():
                raise DataError("the grid needs the processed survey to list segments; run "
                                "`make data` first", file=str(folder / SURVEY_FILE),
                                rule="batch-no-data")
            data = _GridData(folder)
            self.cache[key] = privacy.published_parts(data, min_cell, key[2])
            self.columns[folder] = list(data.survey.columns)
        return self.cache[key]

    def grid(self, params: dict[str, Any]) -> dict[str, Any]:
        """The segment grid of the data ``params`` name: ``{"columns": survey columns, "parts":
        {dimension: [[name part, segment], …]}}`` (an empty list: no grid for that dimension).

        Working it out reads the processed data with pandas and pools small categories (about
        a second); a planning pass that finds every report up to date should not pay that, so
        the grid is kept in ``build/cache/segments`` under a key of everything it depends on:
        the processed files (their hashes in the manifest, and their sizes and times), the
        codebook and reference figures, the minimum cell, the exclusion, and the source of the
        modules that pool (privacy, quality). Without a manifest nothing is cached."""
        folder = _resolve(params.get("data_dir") or paths.PROCESSED)
        exclude = params.get("exclude") or ()
        memo = (folder, params.get("min_cell"),
                tuple([exclude] if isinstance(exclude, str) else exclude))
        if memo not in self.grids:  # one key (hashing the data's manifest) per data and rule
            self.grids[memo] = self._cached_grid(folder, params)
        return self.grids[memo]

    def _cached_grid(self, folder: Path, params: dict[str, Any]) -> dict[str, Any]:
        key = self._grid_key(folder, params)
        cached = SEGMENT_CACHE / f"{key}.json" if key else None
        if cached is not None and cached.is_file():
            with contextlib.suppress(OSError, ValueError):
                return json.loads(cached.read_text(encoding="utf-8"))
        parts = self.parts(params)
        grid = {"columns": self.columns.get(folder, []),
                "parts": {c: [[f"{c}-{slug(p.key)}", p.segment] for p in part.parts]
                          if part.published else [] for c, part in parts.items()}}
        if cached is not None:
            with contextlib.suppress(OSError, TypeError, ValueError):
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(grid), encoding="utf-8")
                os.replace(tmp, cached)
        return grid

    @staticmethod
    def _grid_key(folder: Path, params: dict[str, Any]) -> str | None:
        manifest = data_manifest(folder) or {}
        if not manifest.get("outputs"):
            return None
        stats = []
        for name in (SURVEY_FILE, "budgets.parquet", "spend_features.parquet"):
            with contextlib.suppress(OSError):
                st = (folder / name).stat()
                stats.append([name, st.st_size, st.st_mtime_ns])
        pooling = Dependencies(HELPERS_DIR)  # the modules that pool, and what they import
        sources = [f.read_bytes() for f in sorted(
            filter(None, map(pooling.file, pooling.closure({"helpers.privacy",
                                                             "helpers.quality"}))))]
        exclude = params.get("exclude") or ()
        return _sha(json.dumps([data_fingerprint(folder), stats, params.get("min_cell"),
                                [exclude] if isinstance(exclude, str) else list(exclude),
                                str(folder)], default=str)
                    + "".join(_sha(b) for b in sources))

    def __call__(self, params: dict[str, Any], column: str) -> list[tuple[str, dict[str, Any]]]:
        """One (name part, parameter update) per published part of ``column``; none when the
        dimension has no segment grid (every category pooled)."""
        grid = self.grid(params)
        parts = grid["parts"]
        if column not in parts:
            known = column in grid["columns"]
            raise DataError(f"grid segment {column!r} is " + (
                "not a segment dimension: a grid runs over the dimensions whose small "
                "categories are pooled and audited together" if known else
                f"not a column of {SURVEY_FILE}"), file=str(self.batch_file), column=column,
                rule="batch-grid", hint="use all, " + ", ".join(parts))
        return [(name, {"segment": segment}) for name, segment in parts[column]]

    def check(self, params: dict[str, Any], segment: dict[str, Any]) -> None:
        """Refuse an explicit segment that is not a union of published parts (``DataError``)."""
        from helpers import privacy

        parts = self.parts(params)
        view = privacy.segment_view(segment, parts, where=str(self.batch_file))
        if view.kind == "cross":
            data = _GridData(_resolve(params.get("data_dir") or paths.PROCESSED))
            privacy.check_cross_segment(data.survey, segment, parts,
                                        int(params.get("min_cell", privacy.DEFAULT_MIN_CELL)),
                                        {"budgets": data.budgets, "ledger": data.spend},
                                        where=str(self.batch_file))


def _notebooks(pattern: str, explicit: set[Path], batch_file: Path) -> list[Path]:
    """The notebooks an entry names: a path, or a glob minus notebooks listed on their own."""
    if not glob.has_magic(pattern):
        path = _resolve(pattern)
        if not path.exists():
            raise DataError("notebook not found", file=str(batch_file), column=pattern,
                            rule="batch-notebook")
        return [path]
    found = sorted(Path(p) for p in glob.glob(str(_resolve(pattern))))
    return [p for p in found if p not in explicit]


def _grid_axes(grid: dict[str, Any], params: dict[str, Any],
               values_of: _SegmentValues | None) -> list[list[tuple[str, dict[str, Any]]]]:
    """One axis per grid key: (name part, parameter update) options.

    Without ``values_of``, segment columns (which need the data) are left out.
    """
    axes = []
    for key, raw in grid.items():
        options = raw if isinstance(raw, list) else [raw]
        if key != "segment":
            axes.append([(f"{key}-{slug(v)}", {key: v}) for v in options])
            continue
        axis = []
        for option in options:
            if option in ("all", {}, None):
                axis.append(("all", {"segment": {}}))
            elif isinstance(option, dict):
                if values_of is not None:
                    values_of.check(params, option)
                axis.append((segment_name(option), {"segment": option}))
            elif values_of is not None:
                axis += values_of(params, str(option))
        axes.append(axis)
    return axes


def _entry_jobs(entry: dict[str, Any], defaults: dict[str, Any], explicit: set[Path],
                batch_file: Path, values_of: _SegmentValues | None) -> list[Job]:
    """Expand one batch entry into jobs (notebooks x grid combinations)."""
    unknown = set(entry) - ENTRY_KEYS
    if unknown or "notebook" not in entry:
        raise DataError(f"each job needs `notebook` and may have {', '.join(sorted(ENTRY_KEYS))}; "
                        f"got {', '.join(sorted(entry))}", file=str(batch_file),
                        rule="batch-entry")
    params = {**defaults, **(entry.get("parameters") or {})}
    axes = _grid_axes(entry.get("grid") or {}, params, values_of)
    jobs = []
    for notebook in _notebooks(str(entry["notebook"]), explicit, batch_file):
        for combo in itertools.product(*axes):
            job_params, parts = dict(params), [str(entry["name"])] if entry.get("name") else []
            for part, update in combo:
                job_params.update(update)
                parts.append(part)
            name = "__".join(parts) or segment_name(job_params.get("segment") or {})
            jobs.append(Job(notebook=notebook, name=name, parameters=job_params))
    return jobs


def load_batch(path: str | Path | None = None, *, segments: bool = True) -> list[Job]:
    """Read a batch file (default ``reports.yaml``) and expand it into jobs; see its header.

    ``segments=False`` skips the grid's segment columns, which need the processed data (for
    callers that only want the notebooks and fixed parameter sets).
    """
    batch_file = Path(path) if path else BATCH_FILE
    spec = load_yaml(batch_file, rule="batch-yaml", what="batch file") or {}  # alias limit
    defaults = spec.get("defaults") or {}
    entries = spec.get("jobs") or []
    explicit = {_resolve(e["notebook"]) for e in entries
                if isinstance(e, dict) and "notebook" in e and not glob.has_magic(e["notebook"])}
    values_of = _SegmentValues(batch_file) if segments else None
    jobs = [job for entry in entries
            for job in _entry_jobs(entry, defaults, explicit, batch_file, values_of)]
    keys = [job.key for job in jobs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise DataError(f"duplicate report names: {', '.join(dupes)}", file=str(batch_file),
                        rule="batch-duplicate", hint="give the entries different `name`s")
    return safe_names(jobs, batch_file)


def safe_names(jobs: Sequence[Job], batch_file: Path) -> list[Job]:
    """The jobs renamed to safe file names (:func:`helpers.file_stem`).

    Names come from ``reports.yaml`` and from the data's segment values; as file names they
    must neither leave the output folder nor break a file system. Two names that become the
    same file — equal after sanitising, or differing only by case, which a Windows or macOS
    disk does not tell apart — are a :class:`DataError` naming the batch file.
    """
    renamed = [Job(job.notebook, file_stem(job.name), job.parameters) for job in jobs]
    seen: dict[str, str] = {}
    for before, job in zip(jobs, renamed, strict=True):
        folded = job.file_key.casefold()
        if folded in seen and seen[folded] != before.key:
            raise DataError(
                f"the report names {seen[folded]!r} and {before.key!r} would be written to the "
                f"same file ({job.file_key}.html) once made safe file names (only letters, "
                "digits, '_', '.' and '-'; case ignored)", file=str(batch_file),
                rule="batch-duplicate", hint="give the entries names that differ in letters or "
                "digits, not only in case or punctuation")
        seen[folded] = before.key
    return renamed


def select(jobs: Sequence[Job], patterns: Sequence[str]) -> list[Job]:
    """Jobs whose ``notebook/name`` matches any pattern (a glob, or else a substring)."""
    if not patterns:
        return list(jobs)
    return [j for j in jobs if any(fnmatch.fnmatchcase(j.key, p) if glob.has_magic(p)
                                   else p in j.key for p in patterns)]


# --------------------------------------------------------------------------- fingerprints
def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()[:16]


def tree_fingerprint(folder: Path) -> str:
    """Hash of every file under a folder (names and contents), caches and hidden files aside."""
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder)
        if f.is_file() and "__pycache__" not in rel.parts and not rel.name.startswith("."):
            h.update(str(rel).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def notebook_fingerprint(text: str) -> str:
    """Hash of what a notebook runs and shows: cell types, sources and tags (not outputs or ids)."""
    cells = json.loads(text).get("cells", [])
    return _sha(json.dumps([(c.get("cell_type"), "".join(c.get("source", "")),
                             c.get("metadata", {}).get("tags", [])) for c in cells]))


def parameters_fingerprint(parameters: dict[str, Any]) -> str:
    """Hash of the parameters; ``{1: 2023}`` and ``{"1": 2023}`` differ (both run differently)."""
    return _sha(canonical_json(parameters, ensure_ascii=True))


def data_fingerprint(data_dir: Any) -> str:
    """The processed files' hashes from ``manifest.json``, the codebook and the reference figures."""
    manifest = data_manifest(data_dir) or {}
    outputs = {name: meta.get("sha256") for name, meta in (manifest.get("outputs") or {}).items()}
    codebook = paths.CODEBOOK.read_bytes() if paths.CODEBOOK.exists() else b""
    reference = tree_fingerprint(paths.REFERENCE) if paths.REFERENCE.exists() else ""
    return _sha(json.dumps(outputs, sort_keys=True) + _sha(codebook) + reference)


def environment_fingerprint() -> str:
    """The locked environment: the pinned constraints and the Python version."""
    pins = CONSTRAINTS.read_bytes() if CONSTRAINTS.exists() else b""
    return _sha(pins + sys.version.encode())

# --------------------------------------------------------------------------- what a report runs
#: Folders under ``src/helpers`` that a module reads at run time (besides its own source).
RESOURCES = {"helpers.spend": ("sql",), "helpers.spend_spark": ("sql",),
             "helpers.batch.render": ("templates",)}
#: What every report runs through besides its notebook's imports: the renderer (which also
#: writes the summary, the methods note and the page) and the in-process engine.
RENDERER = ("helpers.batch.render", "helpers.batch.engine")
_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<dots>\.*)(?P<base>[\w.]*)[ \t]+import[ \t]+"
    r"(?P<names>\([^)]*\)|[^\n#]*)|import[ \t]+(?P<plain>[^\n#]+))", re.M)


class Dependencies:
    """Which files under ``src/helpers`` a report depends on: the helper modules its notebook
    imports, transitively (every ``import`` in a module counts, also one inside a function), the
    packages that contain them, the renderer's modules (:data:`RENDERER`), the folders those
    modules read (:data:`RESOURCES`), and — for a report in another language than English — the
    message catalogs of that language. Editing a module that no notebook imports reruns no
    report; editing one reruns exactly the reports whose notebooks reach it.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._imports: dict[str, set[str]] = {}
        self._digests: dict[Path, bytes] = {}
        self._closures: dict[frozenset[str], frozenset[str]] = {}
        self._notebook_imports: dict[Path, set[str]] = {}
        self._files: dict[tuple[Path, str], list[Path]] = {}
        self._fingerprints: dict[tuple[Path, ...], str] = {}
        self._sources: dict[str, Path | None] = {}

    def file(self, module: str) -> Path | None:
        """The source file of a helpers module (a package's ``__init__.py``), or None."""
        if module not in self._sources:
            base = self.root.joinpath(*module.split(".")[1:])
            source = base.with_suffix(".py")
            self._sources[module] = base / "__init__.py" if (base / "__init__.py").is_file() \
                else source if module != "helpers" and source.is_file() else None
        return self._sources[module]

    def _known(self, name: str) -> str | None:
        """``name`` if it is a helpers module, else its parent (``from helpers.x import f``)."""
        while name.startswith("helpers"):
            if self.file(name):
                return name
            name = name.rpartition(".")[0]
        return None

    def imports(self, module: str) -> set[str]:
        """The helpers modules ``module`` imports anywhere in its source (read with a pattern, not
        parsed: a planning pass reads every module, and an import named in a comment or a
        string only ever adds a dependency)."""
        if module not in self._imports:
            source = self.file(module)
            text = source.read_text(encoding="utf-8") if source else ""
            package = module if source and source.name == "__init__.py" else module.rpartition(".")[0]
            self._imports[module] = self._scan(text, package)
        return self._imports[module]

    def notebook_modules(self, notebook: Path) -> set[str]:
        """The helpers modules a notebook's code cells import (the same pattern as
        :meth:`imports`: a plan reads every notebook, and parsing each cell costs more)."""
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
        text = "\n".join("".join(c.get("source", "")) for c in cells
                         if c.get("cell_type") == "code")
        return self._scan(text, "")

    def _scan(self, text: str, package: str) -> set[str]:
        names: list[str] = []
        for m in _IMPORT.finditer(text):
            if m.group("plain"):
                names += [n.split(" as ")[0].strip() for n in m.group("plain").split(",")]
                continue
            base, dots = m.group("base"), len(m.group("dots"))
            if dots:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - dots + 1] + ([base] if base else []))
            listed = m.group("names").replace("(", " ").replace(")", " ").replace("\\", " ")
            names += [base] + [f"{base}.{n.split(' as ')[0].strip()}"
                               for n in listed.split(",") if n.strip()]
        return {k for k in map(self._known, names) if k}

    def closure(self, modules: Iterable[str]) -> frozenset[str]:
        """``modules`` (those that are helpers modules), what they import transitively, and the
        packages containing each."""
        start = frozenset(m for m in map(self._known, modules) if m)
        if start not in self._closures:
            seen: set[str] = set()
            todo = list(start)
            while todo:
                module = todo.pop()
                if module in seen:
                    continue
                seen.add(module)
                parents = [module.rsplit(".", k)[0] for k in range(1, module.count(".") + 1)]
                todo += [p for p in parents if self.file(p)] + sorted(self.imports(module))
            self._closures[start] = frozenset(seen)
        return self._closures[start]

    def files(self, job: Job) -> list[Path]:
        """The files under the helpers folder that ``job``'s report depends on, sorted (worked
        out once per notebook and language: a batch has many jobs of each)."""
        language = str(job.parameters.get("language") or "EN").lower()
        key = (job.notebook, language)
        if key not in self._files:
            self._files[key] = self._find_files(job.notebook, language)
        return self._files[key]

    def _find_files(self, notebook: Path, language: str) -> list[Path]:
        if notebook not in self._notebook_imports:
            self._notebook_imports[notebook] = self.notebook_modules(notebook)
        modules = self.closure(self._notebook_imports[notebook] | set(RENDERER))
        files = {self.file(m) for m in modules} | {self.root / "__init__.py"}
        for module in modules:
            for folder in RESOURCES.get(module, ()):
                files |= {f for f in (self.root / folder).rglob("*") if f.is_file()}
        if "helpers.i18n" in modules and language != "en":
            files |= set((self.root / "locale" / language).rglob("*.po"))
        return sorted(f for f in files if f and "__pycache__" not in f.parts)

    def fingerprint(self, job: Job) -> str:
        """Hash of the names and contents of :meth:`files`."""
        files = self.files(job)
        key = tuple(files)
        if key in self._fingerprints:
            return self._fingerprints[key]
        h = hashlib.sha256()
        for f in files:
            if f not in self._digests:
                self._digests[f] = hashlib.sha256(f.read_bytes()).digest()
            h.update(f.relative_to(self.root).as_posix().encode() + b"\0" + self._digests[f])
        self._fingerprints[key] = h.hexdigest()[:16]
        return self._fingerprints[key]


class Fingerprints:
    """Computes job fingerprints, each shared part once per run, and keeps the notebooks' text
    as read for them (the text the workers then run)."""

    def __init__(self) -> None:
        self.dependencies = Dependencies(HELPERS_DIR)
        self.environment = environment_fingerprint()
        self._data: dict[str, str] = {}
        self.sources: dict[Path, str] = {}
        self._notebooks: dict[Path, str] = {}

    def __call__(self, job: Job) -> dict[str, str]:
        data_dir = str(job.parameters.get("data_dir") or paths.PROCESSED)
        if data_dir not in self._data:
            self._data[data_dir] = data_fingerprint(data_dir)
        if job.notebook not in self._notebooks:
            self.sources[job.notebook] = job.notebook.read_text(encoding="utf-8")
            self._notebooks[job.notebook] = notebook_fingerprint(self.sources[job.notebook])
        return {"notebook": self._notebooks[job.notebook],
                "parameters": parameters_fingerprint(job.parameters),
                "data": self._data[data_dir], "helpers": self.dependencies.fingerprint(job),
                "environment": self.environment}


# --------------------------------------------------------------------------- plan
@dataclass
class Planned:
    """A job, its fingerprint, its previous results file, why it must run (empty: reuse) and
    the notebook's text the fingerprint was taken of."""

    job: Job
    fingerprint: dict[str, str]
    previous: dict[str, Any] | None
    reasons: list[str]
    source: str | None = None

    @property
    def up_to_date(self) -> bool:
        return not self.reasons


def _reasons(job: Job, fingerprint: dict[str, str], previous: dict[str, Any] | None,
             reports_dir: Path, force: bool) -> list[str]:
    if force:
        return ["forced"]
    if previous is None or not job.html_path(reports_dir).exists():
        return ["failed last time" if last_failure(previous) else "no report yet"]
    if previous.get("status") != "ok":
        return ["failed last time" if previous.get("status") else "no fingerprint yet"]
    if last_failure(previous) or job.error_path(reports_dir).exists():
        return ["failed last time"]  # the good report from before was kept
    before = previous.get("fingerprint") or {}
    return [f"{part} changed" for part in FINGERPRINT_PARTS
            if before.get(part) != fingerprint[part]]


def plan(jobs: Sequence[Job], reports_dir: Path = paths.REPORTS,
         force: bool = False) -> list[Planned]:
    """Fingerprint every job and compare with the results file already beside its report."""
    fingerprints = Fingerprints()
    planned = []
    for job in jobs:
        fp, previous = fingerprints(job), read_results(job, reports_dir)
        planned.append(Planned(job, fp, previous, _reasons(job, fp, previous, reports_dir, force),
                               fingerprints.sources[job.notebook]))
    return planned


def plan_json(planned: Sequence[Planned], reports_dir: Path) -> list[dict[str, Any]]:
    """The plan as ``--dry-run --json`` prints it."""
    return [{"notebook": display_path(p.job.notebook), "name": p.job.name,
             "parameters": p.job.parameters, "html": display_path(p.job.html_path(reports_dir)),
             "json": display_path(p.job.json_path(reports_dir)), "up_to_date": p.up_to_date,
             "reasons": p.reasons, "fingerprint": p.fingerprint} for p in planned]


# --------------------------------------------------------------------------- outcomes
@dataclass
class Outcome:
    """What a run did with one job: fresh (rendered now), reused, failed, or — for jobs outside
    ``--only`` — stale (out of date) or missing (never rendered)."""

    job: Job
    status: str
    seconds: float = 0.0
    error: str | None = None
    reasons: list[str] = field(default_factory=list)
    selected: bool = True
    not_applicable: str | None = None  # rendered as a "not applicable: needs …" page
    #: Seconds per step of a rendered report (:data:`helpers.batch.jobs.PHASES`) and, from the
    #: driver's clock, ``worker``: the forked worker's whole life, start-up and exit included.
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The status as the index and the summary show it."""
        return "not applicable" if self.not_applicable and self.status in ("fresh", "reused") \
            else self.status


def unselected(p: Planned) -> Outcome:
    failure = last_failure(p.previous)
    if failure:
        status = "failed"
    elif p.previous is None:
        status = "missing"
    else:
        status = "reused" if p.up_to_date else "stale"
    return Outcome(p.job, status, error=(failure or {}).get("error"), reasons=p.reasons,
                   selected=False, not_applicable=(p.previous or {}).get("not_applicable"))


def outcomes_json(outcomes: Sequence[Outcome], reports_dir: Path) -> list[dict[str, Any]]:
    """A run's outcomes as ``--json`` prints them."""
    return [{"notebook": display_path(o.job.notebook), "name": o.job.name,
             "parameters": o.job.parameters, "html": display_path(o.job.html_path(reports_dir)),
             "error_page": display_path(o.job.error_path(reports_dir))
             if o.job.error_path(reports_dir).exists() else None,
             "status": o.status, "seconds": round(o.seconds, 2), "error": o.error,
             "not_applicable": o.not_applicable, "reasons": o.reasons, "selected": o.selected}
            for o in outcomes]


def summary(outcomes: Sequence[Outcome], reports_dir: Path, seconds: float) -> str:
    """The closing lines of a run: counts, time, the index, and one line per failed report."""
    counts = {s: sum(o.label == s for o in outcomes)
              for s in ("fresh", "reused", "not applicable", "failed", "stale", "missing")}
    lines = [f"{len(outcomes)} reports: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
             + f" in {seconds:.1f} s; index: {display_path(reports_dir / 'index.html')}"]
    for o in outcomes:
        if o.status == "failed":
            kept = kept_report(o.job, reports_dir)
            when = time_label((kept or {}).get("rendered_at"))
            note = f"; the previous good report from {when} is kept" if kept else ""
            page = o.job.error_path(reports_dir)
            see = f"see {display_path(page)}" if page.exists() else "no error page written"
            lines.append(f"FAILED {o.job.key}: {last_line(o.error)}  ({see}{note})")
    return "\n".join(lines)


#: The name of the meta element that holds the index's state (written by
#: :func:`helpers.batch.index.write_index`; here, so that a run can read it without importing
#: the index's modules).
INDEX_STATE_META = "disconnect-lab-index-state"


def index_has_state(reports_dir: Path, state: str) -> bool:
    """Whether ``<reports_dir>/index.html`` exists and was written for ``state`` (read from the
    first kilobytes of the page, never parsed whole)."""
    try:
        with open(reports_dir / "index.html", encoding="utf-8", errors="replace") as fh:
            head = fh.read(2048)
    except OSError:
        return False
    return f'<meta name="{INDEX_STATE_META}" content="{state}">' in head


def last_line(text: str | None) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_results_file(path: Path) -> bool:
    """Whether ``<stem>/<name>.json`` is a results file this batch wrote for that very report."""
    doc = _read_json(path)
    return (isinstance(doc, dict) and isinstance(doc.get("notebook"), str)
            and file_stem(Path(doc["notebook"]).stem) == path.parent.name
            and file_stem(str(doc.get("name"))) == path.stem
            and "status" in doc and "provenance" in doc)


def _is_error_page(path: Path) -> bool:
    """Whether ``<stem>/<name>.error.html`` is an error page this batch wrote."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return ERROR_PAGE_MARKER in fh.read(4096)
    except OSError:
        return False


def _is_executed_notebook(path: Path) -> bool:
    """Whether ``<stem>/<name>.ipynb`` is a notebook papermill executed from ``<stem>.ipynb``."""
    nb = _read_json(path)
    meta = ((nb or {}).get("metadata") or {}).get("papermill") if isinstance(nb, dict) else None
    return isinstance(meta, dict) and file_stem(
        Path(str(meta.get("input_path") or "")).stem) == path.parent.name


REPORT_OUTPUTS = (".html", ".json", f"{ERROR_SUFFIX}.html")
EXECUTED_OUTPUTS = (".ipynb", f"{ERROR_SUFFIX}.ipynb", ".log")


def _evidence(folder: Path, suffix: str, check: Any, current: set[str] = frozenset()
              ) -> dict[str, Path]:
    """``<stem>/<name>`` -> folder for the files ``<folder>/<stem>/<name><suffix>`` that
    ``check`` confirms this batch wrote; files of the reports in ``current`` (case-folded
    keys) are never stale and not read (an executed notebook can be a megabyte of JSON)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.glob(f"*/*{suffix}")) if folder.exists() else []:
        name = path.name[: -len(suffix)]
        if name.startswith(".") or (suffix == ".ipynb" and name.endswith(ERROR_SUFFIX)):
            continue  # a temporary file, or <name>.error.ipynb (found with its own suffix)
        if f"{path.parent.name}/{name}".casefold() in current:
            continue
        if path.is_file() and check(path):
            found[f"{path.parent.name}/{name}"] = path.parent
    return found


def stale_reports(jobs: Sequence[Job], reports_dir: Path, executed_dir: Path
                  ) -> dict[str, list[Path]]:
    """``<stem>/<name>`` -> the files the batch wrote for each report no longer in ``jobs``.

    A report counts as written by the batch when one of its files says so: its results file
    (``<stem>/<name>.json`` naming that very report), its error page (``<name>.error.html``,
    marked) or an executed notebook papermill ran from ``<stem>.ipynb`` (``<name>.ipynb`` or
    ``<name>.error.ipynb``). Then every output of that report is listed: in the reports folder
    the page, the results file and the error page (when the reports folder holds the evidence);
    in the executed folder the executed notebooks and the worker's log. Any other file is never
    listed, nor a report of a job in ``jobs`` (names compared as file names, case ignored).
    """
    keys = {job.file_key.casefold() for job in jobs}
    in_reports = _evidence(reports_dir, ".json", _is_results_file, keys) | _evidence(
        reports_dir, f"{ERROR_SUFFIX}.html", _is_error_page, keys)
    in_executed = _evidence(executed_dir, ".ipynb", _is_executed_notebook, keys) | _evidence(
        executed_dir, f"{ERROR_SUFFIX}.ipynb", _is_executed_notebook, keys)
    stale: dict[str, list[Path]] = {}
    for key in sorted(set(in_reports) | set(in_executed)):
        if key.casefold() in keys:
            continue
        folder, name = key.split("/", 1)
        candidates = [reports_dir / folder / f"{name}{s}" for s in REPORT_OUTPUTS] \
            if key in in_reports else []
        candidates += [executed_dir / folder / f"{name}{s}" for s in EXECUTED_OUTPUTS]
        files = [f for f in candidates if f.is_file()]
        if files:
            stale[key] = files
    return stale


def stale_outputs(jobs: Sequence[Job], reports_dir: Path, executed_dir: Path) -> list[Path]:
    """The files the batch wrote for reports no longer in ``jobs`` (what a run will remove);
    see :func:`stale_reports`."""
    return [f for files in stale_reports(jobs, reports_dir, executed_dir).values() for f in files]


def remove_stale_reports(jobs: Sequence[Job], reports_dir: Path, executed_dir: Path
                         ) -> list[Path]:
    """Remove the outputs of reports no longer in the batch (:func:`stale_outputs`); call under
    the lock. Returns the files removed; folders left empty are removed too.

    A job disappears from the plan when the data no longer has its segment (a synthetic country
    the user's survey lacks, a segment a withdrawn respondent emptied) or the batch file
    changed. Its report would otherwise stay in ``reports/`` and ``build/`` — the folders a
    researcher zips and sends — without being in the index.
    """
    removed = []
    for f in stale_outputs(jobs, reports_dir, executed_dir):
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
            removed.append(f)
    for folder in {f.parent for f in removed}:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty
    return removed


def longest_first(todo: Sequence[Planned]) -> list[Planned]:
    """Order jobs by their last duration, longest first, so that no long report starts last.

    Jobs never rendered get the mean duration of their notebook's other reports (else 0).
    """
    known: dict[str, list[float]] = {}
    for p in todo:
        if (p.previous or {}).get("seconds") is not None:
            known.setdefault(p.job.stem, []).append(float(p.previous["seconds"]))

    def expected(p: Planned) -> float:
        if (p.previous or {}).get("seconds") is not None:
            return float(p.previous["seconds"])
        same = known.get(p.job.stem)
        return sum(same) / len(same) if same else 0.0

    return sorted(todo, key=expected, reverse=True)

