"""Cheap "nothing changed" checks by file size and modification time, for commands that run on
every ``make`` (issue 14: a no-op ``make reports`` under half a second).

The thorough check — ``build-data`` hashing every input and output (:mod:`helpers.processing`)
— needs pandas and reads every byte. After it has passed once, :func:`remember` keeps, under
``build/cache/<name>.json``, what it was given, the size and time of every file it depends on,
and the environment variables that chose those files; :func:`unchanged` then answers "same as
last time" from ``stat`` calls alone, importing nothing heavy. Any difference (a file touched,
added or removed, another argument, another variable) sends the caller back to the thorough
check, so a stale answer needs a file changed without its size or nanosecond time changing.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from helpers import paths

CACHE = paths.ROOT / "build" / "cache"


def _files(path: Path) -> list[Path]:
    """``path`` itself, or every file under it when it is a folder."""
    if path.is_dir():
        return sorted(f for f in path.rglob("*") if f.is_file())
    return [path]


def stats(files: Iterable[str | Path | None]) -> dict[str, Any]:
    """Path → [size, nanosecond mtime] (None for a file that does not exist) of ``files``
    (folders: each file under them)."""
    out: dict[str, Any] = {}
    for given in files:
        if given is None:
            continue
        for f in _files(Path(given)):
            try:
                st = f.stat()
                out[str(f)] = [st.st_size, st.st_mtime_ns]
            except OSError:
                out[str(f)] = None
    return out


def _record_path(name: str, folder: Path | None = None) -> Path:
    return (folder or CACHE) / f"{name}.json"


def remember(name: str, given: Mapping[str, Any], files: Iterable[str | Path | None],
             env: Iterable[str] = (), folder: Path | None = None) -> None:
    """Keep what a thorough check that passed was ``given``, the state of the ``files`` it
    depends on (a folder: every file under it, so a file added to it is a change) and the
    values of the environment variables ``env``. Best effort (a read-only project just never
    takes the shortcut)."""
    inputs = [str(f) for f in files if f is not None]
    record = {"given": _plain(given), "inputs": inputs, "files": stats(inputs),
              "env": {k: os.environ.get(k) for k in env}}
    target = _record_path(name, folder)
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, target)


def unchanged(name: str, given: Mapping[str, Any], folder: Path | None = None) -> bool:
    """Whether the last thorough check :func:`remember`-ed was given the same, and every file
    and environment variable it recorded is as it was then."""
    try:
        record = json.loads(_record_path(name, folder).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or not record.get("inputs"):
        return False
    if record.get("given") != _plain(given):
        return False
    if any(os.environ.get(k) != v for k, v in (record.get("env") or {}).items()):
        return False
    return stats(record["inputs"]) == record.get("files")


def forget(name: str, folder: Path | None = None) -> None:
    """Drop the record (the next call does the thorough check)."""
    with contextlib.suppress(OSError):
        _record_path(name, folder).unlink()


def _plain(value: Any) -> Any:
    """``value`` as JSON reads it back (paths as text), so records compare equal."""
    return json.loads(json.dumps(value, default=str))
