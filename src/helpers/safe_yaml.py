"""The one YAML loader for every YAML file the project reads (mapping, codebook, reports.yaml).

``yaml.safe_load`` builds no Python objects from tags, but it still accepts a document whose
aliases nest ("billion laughs": ten anchors that each repeat the previous one ten times). PyYAML
shares the repeated nodes, so loading is fast, but anything that walks the result afterwards (a
message quoting a value, ``json.dumps`` of batch parameters, a copy) expands it: a 1 KB file
became a 33 s stall and a ``MemoryError``. :class:`SafeLoader` therefore counts the document as
it would be expanded -- every alias counted at every place it is used -- and refuses it beyond
:data:`MAX_NODES` nodes; it also refuses an alias that refers to itself (a recursive document)
and files larger than :data:`MAX_BYTES`. Anchors and aliases of normal size (a shared block of
parameters in ``reports.yaml``) keep working.

Both limits can be raised for one process through the environment variables
``DISCONNECT_LAB_YAML_MAX_NODES`` and ``DISCONNECT_LAB_YAML_MAX_MB``. Every problem becomes a
:class:`~helpers.errors.DataError` naming the file (:func:`load_yaml`); YAML syntax errors quote
at most a short snippet of the file.

This module imports only PyYAML, so light modules (the batch runner) can use it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from helpers.errors import DataError, shorten

MAX_NODES_ENV = "DISCONNECT_LAB_YAML_MAX_NODES"
MAX_MB_ENV = "DISCONNECT_LAB_YAML_MAX_MB"
MAX_NODES = 500_000  # scalars, lists and mappings once aliases are expanded
MAX_BYTES = 10_000_000  # a mapping, codebook or batch file is a few kilobytes


class YAMLLimitError(yaml.YAMLError):
    """The document is too large once its aliases are expanded, or refers to itself."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def max_nodes() -> int:
    """The node limit: ``DISCONNECT_LAB_YAML_MAX_NODES`` when set, else :data:`MAX_NODES`."""
    return _env_number(MAX_NODES_ENV, MAX_NODES, 1)


def max_bytes() -> int:
    """The file-size limit in bytes: ``DISCONNECT_LAB_YAML_MAX_MB`` (megabytes) when set."""
    return _env_number(MAX_MB_ENV, MAX_BYTES, 1_000_000)


def _env_number(name: str, default: int, unit: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise DataError(f"{name} must be a number, not {raw[:40]!r}", rule="configuration",
                        hint=f"unset it to use the default ({default // unit})") from None
    return max(1, int(value * unit))


class SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses documents too large once aliases are expanded.

    Subclass it (as :mod:`helpers.mapping` does) to change how scalars are read; the limit
    applies to every subclass.
    """

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        check_expanded_size(node, max_nodes())
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check_expanded_size(root: yaml.Node, limit: int) -> int:
    """The number of nodes of ``root`` with every alias expanded; raises :class:`YAMLLimitError`
    above ``limit`` or for an alias inside its own anchor. Each distinct node is visited once,
    so the check takes time in proportion to the file, not to its expansion."""
    sizes: dict[int, int] = {}
    ancestors: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            ancestors.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            if size > limit:
                mark = node.start_mark
                where = f" (the block starting on line {mark.line + 1})" if mark else ""
                raise YAMLLimitError(
                    f"the document expands to more than {limit:,} values once its aliases "
                    f"(*name) are resolved{where}: nested aliases ('billion laughs') are refused",
                    hint="write the values out instead of nesting aliases (&name / *name); the "
                         f"limit ({limit:,} values) can be raised with {MAX_NODES_ENV}")
            sizes[key] = size
            continue
        if key in sizes:
            continue
        ancestors.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in ancestors:
                mark = child.start_mark
                where = f" on line {mark.line + 1}" if mark else ""
                raise YAMLLimitError(f"an alias refers to the block that contains it{where}: "
                                     "a recursive document is refused",
                                     hint="an alias (*name) may only repeat a block defined "
                                          "before it, outside it")
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def load_text(text: str, *, file: str | None, rule: str, what: str = "YAML file",
              loader: type[SafeLoader] = SafeLoader) -> Any:
    """Parse YAML ``text`` with ``loader``; any problem is a DataError naming ``file``."""
    try:
        return yaml.load(text, Loader=loader)  # a SafeLoader subclass: no arbitrary objects
    except YAMLLimitError as exc:
        raise DataError(f"the {what} is refused: {exc}", file=file, rule="yaml-too-large",
                        hint=exc.hint) from None
    except yaml.YAMLError as exc:
        raise DataError(f"not valid YAML: {shorten(str(exc), 600)}", file=file, rule=rule,
                        hint="check indentation, colons and quotes at the position shown"
                        ) from None
    except RecursionError:  # a document nested thousands of levels deep
        raise DataError(f"the {what} is nested too deeply to read", file=file,
                        rule="yaml-too-large", hint="a configuration file needs a few levels "
                        "of nesting; check that it is the right file") from None


def load_yaml(path: str | Path, *, rule: str, what: str = "YAML file",
              loader: type[SafeLoader] = SafeLoader) -> Any:
    """Read and parse a YAML file (UTF-8, a BOM allowed) with the limits above.

    A missing or unreadable file, a file over :func:`max_bytes`, invalid YAML and a document
    over the node limit each raise :class:`~helpers.errors.DataError` naming the file; ``rule``
    names invalid YAML (e.g. ``mapping-yaml``).
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > max_bytes():
            raise DataError(f"the {what} is {size / 1e6:.1f} MB, more than the "
                            f"{max_bytes() / 1e6:g} MB a configuration file may have",
                            file=str(file), rule="yaml-too-large",
                            hint=f"check that it is the right file (the limit can be raised "
                                 f"with {MAX_MB_ENV})")
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"the {what} does not exist", file=str(file),
                        rule="file-not-found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the {what}: {shorten(str(exc), 200)}", file=str(file),
                        rule="unreadable-file", hint="save it as UTF-8 text") from None
    return load_text(text, file=str(file), rule=rule, what=what, loader=loader)
