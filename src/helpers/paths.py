"""Where the project's files live.

The project root is found from the installed (editable) package location, and can be overridden with
the ``DISCONNECT_LAB_ROOT`` environment variable (e.g. to point a notebook at a copy of the project).
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The directory holding ``pyproject.toml``, ``data/`` and ``notebooks/``."""
    env = os.environ.get("DISCONNECT_LAB_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


ROOT = project_root()
DATA = ROOT / "data"
RAW = DATA / "raw"
SAMPLE = RAW / "sample"
PROCESSED = DATA / "processed"
REFERENCE = DATA / "reference"
CODEBOOK = DATA / "codebook.yaml"
NOTEBOOKS = ROOT / "notebooks"
REPORTS = ROOT / "reports"
