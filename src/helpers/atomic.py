"""Atomic file output: write to a temporary file in the target directory, then rename.

A reader (or the next run after an interruption) sees either the old complete file or the new complete
file, never a truncated one. ``os.replace`` is atomic on POSIX when source and target share a
filesystem, which is why the temporary file is created beside the target. :func:`write_texts`
writes several files as one change (a report and its results file): every temporary file is
written and synced first, and only then are they renamed, so that a full disk (which surfaces
while writing or syncing, not while renaming) leaves every target as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any


def _naming(exc: OSError, target: Path, tmp: Path | None) -> OSError:
    """The error naming the target rather than nothing or the temporary file (a write or a sync
    that fails for a full disk names no file), so that messages say which output failed."""
    if exc.filename is None or (tmp is not None and str(exc.filename) == str(tmp)):
        exc.filename = str(target)
    return exc


def _temporary(target: Path) -> Path:
    """An empty temporary file beside ``target`` (its folder created if needed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    return Path(tmp)


def _sync(tmp: Path) -> None:
    """Flush a finished temporary file to disk and give it the usual permissions."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed onto ``target``.

    On any exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    try:
        tmp_path = _temporary(target)
    except OSError as exc:
        raise _naming(exc, target, None) from None
    try:
        yield tmp_path
        _sync(tmp_path)
        os.replace(tmp_path, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(exc, OSError):
            _naming(exc, target, tmp_path)
        raise


@contextlib.contextmanager
def atomic_open(target: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing that replaces ``target`` when the block succeeds."""
    if "w" not in mode:
        raise ValueError("atomic_open is for writing only")
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(target) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh


def write_texts(files: Mapping[str | Path, str]) -> None:
    """Write several UTF-8 text files as one change, in the given order.

    Every file is first written and synced to a temporary file beside its target; only when all
    of them are on disk are they renamed into place. A failure before that point (a full disk,
    a permission problem, an interruption) removes the temporary files and leaves every target
    as it was.
    """
    staged: list[tuple[Path, Path]] = []
    current: tuple[Path | None, Path] | None = None
    try:
        for target, text in files.items():
            current = (None, Path(target))
            tmp = _temporary(Path(target))
            staged.append((tmp, Path(target)))
            current = (tmp, Path(target))
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
            _sync(tmp)
        for tmp, target in staged:
            current = (tmp, target)
            os.replace(tmp, target)
    except BaseException as exc:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if isinstance(exc, OSError) and current is not None:
            _naming(exc, current[1], current[0])
        raise


def write_text(target: str | Path, text: str) -> None:
    """Atomically write a text file (UTF-8)."""
    write_texts({target: text})


def write_parquet(df: Any, target: str | Path) -> None:
    """Atomically write a pandas DataFrame as Parquet."""
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False)
