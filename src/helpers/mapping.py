"""Rename source columns to codebook item ids and recode answer labels to values.

Raw exports name their columns after the survey tool (Qualtrics ``Q1_1``, SPSS ``v12``) and
often hold answer *labels* ("Agree", "Marketingleiter") instead of codes.  A mapping file says
how one export maps onto the codebook, so the same processing code serves every wave and tool.

Mapping file (YAML)::

    source: "Qualtrics export of wave 2"      # optional, free text
    columns:                                   # source column -> target column
      Q1_1: imp_1
      ResponseId: respondent_id
      Q_role: role
    recode:                                    # per TARGET column: label -> value
      role: {"Chief Marketing Officer": CMO, "Marketingleiter": CMO, "IT-chef": CIO}
      imp_1: {"Strongly disagree": 1, "Disagree": 2, "Neither agree nor disagree": 3,
              "Agree": 4, "Strongly agree": 5, "Don't know": null}
    value_labels: true   # optional: recode labels to codes with the file's own value labels
    drop: [IPAddress, RecipientEmail]          # optional: source columns to drop

Rules applied by :func:`apply_mapping` (which returns a new frame and never mutates its input):

* ``columns`` renames; columns not listed keep their names.  A listed source column that is
  absent from the data is an error (rule ``mapping-column-missing``); ``drop`` ignores absent
  columns.  A target may be used only once and may not collide with a kept column.
* Labels match case-insensitively with whitespace trimmed and collapsed; numbers match
  numerically ("4" matches 4).  A label mapped to ``null`` becomes missing.  With
  ``value_labels: true`` the file's value labels (``df.attrs["value_labels"]``, e.g. from SPSS)
  turn labels back into codes; explicit ``recode`` entries win over them.
* A value that is neither a known label nor already a valid target value is left unchanged for
  validation to report, and listed in ``out.attrs["unmapped_labels"]`` (column -> sorted
  values).  Numeric codes in a column recoded only through value labels count as valid.
* A ``role`` column is always normalised to ``CMO``/``CIO`` after the recodes: numeric codes
  with a value label are replaced by their label, then :func:`normalise_role` applies.
* Per-column attrs (``question_text``, ``value_labels``, ``missing_codes``, ``import_ids``)
  follow the renames; ``attrs["mapping"]`` records the mapping file.

YAML notes: only ``true``/``false`` are booleans, so labels such as ``Yes``, ``No``, ``On`` stay
text; a key given twice is an error instead of silently keeping the last one; quote column
names that look like numbers (``"2_1"``), which YAML would otherwise read as integers.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from helpers.errors import DataError, Issue
from helpers.io import PER_COLUMN_ATTRS

TOP_LEVEL_KEYS = ("source", "columns", "recode", "value_labels", "drop")
ROLE_COLUMN = "role"

ROLE_LABELS = {
    "CMO": (
        "CMO", "Chief Marketing Officer", "Marketing", "Head of Marketing", "Marketing Director",
        "Director of Marketing", "Marketingleiter", "Marketingleiterin", "Leiter Marketing",
        "Leiterin Marketing", "Marketingdirektor", "Marketingdirektorin", "Marketingchef",
        "Marketingchefin", "Marketingdirecteur", "Directeur Marketing", "Hoofd Marketing",
        "Marketingdirektør", "Marketingleder",
    ),
    "CIO": (
        "CIO", "Chief Information Officer", "IT", "Information Technology", "Head of IT",
        "IT Director", "Director of IT", "IT-Leiter", "IT-Leiterin", "Leiter IT", "Leiterin IT",
        "IT-Direktor", "IT-Direktorin", "IT-Chef", "IT-Chefin", "IT-directeur", "Directeur IT",
        "Hoofd IT", "IT-direktør", "IT-leder",
    ),
}


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file; see the module docstring for the meaning of each field."""

    columns: dict[str, str] = field(default_factory=dict)
    recode: dict[str, dict[Any, Any]] = field(default_factory=dict)
    value_labels: bool = False
    drop: tuple[str, ...] = ()
    source: str | None = None
    path: str | None = None


# --- loading ----------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads only true/false as booleans and rejects duplicate keys."""


_BOOL_TAG = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def _unique_keys(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    """Construct a YAML mapping, refusing a key that occurs twice."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_keys)


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file; every problem is a DataError naming the file."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise DataError("mapping file does not exist", file=file, rule="file-not-found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the mapping file: {exc}", file=file,
                        rule="unreadable-file", hint="save it as UTF-8 text") from exc
    try:
        raw = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        raise DataError(f"invalid YAML: {exc}", file=file, rule="mapping-yaml",
                        hint="check indentation, colons and quotes at the position shown") from exc
    return _parse(raw, file)


def _parse(raw: Any, file: str) -> Mapping:
    """Check the structure of the loaded YAML and build the Mapping."""
    if raw is None:
        raise DataError("the mapping file is empty", file=file, rule="empty-file")
    if not isinstance(raw, dict):
        raise _structure(file, "the file must be a YAML mapping with keys "
                         + ", ".join(TOP_LEVEL_KEYS))
    unknown = sorted(str(k) for k in raw if k not in TOP_LEVEL_KEYS)
    if unknown:
        raise DataError(f"unknown top-level key(s) {unknown}", file=file,
                        rule="mapping-unknown-key",
                        hint=f"allowed keys: {', '.join(TOP_LEVEL_KEYS)}")
    columns = _parse_columns(raw.get("columns") or {}, file)
    drop = _parse_drop(raw.get("drop") or [], file)
    both = sorted(set(drop) & set(columns))
    if both:
        raise DataError(f"column(s) {both} are both renamed and dropped", file=file,
                        column=both[0], rule="mapping-conflict",
                        hint="remove them from 'columns' or from 'drop'")
    value_labels = raw.get("value_labels", False)
    if not isinstance(value_labels, bool):
        raise _structure(file, "'value_labels' must be true or false")
    source = raw.get("source")
    return Mapping(columns=columns, recode=_parse_recode(raw.get("recode") or {}, file),
                   value_labels=value_labels, drop=drop,
                   source=None if source is None else str(source), path=file)


def _structure(file: str, message: str, column: str | None = None) -> DataError:
    """DataError for a mapping file whose YAML has the wrong shape."""
    return DataError(message, file=file, column=column, rule="mapping-structure",
                     hint="see the mapping file format in the helpers.mapping docstring")


def _name(value: Any) -> str | None:
    """A column name given as a YAML scalar, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip() or None


def _parse_columns(raw: Any, file: str) -> dict[str, str]:
    """``columns``: source -> target names, each target used once."""
    if not isinstance(raw, dict):
        raise _structure(file, "'columns' must be a mapping of source column -> target column")
    columns: dict[str, str] = {}
    for source, target in raw.items():
        source_name, target_name = _name(source), _name(target)
        if source_name is None or target_name is None:
            raise _structure(file, f"'columns' entry {source!r}: {target!r} must map a column "
                             "name to a column name", column=str(source))
        if target_name in columns.values():
            others = [s for s, t in columns.items() if t == target_name]
            raise DataError(f"target '{target_name}' is used for {others + [source_name]}",
                            file=file, column=target_name, rule="mapping-duplicate-target",
                            hint="each target column may come from one source column only")
        columns[source_name] = target_name
    return columns


def _parse_drop(raw: Any, file: str) -> tuple[str, ...]:
    """``drop``: a list of source column names."""
    names = [_name(item) for item in raw] if isinstance(raw, list) else [None]
    if None in names:
        raise _structure(file, "'drop' must be a list of column names")
    return tuple(name for name in names if name is not None)


def _parse_recode(raw: Any, file: str) -> dict[str, dict[Any, Any]]:
    """``recode``: per target column a mapping label -> scalar value (null = missing)."""
    if not isinstance(raw, dict):
        raise _structure(file, "'recode' must map target columns to label -> value mappings")
    recode: dict[str, dict[Any, Any]] = {}
    for column, labels in raw.items():
        name = _name(column)
        if name is None or not isinstance(labels, dict):
            raise _structure(file, f"'recode' entry {column!r} must be a mapping of "
                             "label -> value", column=str(column))
        for label, value in labels.items():
            if isinstance(label, list | dict) or isinstance(value, list | dict):
                raise _structure(file, f"recode label {label!r} -> {value!r} must map a text "
                                 "or number to a text, number or null", column=name)
        _check_labels_unique(labels, name, file)
        recode[name] = dict(labels)
    return recode


def _check_labels_unique(labels: dict[Any, Any], column: str, file: str) -> None:
    """Labels equal up to case and whitespace must not map to different values."""
    seen: dict[Any, tuple[Any, Any]] = {}
    for label, value in labels.items():
        key = _key(label)
        if key in seen and seen[key][1] != value:
            raise DataError(f"labels {seen[key][0]!r} and {label!r} match the same answers but "
                            f"map to {seen[key][1]!r} and {value!r}", file=file, column=column,
                            rule="mapping-duplicate-label",
                            hint="labels are matched ignoring case and surrounding whitespace")
        seen[key] = (label, value)


# --- applying ---------------------------------------------------------------------------------


def apply_mapping(df: pd.DataFrame, mapping: Mapping | str | Path) -> pd.DataFrame:
    """Return a new frame with the mapping's drops, renames and recodes applied."""
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    _check_sources(df, mapping)
    renames = dict(mapping.columns)
    out = df.drop(columns=[c for c in mapping.drop if c in df]).rename(columns=renames)
    _check_targets(out, mapping)
    attrs = _renamed_attrs(df.attrs, renames, set(mapping.drop))
    unmapped: dict[str, list[Any]] = {}
    for column in out.columns:
        result = _recode_column(out[column], str(column), mapping, attrs["value_labels"])
        if result is not None:
            out[column], unmatched = result
            if unmatched:
                unmapped[str(column)] = unmatched
    attrs["unmapped_labels"] = unmapped
    if mapping.path:
        attrs["mapping"] = mapping.path
    out.attrs = attrs
    return out


def _check_sources(df: pd.DataFrame, mapping: Mapping) -> None:
    """Every source column in ``columns`` and every recoded column must exist in the data."""
    source = df.attrs.get("source", "the data")
    after = (set(df.columns) - set(mapping.columns) - set(mapping.drop)
             | set(mapping.columns.values()))
    issues = [Issue(rule="mapping-column-missing", file=mapping.path, column=column,
                    message=f"'columns' names source column '{column}', which is not in {source}",
                    hint=_similar(column, df.columns))
              for column in mapping.columns if column not in df.columns]
    issues += [Issue(rule="mapping-column-missing", file=mapping.path, column=column,
                     message=f"'recode' names column '{column}', which is not in {source} "
                     "after renaming", hint="recode keys are TARGET column names")
               for column in mapping.recode if column not in after]
    if issues:
        raise DataError(issues=issues)


def _similar(column: str, columns: pd.Index) -> str:
    """Hint naming data columns that look like a misspelt mapping entry."""
    close = difflib.get_close_matches(column, [str(c) for c in columns], n=3, cutoff=0.6)
    if close:
        return f"did you mean {' or '.join(repr(c) for c in close)}? Names are case-sensitive"
    return f"the data have {len(columns)} columns; fix the name or remove the entry"


def _check_targets(out: pd.DataFrame, mapping: Mapping) -> None:
    """A renamed column must not collide with a column that kept its name."""
    duplicated = sorted({str(c) for c in out.columns[out.columns.duplicated()]})
    if duplicated:
        raise DataError(f"renaming creates duplicate column '{duplicated[0]}'",
                        file=mapping.path, column=duplicated[0], rule="mapping-duplicate-target",
                        hint="the data already have a column with that name; drop or rename it")


def _renamed_attrs(attrs: dict[str, Any], renames: dict[str, str],
                   dropped: set[str]) -> dict[str, Any]:
    """A deep copy of attrs whose per-column entries follow renames and drops."""
    out = copy.deepcopy(attrs)
    for key in PER_COLUMN_ATTRS:
        if isinstance(out.get(key), dict):
            out[key] = {renames.get(c, c): v for c, v in out[key].items() if c not in dropped}
    if not isinstance(out.get("value_labels"), dict):  # absent, or set by hand to something else
        out["value_labels"] = {}
    return out


def _recode_column(series: pd.Series, column: str, mapping: Mapping,
                   value_labels: dict[str, dict[Any, str]]) -> tuple[pd.Series, list[Any]] | None:
    """Recode one column, or None when no rule applies to it."""
    labels = value_labels.get(column)
    labels = labels if isinstance(labels, dict) else {}
    explicit = mapping.recode.get(column)
    if column == ROLE_COLUMN:
        return _recode(series, _lookup(explicit or {}), _role_fallback(labels))
    lookup: dict[Any, Any] = {}
    if mapping.value_labels and labels:
        lookup = _lookup({label: code for code, label in labels.items()
                          if isinstance(label, Hashable)})
    if explicit is None and not lookup:
        return None
    lookup.update(_lookup(explicit or {}))
    return _recode(series, lookup, None if explicit else _number_or_none)


def _lookup(labels: dict[Any, Any]) -> dict[Any, Any]:
    """Normalised label -> value, plus every value -> itself (already recoded data)."""
    lookup = {_key(v): v for v in labels.values() if v is not None}
    lookup.update({_key(label): value for label, value in labels.items()})
    return lookup


def _recode(series: pd.Series, lookup: dict[Any, Any],
            fallback: Callable[[Any], Any] | None) -> tuple[pd.Series, list[Any]]:
    """Replace values found in ``lookup`` (then by ``fallback``); collect the rest."""
    values: list[Any] = []
    unmatched: set[Any] = set()
    for value in series:
        if _is_missing(value):
            values.append(np.nan)
        elif (key := _key(value)) in lookup:
            values.append(np.nan if lookup[key] is None else lookup[key])
        elif fallback is not None and (found := fallback(value)) is not None:
            values.append(found)
        else:
            values.append(value)
            unmatched.add(value.item() if isinstance(value, np.generic) else value)
    result = pd.Series(values, index=series.index, name=series.name, dtype=object)
    if result.dropna().map(_is_number).all():
        try:
            result = pd.to_numeric(result)
        except OverflowError:  # an integer beyond the float range: keep the values as they are
            pass
    return result, sorted(unmatched, key=_sort_key)


def _role_fallback(labels: dict[Any, str]) -> Callable[[Any], str | None]:
    """Role resolver: a coded value becomes its label, then the label its role."""
    by_code = {_key(code): label for code, label in labels.items()}

    def resolve(value: Any) -> str | None:
        return _role_of(by_code.get(_key(value), value))

    return resolve


def _number_or_none(value: Any) -> Any:
    """The value itself when it is a number (a code needs no value label), else None."""
    return value if _is_number(value) else None


def _is_missing(value: Any) -> bool:
    """True for None and NaN-like scalars."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _is_number(value: Any) -> bool:
    """True for int/float values (not bools)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_)


def _key(value: Any) -> tuple[str, Any]:
    """Comparison key: numbers (also numeric text) by value, text by casefolded words."""
    if _is_number(value):
        return ("number", _float(value))
    text = " ".join(str(value).split())
    try:
        return ("number", float(text))
    except ValueError:
        return ("text", text.casefold())


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers first (numerically), then text."""
    return (0, _float(value), "") if _is_number(value) else (1, 0.0, str(value))


def _float(value: Any) -> Any:
    """A number as float; an integer beyond the float range stays an int (it equals no float)."""
    try:
        return float(value)
    except OverflowError:
        return value


# --- roles ------------------------------------------------------------------------------------


def _role_key(label: str) -> str:
    """Letters and digits only, casefolded: "IT-Leiter " and "it leiter" compare equal."""
    return re.sub(r"[\W_]+", "", label.casefold())


_ROLE_BY_KEY = {_role_key(label): role for role, labels in ROLE_LABELS.items() for label in labels}


def _role_of(value: Any) -> str | None:
    """CMO/CIO for a known role label (also "Chief Marketing Officer (CMO)"), else None."""
    if not isinstance(value, str):
        return None
    for text in (value, re.sub(r"\(.*?\)", " ", value), *re.findall(r"\((.*?)\)", value)):
        role = _ROLE_BY_KEY.get(_role_key(text))
        if role:
            return role
    return None


def normalise_role(series: pd.Series) -> pd.Series:
    """Map mixed-case, multilingual role labels to CMO/CIO; leave unknown values unchanged.

    Unknown values (e.g. "CTO", which is not a CIO) are kept so that validation reports them.
    """
    return series.map(lambda value: _role_of(value) or value).astype(object)
