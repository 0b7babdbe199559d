"""Atomic file output: write to a temporary file in the target directory, then rename.

A reader (or the next run after an interruption) sees either the old complete file or the new complete
file, never a truncated one. ``os.replace`` is atomic on POSIX when source and target share a
filesystem, which is why the temporary file is created beside the target.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed onto ``target``.

    On any exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
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


def write_text(target: str | Path, text: str) -> None:
    """Atomically write a text file (UTF-8)."""
    with atomic_open(target, "w") as fh:
        fh.write(text)


def write_parquet(df: Any, target: str | Path) -> None:
    """Atomically write a pandas DataFrame as Parquet."""
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False)
